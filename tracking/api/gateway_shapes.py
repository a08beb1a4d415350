"""The AI gateway's objects as MLflow's JSON messages (proto3 JSON: empty fields left out).

A secret is shown by its masked values only; its ciphertext and key id never leave the server.
"""

from __future__ import annotations

from typing import Any

from tracking.models import (
    GatewayBudgetPolicy,
    GatewayEndpoint,
    GatewayEndpointBinding,
    GatewayEndpointModelMapping,
    GatewayModelDefinition,
    GatewaySecret,
)
from tracking.queries.gateway import BudgetWindow
from tracking.times import datetime_to_ms


def _present(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if value not in ("", None, {}, [])}


def secret_message(secret: GatewaySecret) -> dict[str, Any]:
    return _present(
        {
            "secret_id": secret.secret_id,
            "secret_name": secret.name,
            "masked_values": dict(secret.masked_values),
            "created_at": datetime_to_ms(secret.created_at),
            "last_updated_at": datetime_to_ms(secret.updated_at),
            "provider": secret.provider,
            "created_by": secret.created_by,
            "last_updated_by": secret.updated_by,
            "auth_config": secret.auth_config,
        }
    )


def model_definition_message(definition: GatewayModelDefinition) -> dict[str, Any]:
    secret = definition.secret
    return _present(
        {
            "model_definition_id": definition.model_definition_id,
            "name": definition.name,
            "secret_id": secret.secret_id if secret else "",
            "secret_name": secret.name if secret else "",
            "provider": definition.provider,
            "model_name": definition.model_name,
            "created_at": datetime_to_ms(definition.created_at),
            "last_updated_at": datetime_to_ms(definition.updated_at),
            "created_by": definition.created_by,
            "last_updated_by": definition.updated_by,
        }
    )


def mapping_message(mapping: GatewayEndpointModelMapping, endpoint_id: str) -> dict[str, Any]:
    return _present(
        {
            "mapping_id": mapping.mapping_id,
            "endpoint_id": endpoint_id,
            "model_definition_id": mapping.model_definition.model_definition_id,
            "model_definition": model_definition_message(mapping.model_definition),
            "weight": mapping.weight,
            "created_at": datetime_to_ms(mapping.created_at),
            "created_by": mapping.created_by,
            "linkage_type": mapping.linkage_type,
            "fallback_order": mapping.fallback_order,
        }
    )


def endpoint_message(endpoint: GatewayEndpoint) -> dict[str, Any]:
    """An endpoint loaded with its mappings and tags (tracking.queries.gateway.get_endpoint)."""
    message = _present(
        {
            "endpoint_id": endpoint.endpoint_id,
            "name": endpoint.name,
            "created_at": datetime_to_ms(endpoint.created_at),
            "last_updated_at": datetime_to_ms(endpoint.updated_at),
            "model_mappings": [
                mapping_message(m, endpoint.endpoint_id) for m in endpoint.model_mappings.all()
            ],
            "tags": [{"key": tag.key, "value": tag.value} for tag in endpoint.tags.all()],
            "routing_strategy": endpoint.routing_strategy,
            "experiment_id": str(endpoint.experiment.number) if endpoint.experiment else "",
        }
    )
    # MLflow writes these two even when empty, and usage_tracking always.
    message["created_by"] = endpoint.created_by
    message["last_updated_by"] = endpoint.updated_by
    message["usage_tracking"] = endpoint.usage_tracking
    if endpoint.has_fallback_config:
        message["fallback_config"] = _present(
            {"strategy": endpoint.fallback_strategy, "max_attempts": endpoint.fallback_max_attempts}
        )
    return message


def binding_message(binding: GatewayEndpointBinding) -> dict[str, Any]:
    return _present(
        {
            "endpoint_id": binding.endpoint.endpoint_id,
            "resource_type": binding.resource_type,
            "resource_id": binding.resource_id,
            "created_at": datetime_to_ms(binding.created_at),
            "last_updated_at": datetime_to_ms(binding.updated_at),
            "created_by": binding.created_by,
            "last_updated_by": binding.updated_by,
        }
    )


def budget_policy_message(policy: GatewayBudgetPolicy) -> dict[str, Any]:
    message = {
        "budget_policy_id": policy.budget_policy_id,
        "budget_unit": policy.budget_unit,
        "budget_amount": float(policy.budget_amount),
        "duration": {"unit": policy.duration_unit, "value": policy.duration_value},
        "target_scope": policy.target_scope,
        "budget_action": policy.budget_action,
        "created_by": policy.created_by,
        "created_at": datetime_to_ms(policy.created_at),
        "last_updated_by": policy.updated_by,
        "last_updated_at": datetime_to_ms(policy.updated_at),
    }
    if policy.target_value:
        message["target_value"] = policy.target_value
    return message


def budget_window_message(window: BudgetWindow) -> dict[str, Any]:
    return {
        "budget_policy_id": window.policy.budget_policy_id,
        "window_start_ms": datetime_to_ms(window.start),
        "window_end_ms": datetime_to_ms(window.end),
        "current_spend": window.spend,
    }
