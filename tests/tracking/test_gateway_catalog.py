"""The gateway's provider catalog is the one the installed mlflow ships (regenerate it when not)."""

from __future__ import annotations

import pytest

from tracking import gateway_catalog
from tracking.errors import InvalidParameterValue


@pytest.fixture
def mlflow_providers(monkeypatch):
    monkeypatch.setenv("MLFLOW_MODEL_CATALOG_URI", "")  # the bundled catalog: no network
    from mlflow.utils import providers

    return providers


def test_the_catalog_matches_the_installed_mlflow(mlflow_providers):
    hint = "run `manage.py generate_gateway_catalog`"
    assert gateway_catalog.providers() == sorted(mlflow_providers.get_all_providers()), hint
    assert gateway_catalog.models("anthropic") == mlflow_providers.get_models(provider="anthropic"), hint
    assert gateway_catalog.provider_config("bedrock") == mlflow_providers.get_provider_config_response(
        "bedrock"
    )


def test_an_unknown_provider_cannot_be_configured_but_has_a_generic_credential_form(mlflow_providers):
    with pytest.raises(InvalidParameterValue, match="Unsupported provider 'made-up'"):
        gateway_catalog.check_provider("made-up")
    with pytest.raises(InvalidParameterValue, match="Provider parameter is required"):
        gateway_catalog.provider_config("")
    for provider in ("made-up", "Amazon-Bedrock", "bedrock_converse", "OpenAI"):
        assert gateway_catalog.provider_config(provider) == mlflow_providers.get_provider_config_response(
            provider
        ), provider
