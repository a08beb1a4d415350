"""MlflowService AI gateway RPCs (MLflow 3): secrets, model definitions, endpoints, budgets.

Who may call each is in tracking.access.permissions (reads: Reader; set-up: Owner). Every id
is looked up within the request's workspace. Guardrails run a registered scorer, and this server
keeps no scorers (RegisterScorer answers 501), so no guardrail can exist: the guardrail RPCs
answer as MLflow does when the scorer or guardrail is not there.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils import timezone

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.queries import gateway as queries
from tracking.services import gateway as services

from ..gateway_shapes import (
    binding_message,
    budget_policy_message,
    budget_window_message,
    endpoint_message,
    mapping_message,
    model_definition_message,
    secret_message,
)
from ..responses import page_message
from ..router import ApiCall, rpc

_ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9_\-.]+")


def _required(message: dict[str, Any], name: str) -> Any:
    value = message.get(name)
    if value in (None, "", {}):
        raise InvalidParameterValue(
            f"Missing value for required parameter '{name}'. "
            "See the API docs for more information about request parameters."
        )
    return value


def _endpoint(call: ApiCall) -> Any:
    return queries.get_endpoint(call.workspace, endpoint_id=_required(call.message, "endpoint_id"))


# --- Secrets ------------------------------------------------------------------------------------


@rpc("mlflow.CreateGatewaySecret")
def create_gateway_secret(call: ApiCall) -> dict[str, Any]:
    message = call.message
    secret = services.create_secret(
        workspace=call.workspace,
        name=_required(message, "secret_name"),
        value=message.get("secret_value"),
        provider=message.get("provider", ""),
        auth_config=message.get("auth_config"),
        created_by=message.get("created_by", ""),
    )
    return {"secret": secret_message(secret)}


@rpc("mlflow.GetGatewaySecretInfo")
def get_gateway_secret_info(call: ApiCall) -> dict[str, Any]:
    secret = queries.get_secret(call.workspace, secret_id=_required(call.message, "secret_id"))
    return {"secret": secret_message(secret)}


@rpc("mlflow.UpdateGatewaySecret")
def update_gateway_secret(call: ApiCall) -> dict[str, Any]:
    message = call.message
    secret = queries.get_secret(call.workspace, secret_id=_required(message, "secret_id"))
    services.update_secret(
        secret=secret,
        value=message.get("secret_value"),
        auth_config=message.get("auth_config"),
        updated_by=message.get("updated_by", ""),
    )
    return {"secret": secret_message(secret)}


@rpc("mlflow.DeleteGatewaySecret")
def delete_gateway_secret(call: ApiCall) -> dict[str, Any]:
    services.delete_secret(
        secret=queries.get_secret(call.workspace, secret_id=_required(call.message, "secret_id"))
    )
    return {}


@rpc("mlflow.ListGatewaySecretInfos")
def list_gateway_secret_infos(call: ApiCall) -> dict[str, Any]:
    secrets = queries.list_secrets(call.workspace, provider=call.message.get("provider", ""))
    return page_message("secrets", [secret_message(secret) for secret in secrets], None)


# --- Model definitions --------------------------------------------------------------------------


def _definition(call: ApiCall) -> Any:
    return queries.get_model_definition(
        call.workspace, model_definition_id=_required(call.message, "model_definition_id")
    )


@rpc("mlflow.CreateGatewayModelDefinition")
def create_gateway_model_definition(call: ApiCall) -> dict[str, Any]:
    message = call.message
    definition = services.create_model_definition(
        workspace=call.workspace,
        name=_required(message, "name"),
        secret_id=_required(message, "secret_id"),
        provider=_required(message, "provider"),
        model_name=_required(message, "model_name"),
        created_by=message.get("created_by", ""),
    )
    return {"model_definition": model_definition_message(definition)}


@rpc("mlflow.GetGatewayModelDefinition")
def get_gateway_model_definition(call: ApiCall) -> dict[str, Any]:
    return {"model_definition": model_definition_message(_definition(call))}


@rpc("mlflow.ListGatewayModelDefinitions")
def list_gateway_model_definitions(call: ApiCall) -> dict[str, Any]:
    definitions = queries.list_model_definitions(
        call.workspace, provider=call.message.get("provider", ""), secret_id=call.message.get("secret_id", "")
    )
    return page_message("model_definitions", [model_definition_message(d) for d in definitions], None)


@rpc("mlflow.UpdateGatewayModelDefinition")
def update_gateway_model_definition(call: ApiCall) -> dict[str, Any]:
    message = call.message
    definition = services.update_model_definition(
        definition=_definition(call),
        name=message.get("name", ""),
        secret_id=message.get("secret_id", ""),
        model_name=message.get("model_name", ""),
        provider=message.get("provider", ""),
        updated_by=message.get("updated_by", ""),
    )
    return {"model_definition": model_definition_message(definition)}


@rpc("mlflow.DeleteGatewayModelDefinition")
def delete_gateway_model_definition(call: ApiCall) -> dict[str, Any]:
    services.delete_model_definition(definition=_definition(call))
    return {}


# --- Endpoints ----------------------------------------------------------------------------------


def _endpoint_name(name: str) -> str:
    if name and not _ENDPOINT_NAME.fullmatch(name):
        raise InvalidParameterValue(
            f"Invalid endpoint name '{name}'. "
            "Name can only contain letters, numbers, underscores, hyphens, and dots."
        )
    return name


def _model_config(raw: dict[str, Any], location: str) -> services.ModelConfig:
    linkage = raw.get("linkage_type")
    if linkage not in services.LINKAGE_TYPES:
        raise InvalidParameterValue(
            f"Invalid or missing value for required parameter 'linkage_type' in {location}. "
            f"Must be one of: {', '.join(services.LINKAGE_TYPES)}."
        )
    return services.ModelConfig(
        model_definition_id=raw.get("model_definition_id", ""),
        linkage_type=linkage,
        weight=raw.get("weight", 1.0),
        fallback_order=raw.get("fallback_order"),
    )


def _model_configs(message: dict[str, Any]) -> list[services.ModelConfig]:
    return [
        _model_config(raw, f"model_configs[{i}]") for i, raw in enumerate(message.get("model_configs", []))
    ]


def _fallback(message: dict[str, Any]) -> services.FallbackConfig | None:
    raw = message.get("fallback_config")
    if raw is None:
        return None
    strategy = raw.get("strategy", "")
    return services.FallbackConfig(
        strategy="" if strategy == "FALLBACK_STRATEGY_UNSPECIFIED" else strategy,
        max_attempts=raw.get("max_attempts"),
    )


def _routing(message: dict[str, Any]) -> str:
    strategy = message.get("routing_strategy", "")
    return "" if strategy == "ROUTING_STRATEGY_UNSPECIFIED" else strategy


def _loaded(call: ApiCall, endpoint_id: str) -> dict[str, Any]:
    return {"endpoint": endpoint_message(queries.get_endpoint(call.workspace, endpoint_id=endpoint_id))}


@rpc("mlflow.CreateGatewayEndpoint")
def create_gateway_endpoint(call: ApiCall) -> dict[str, Any]:
    message = call.message
    name = _endpoint_name(_required(message, "name"))
    endpoint = services.create_endpoint(
        workspace=call.workspace,
        name=name,
        model_configs=_model_configs(message),
        routing_strategy=_routing(message),
        fallback=_fallback(message),
        experiment_id=message.get("experiment_id"),
        usage_tracking=message.get("usage_tracking", True),
        created_by=message.get("created_by", ""),
    )
    return _loaded(call, endpoint.endpoint_id)


@rpc("mlflow.GetGatewayEndpoint")
def get_gateway_endpoint(call: ApiCall) -> dict[str, Any]:
    endpoint = queries.get_endpoint(
        call.workspace, endpoint_id=call.message.get("endpoint_id", ""), name=call.message.get("name", "")
    )
    return {"endpoint": endpoint_message(endpoint)}


@rpc("mlflow.UpdateGatewayEndpoint")
def update_gateway_endpoint(call: ApiCall) -> dict[str, Any]:
    message = call.message
    endpoint = _endpoint(call)
    services.update_endpoint(
        endpoint=endpoint,
        name=_endpoint_name(message.get("name", "")),
        model_configs=_model_configs(message) or None,
        routing_strategy=_routing(message),
        fallback=_fallback(message),
        experiment_id=message.get("experiment_id"),
        usage_tracking=message.get("usage_tracking"),
        updated_by=message.get("updated_by", ""),
    )
    return _loaded(call, endpoint.endpoint_id)


@rpc("mlflow.DeleteGatewayEndpoint")
def delete_gateway_endpoint(call: ApiCall) -> dict[str, Any]:
    services.delete_endpoint(endpoint=_endpoint(call))
    return {}


@rpc("mlflow.ListGatewayEndpoints")
def list_gateway_endpoints(call: ApiCall) -> dict[str, Any]:
    endpoints = queries.list_endpoints(
        call.workspace, provider=call.message.get("provider", ""), secret_id=call.message.get("secret_id", "")
    )
    return page_message("endpoints", [endpoint_message(endpoint) for endpoint in endpoints], None)


@rpc("mlflow.AttachModelToGatewayEndpoint")
def attach_model_to_gateway_endpoint(call: ApiCall) -> dict[str, Any]:
    message = call.message
    endpoint = _endpoint(call)
    config = _model_config(_required(message, "model_config"), "model_config")
    mapping = services.attach_model(
        endpoint=endpoint, model_config=config, created_by=message.get("created_by", "")
    )
    return {"mapping": mapping_message(mapping, endpoint.endpoint_id)}


@rpc("mlflow.DetachModelFromGatewayEndpoint")
def detach_model_from_gateway_endpoint(call: ApiCall) -> dict[str, Any]:
    model_definition_id = _required(call.message, "model_definition_id")
    services.detach_model(endpoint=_endpoint(call), model_definition_id=model_definition_id)
    return {}


@rpc("mlflow.CreateGatewayEndpointBinding")
def create_gateway_endpoint_binding(call: ApiCall) -> dict[str, Any]:
    message = call.message
    binding = services.create_binding(
        endpoint=_endpoint(call),
        resource_type=_required(message, "resource_type"),
        resource_id=_required(message, "resource_id"),
        created_by=message.get("created_by", ""),
    )
    return {"binding": binding_message(binding)}


@rpc("mlflow.DeleteGatewayEndpointBinding")
def delete_gateway_endpoint_binding(call: ApiCall) -> dict[str, Any]:
    message = call.message
    services.delete_binding(
        endpoint=_endpoint(call),
        resource_type=_required(message, "resource_type"),
        resource_id=_required(message, "resource_id"),
    )
    return {}


@rpc("mlflow.ListGatewayEndpointBindings")
def list_gateway_endpoint_bindings(call: ApiCall) -> dict[str, Any]:
    message = call.message
    bindings = queries.list_bindings(
        call.workspace,
        endpoint_id=message.get("endpoint_id", ""),
        resource_type=message.get("resource_type", ""),
        resource_id=message.get("resource_id", ""),
    )
    return page_message("bindings", [binding_message(binding) for binding in bindings], None)


@rpc("mlflow.SetGatewayEndpointTag")
def set_gateway_endpoint_tag(call: ApiCall) -> dict[str, Any]:
    key = _required(call.message, "key")
    services.set_endpoint_tag(endpoint=_endpoint(call), key=key, value=call.message.get("value", ""))
    return {}


@rpc("mlflow.DeleteGatewayEndpointTag")
def delete_gateway_endpoint_tag(call: ApiCall) -> dict[str, Any]:
    key = _required(call.message, "key")
    services.delete_endpoint_tag(endpoint=_endpoint(call), key=key)
    return {}


# --- Budgets ------------------------------------------------------------------------------------


def _enum(message: dict[str, Any], name: str, unspecified: str) -> str | None:
    value = message.get(name)
    if value == unspecified:
        raise InvalidParameterValue(f"Invalid {name}: {value}")
    return value


def _budget_change(message: dict[str, Any]) -> services.BudgetChange:
    duration = message.get("duration")
    unit = value = None
    if duration is not None:
        unit = duration.get("unit")
        if unit in (None, "DURATION_UNIT_UNSPECIFIED"):
            raise InvalidParameterValue(f"Invalid duration.unit: {unit or 'DURATION_UNIT_UNSPECIFIED'}")
        value = duration.get("value", 0)
    return services.BudgetChange(
        budget_unit=_enum(message, "budget_unit", "BUDGET_UNIT_UNSPECIFIED"),
        budget_amount=message.get("budget_amount"),
        duration_unit=unit,
        duration_value=value,
        target_scope=_enum(message, "target_scope", "TARGET_SCOPE_UNSPECIFIED"),
        target_value=message.get("target_value"),
        budget_action=_enum(message, "budget_action", "BUDGET_ACTION_UNSPECIFIED"),
    )


@rpc("mlflow.CreateGatewayBudgetPolicy")
def create_gateway_budget_policy(call: ApiCall) -> dict[str, Any]:
    message = call.message
    for name in ("budget_unit", "budget_amount", "duration", "target_scope", "budget_action"):
        if message.get(name) is None:
            _required(message, name)
    policy = services.create_budget_policy(
        workspace=call.workspace, change=_budget_change(message), created_by=message.get("created_by", "")
    )
    return {"budget_policy": budget_policy_message(policy)}


def _policy(call: ApiCall) -> Any:
    return queries.get_budget_policy(call.workspace, _required(call.message, "budget_policy_id"))


@rpc("mlflow.GetGatewayBudgetPolicy")
def get_gateway_budget_policy(call: ApiCall) -> dict[str, Any]:
    return {"budget_policy": budget_policy_message(_policy(call))}


@rpc("mlflow.UpdateGatewayBudgetPolicy")
def update_gateway_budget_policy(call: ApiCall) -> dict[str, Any]:
    policy = services.update_budget_policy(
        policy=_policy(call),
        change=_budget_change(call.message),
        updated_by=call.message.get("updated_by", ""),
    )
    return {"budget_policy": budget_policy_message(policy)}


@rpc("mlflow.DeleteGatewayBudgetPolicy")
def delete_gateway_budget_policy(call: ApiCall) -> dict[str, Any]:
    services.delete_budget_policy(policy=_policy(call))
    return {}


@rpc("mlflow.ListGatewayBudgetPolicies")
def list_gateway_budget_policies(call: ApiCall) -> dict[str, Any]:
    policies, token = queries.list_budget_policies(
        call.workspace, max_results=call.message.get("max_results"), page_token=call.message.get("page_token")
    )
    return page_message("budget_policies", [budget_policy_message(p) for p in policies], token)


@rpc("mlflow.ListGatewayBudgetWindows")
def list_gateway_budget_windows(call: ApiCall) -> dict[str, Any]:
    windows = queries.budget_windows(call.workspace, now=timezone.now())
    return page_message("windows", [budget_window_message(window) for window in windows], None)


# --- Guardrails (no scorers here, so none exist) ------------------------------------------------


def _no_guardrail(guardrail_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Guardrail not found (guardrail_id='{guardrail_id}')")


@rpc("mlflow.CreateGatewayGuardrail")
def create_gateway_guardrail(call: ApiCall) -> dict[str, Any]:
    message = call.message
    for name in ("name", "scorer_id", "scorer_version", "stage", "action"):
        _required(message, name)
    raise ResourceDoesNotExist(f"Scorer with ID '{message['scorer_id']}' not found.")


@rpc("mlflow.GetGatewayGuardrail")
def get_gateway_guardrail(call: ApiCall) -> dict[str, Any]:
    raise _no_guardrail(_required(call.message, "guardrail_id"))


@rpc("mlflow.DeleteGatewayGuardrail")
def delete_gateway_guardrail(call: ApiCall) -> dict[str, Any]:
    raise _no_guardrail(_required(call.message, "guardrail_id"))


@rpc("mlflow.ListGatewayGuardrails")
def list_gateway_guardrails(call: ApiCall) -> dict[str, Any]:
    return {}


def _guarded_endpoint(call: ApiCall) -> None:
    # MLflow names it plain "Endpoint" on the guardrail routes.
    endpoint_id = _required(call.message, "endpoint_id")
    if not queries.endpoint_exists(call.workspace, endpoint_id):
        raise ResourceDoesNotExist(f"Endpoint not found (endpoint_id='{endpoint_id}')")


@rpc("mlflow.AddGuardrailToEndpoint")
def add_guardrail_to_endpoint(call: ApiCall) -> dict[str, Any]:
    guardrail_id = _required(call.message, "guardrail_id")
    _guarded_endpoint(call)
    raise _no_guardrail(guardrail_id)


def _no_config(call: ApiCall) -> ResourceDoesNotExist:
    endpoint_id = _required(call.message, "endpoint_id")
    guardrail_id = _required(call.message, "guardrail_id")
    return ResourceDoesNotExist(
        f"GuardrailConfig not found (endpoint_id='{endpoint_id}', guardrail_id='{guardrail_id}')"
    )


@rpc("mlflow.RemoveGuardrailFromEndpoint")
def remove_guardrail_from_endpoint(call: ApiCall) -> dict[str, Any]:
    raise _no_config(call)


@rpc("mlflow.UpdateEndpointGuardrailConfig")
def update_endpoint_guardrail_config(call: ApiCall) -> dict[str, Any]:
    raise _no_config(call)


@rpc("mlflow.ListEndpointGuardrailConfigs")
def list_endpoint_guardrail_configs(call: ApiCall) -> dict[str, Any]:
    _guarded_endpoint(call)
    return {}
