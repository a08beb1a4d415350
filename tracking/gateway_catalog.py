"""The AI gateway's provider catalog: which providers exist, their models, their credential forms.

Read from tracking/gateway_catalog.json.gz, which `manage.py generate_gateway_catalog` copies
from the mlflow package (the server never imports mlflow).
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

from tracking.errors import InvalidParameterValue

CATALOG_PATH = Path(__file__).resolve().parent / "gateway_catalog.json.gz"


@cache
def _catalog() -> dict[str, Any]:
    return json.loads(gzip.decompress(CATALOG_PATH.read_bytes()))


@cache
def _provider_set() -> frozenset[str]:
    return frozenset(_catalog()["providers"])


def providers() -> list[str]:
    return list(_catalog()["providers"])


def models(provider: str | None = None) -> list[dict[str, Any]]:
    every = _catalog()["models"]
    return [model for model in every if model.get("provider") == provider] if provider else list(every)


def check_provider(provider: str) -> str:
    """The provider if the gateway supports it; INVALID_PARAMETER_VALUE naming it otherwise."""
    if provider not in _provider_set():
        raise InvalidParameterValue(
            f"Unsupported provider '{provider}'. Supported providers are listed at "
            "/ajax-api/3.0/mlflow/gateway/supported-providers."
        )
    return provider


# Other names the UI may send for a provider whose credential form is the catalog's.
PROVIDER_ALIASES = {
    "amazon-bedrock": "bedrock",
    "bedrock_converse": "bedrock",
    "databricks-model-serving": "databricks",
}


def provider_config(provider: str) -> dict[str, Any]:
    """The credential form of `provider`: the catalog's, or (as MLflow answers a provider it has
    no form for, e.g. an OpenAI-compatible one) a generic API key and base URL."""
    if not provider:
        raise InvalidParameterValue("Provider parameter is required")
    name = provider.lower()
    name = PROVIDER_ALIASES.get(name, name)
    known = _catalog()["provider_configs"].get(name)
    return known if known is not None else _api_key_form(name)


def _api_key_form(provider: str) -> dict[str, Any]:
    title = provider.title()
    return {
        "auth_modes": [
            {
                "mode": "api_key",
                "display_name": "API Key",
                "description": f"Use {title} API Key",
                "secret_fields": [
                    {"name": "api_key", "type": "string", "description": f"{title} API Key", "required": True}
                ],
                "config_fields": [
                    {
                        "name": "api_base",
                        "type": "string",
                        "description": f"{title} API Base URL",
                        "required": False,
                    }
                ],
            }
        ],
        "default_mode": "api_key",
    }
