"""The AI gateway's provider catalog, as the UI asks for it (ajax routes MLflow adds besides its RPCs).

Which providers can be configured, their models and the fields of their credentials, from
tracking.gateway_catalog; and whether secrets can be kept (always: see tracking.secrets).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from tracking import gateway_catalog

from ..router import ApiCall, extra_route, rpc

extra_route("GET", "/mlflow/gateway/supported-providers", 3, "mlflow.gateway.ListSupportedProviders")
extra_route("GET", "/mlflow/gateway/supported-models", 3, "mlflow.gateway.ListSupportedModels")
extra_route("GET", "/mlflow/gateway/provider-config", 3, "mlflow.gateway.GetProviderConfig")
extra_route("GET", "/mlflow/gateway/secrets/config", 3, "mlflow.gateway.GetSecretsConfig")


def _query(request: HttpRequest, name: str) -> str:
    return request.GET.get(name, "")


@rpc("mlflow.gateway.ListSupportedProviders")
def list_supported_providers(call: ApiCall) -> dict[str, Any]:
    return {"providers": gateway_catalog.providers()}


@rpc("mlflow.gateway.ListSupportedModels")
def list_supported_models(call: ApiCall) -> dict[str, Any]:
    return {"models": gateway_catalog.models(_query(call.request, "provider") or None)}


@rpc("mlflow.gateway.GetProviderConfig")
def get_provider_config(call: ApiCall) -> dict[str, Any]:
    return gateway_catalog.provider_config(_query(call.request, "provider"))


@rpc("mlflow.gateway.GetSecretsConfig")
def get_secrets_config(call: ApiCall) -> dict[str, Any]:
    return {"secrets_available": True, "using_default_passphrase": not settings.GATEWAY_SECRETS_KEY}
