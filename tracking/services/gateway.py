"""Changing the AI gateway's configuration: secrets, model definitions, endpoints, budgets.

Each function is one transaction. The objects passed in were looked up within the caller's
workspace (tracking.queries.gateway); references given by id are resolved within that same
workspace here, so nothing can point across workspaces. Secret values are sealed before they
reach the database and never leave this module in any form but their masked preview.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import CharField, ProtectedError
from django.utils import timezone

from tracking import gateway_catalog, secrets
from tracking.alerts.webhooks import Refused, address_refusal, parse_url
from tracking.errors import InvalidParameterValue, InvalidState, ResourceAlreadyExists, ResourceDoesNotExist
from tracking.models import (
    Experiment,
    GatewayBudgetPolicy,
    GatewayEndpoint,
    GatewayEndpointBinding,
    GatewayEndpointModelMapping,
    GatewayEndpointTag,
    GatewayModelDefinition,
    GatewaySecret,
    Workspace,
)
from tracking.queries import experiments as experiment_queries
from tracking.queries import gateway as queries
from tracking.validation import check_length

from . import experiments as experiment_services

# Keys that would choose where requests go: only auth_config's `api_base` may, and it is checked.
_DESTINATION_KEYS = frozenset({"api_base", "base_url", "model_list", "fallbacks", "custom_llm_provider"})
_RESOURCE_TYPES = ("scorer",)
LINKAGE_TYPES = ("PRIMARY", "FALLBACK")
_TARGETED_SCOPES = ("ENDPOINT", "USER")


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def _fit(*rows: Any) -> None:
    """INVALID_PARAMETER_VALUE for a text longer than its column holds (PostgreSQL would refuse it)."""
    for row in rows:
        for field in row._meta.concrete_fields:
            value = getattr(row, field.attname)
            if isinstance(field, CharField) and field.max_length and isinstance(value, str):
                check_length(f"'{field.name}'", value, field.max_length)


def _save_named(row: Any, taken: str) -> Any:
    """Saves a row whose name is unique in its workspace; RESOURCE_ALREADY_EXISTS if taken."""
    _fit(row)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise ResourceAlreadyExists(taken) from None
    return row


# --- Secrets ------------------------------------------------------------------------------------


def mask(value: Any) -> str:
    """What the API shows of one secret field: its first 3 and last 4 characters, if long enough."""
    if not isinstance(value, str) or len(value) < 8:
        return "***"
    return f"{value[:3]}...{value[-4:]}"


def _check_secret_value(secret_value: Any) -> dict[str, str]:
    # The message never quotes a value: only the field names and what is wrong. An empty one is
    # allowed: some auth modes hold no secret field (AWS's default credential chain, say).
    if secret_value is None:
        return {}
    if not isinstance(secret_value, dict):
        raise InvalidParameterValue("secret_value must map field names to string values.")
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in secret_value.items()):
        raise InvalidParameterValue("secret_value must map field names to string values.")
    if reserved := sorted(_DESTINATION_KEYS & set(secret_value)):
        raise InvalidParameterValue(
            f"secret_value must not contain {', '.join(map(repr, reserved))}: these keys choose where "
            "the gateway sends requests. Set the upstream with 'api_base' in auth_config, where it is "
            "validated."
        )
    return secret_value


def _check_api_base(url: str) -> None:
    try:
        target = parse_url(url)
        if target.scheme != "https":
            raise InvalidParameterValue(
                f"Invalid Gateway secret api_base scheme: '{target.scheme}'. Allowed schemes are: 'https'."
            )
        try:
            literal = ipaddress.ip_address(target.host)
        except ValueError:
            literal = None
        why = literal is not None and address_refusal(
            str(literal),
            allow_private=settings.GATEWAY_ALLOW_PRIVATE_API_BASE,
            allowed_by="STUDIO_GATEWAY_ALLOW_PRIVATE_API_BASE",
        )
        if why:
            raise Refused(why)
    except Refused as refused:
        raise InvalidParameterValue(f"Gateway secret api_base is refused: {refused}.") from None


def check_auth_config(auth_config: Any) -> dict[str, Any] | None:
    """The auth configuration normalized (a blank api_base dropped), or None when empty."""
    if not auth_config:
        return None
    if not isinstance(auth_config, dict) or not all(isinstance(v, str) for v in auth_config.values()):
        raise InvalidParameterValue("auth_config must map option names to string values.")
    normalized = dict(auth_config)
    if reserved := sorted((_DESTINATION_KEYS - {"api_base"}) & set(normalized)):
        raise InvalidParameterValue(
            f"auth_config must not contain {', '.join(map(repr, reserved))}: these options choose "
            "where the gateway sends requests. Set the upstream with 'api_base', which is validated."
        )
    api_base = normalized.get("api_base")
    if isinstance(api_base, str):
        api_base = api_base.strip()
    if not api_base:
        normalized.pop("api_base", None)
        return normalized
    if not isinstance(api_base, str):
        raise InvalidParameterValue("auth_config.api_base must be a string.")
    _check_api_base(api_base)
    normalized["api_base"] = api_base
    return normalized


def _seal_onto(secret: GatewaySecret, value: dict[str, str]) -> None:
    secret.ciphertext, secret.key_id = secrets.seal(orjson.dumps(value), secret_id=secret.secret_id)
    secret.masked_values = {key: mask(field) for key, field in value.items()}


def create_secret(
    *,
    workspace: Workspace,
    name: str,
    value: Any,
    provider: str = "",
    auth_config: Any = None,
    created_by: str = "",
) -> GatewaySecret:
    value = _check_secret_value(value)
    auth_config = check_auth_config(auth_config)
    if provider:
        gateway_catalog.check_provider(provider)
    now = timezone.now()
    secret = GatewaySecret(
        workspace=workspace,
        secret_id=_new_id("s"),
        name=name,
        provider=provider,
        auth_config=auth_config or None,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        updated_by=created_by,
    )
    _seal_onto(secret, value)
    return _save_named(secret, f"Secret with name '{name}' already exists")


def update_secret(
    *, secret: GatewaySecret, value: Any = None, auth_config: Any = None, updated_by: str = ""
) -> GatewaySecret:
    """A new value (key rotation at the provider) and/or auth configuration; an empty
    auth_config object clears it, an absent one keeps it."""
    if value:
        _seal_onto(secret, _check_secret_value(value))
    if auth_config:
        secret.auth_config = check_auth_config(auth_config) or None
    secret.updated_by = updated_by
    secret.updated_at = timezone.now()
    _fit(secret)
    secret.save()
    return secret


def delete_secret(*, secret: GatewaySecret) -> None:
    # Definitions that used it stay, without a secret (SET_NULL), as in MLflow.
    secret.delete()


def open_secret(secret: GatewaySecret) -> dict[str, str]:
    """The secret's fields in plain text, for the one use there is: calling its provider."""
    return orjson.loads(secrets.unseal(secret.ciphertext, key_id=secret.key_id, secret_id=secret.secret_id))


def reseal_secrets(*, batch: int = 500) -> int:
    """Seals again, with the current key, every secret sealed with another one; how many."""
    current = secrets.current_key_id()
    count = 0
    stale = GatewaySecret.objects.exclude(key_id=current).order_by("id")
    while rows := list(stale[:batch]):
        for secret in rows:
            _seal_onto(secret, open_secret(secret))
        with transaction.atomic():
            GatewaySecret.objects.bulk_update(rows, ["ciphertext", "key_id", "masked_values"])
        count += len(rows)
    return count


# --- Model definitions --------------------------------------------------------------------------


def create_model_definition(
    *, workspace: Workspace, name: str, secret_id: str, provider: str, model_name: str, created_by: str = ""
) -> GatewayModelDefinition:
    secret = queries.get_secret(workspace, secret_id=secret_id)
    gateway_catalog.check_provider(provider)
    now = timezone.now()
    definition = GatewayModelDefinition(
        workspace=workspace,
        model_definition_id=_new_id("d"),
        name=name,
        secret=secret,
        provider=provider,
        model_name=model_name,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        updated_by=created_by,
    )
    return _save_named(definition, f"Model definition with name '{definition.name}' already exists")


def update_model_definition(
    *,
    definition: GatewayModelDefinition,
    name: str = "",
    secret_id: str = "",
    model_name: str = "",
    provider: str = "",
    updated_by: str = "",
) -> GatewayModelDefinition:
    if name:
        definition.name = name
    if secret_id:
        definition.secret = queries.get_secret(definition.workspace, secret_id=secret_id)
    if model_name:
        definition.model_name = model_name
    if provider:
        definition.provider = gateway_catalog.check_provider(provider)
    definition.updated_at = timezone.now()
    if updated_by:
        definition.updated_by = updated_by
    return _save_named(definition, f"Model definition with name '{definition.name}' already exists")


def delete_model_definition(*, definition: GatewayModelDefinition) -> None:
    try:
        with transaction.atomic():
            definition.delete()
    except ProtectedError:
        raise InvalidState(
            "Cannot delete model definition that is currently in use by endpoints. "
            "Detach it from all endpoints first."
        ) from None


# --- Endpoints ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelConfig:
    model_definition_id: str
    linkage_type: str
    weight: float | None = None
    fallback_order: int | None = None


@dataclass(frozen=True)
class FallbackConfig:
    strategy: str = ""
    max_attempts: int | None = None


def _mappings(
    endpoint: GatewayEndpoint, configs: Iterable[ModelConfig], created_by: str
) -> list[GatewayEndpointModelMapping]:
    configs = list(configs)
    found = queries.model_definitions_by_id(endpoint.workspace, {c.model_definition_id for c in configs})
    if missing := sorted({c.model_definition_id for c in configs} - set(found)):
        raise ResourceDoesNotExist(f"Model definitions not found: {', '.join(missing)}")
    now = timezone.now()
    return [
        GatewayEndpointModelMapping(
            mapping_id=_new_id("m"),
            endpoint=endpoint,
            model_definition=found[config.model_definition_id],
            linkage_type=config.linkage_type,
            weight=config.weight,
            fallback_order=config.fallback_order,
            created_at=now,
            created_by=created_by,
        )
        for config in configs
    ]


def _usage_experiment(workspace: Workspace, endpoint_name: str, endpoint_id: str) -> Experiment:
    """The experiment an endpoint's usage traces go to, made on first need (as MLflow names it)."""
    name = f"gateway/{endpoint_name}"
    existing = Experiment.objects.filter(workspace=workspace, name=name).first()
    if existing is not None:
        return existing
    return experiment_services.create_experiment(
        workspace=workspace,
        name=name,
        tags=[
            ("mlflow.experiment.sourceType", "GATEWAY"),
            ("mlflow.experiment.sourceId", endpoint_id),
            ("mlflow.experiment.isGateway", "true"),
        ],
    )


def _set_fallback(
    endpoint: GatewayEndpoint, fallback: FallbackConfig | None, model_configs: list[ModelConfig] | None
) -> None:
    """As MLflow keeps it: an endpoint has a fallback configuration once one was given or it has
    fallback models, and new models reset it to what is given with them (or nothing)."""
    has_fallback_models = model_configs is not None and any(
        c.linkage_type == "FALLBACK" for c in model_configs
    )
    replacing_models = model_configs is not None and endpoint.pk is not None
    if fallback is None and not has_fallback_models and not replacing_models:
        return
    endpoint.has_fallback_config = True
    endpoint.fallback_strategy = fallback.strategy if fallback else ""
    endpoint.fallback_max_attempts = fallback.max_attempts if fallback else None


def create_endpoint(
    *,
    workspace: Workspace,
    name: str,
    model_configs: list[ModelConfig],
    routing_strategy: str = "",
    fallback: FallbackConfig | None = None,
    experiment_id: str | None = None,
    usage_tracking: bool = True,
    created_by: str = "",
) -> GatewayEndpoint:
    if not model_configs:
        raise InvalidParameterValue("Endpoint must have at least one model configuration")
    now = timezone.now()
    endpoint = GatewayEndpoint(
        workspace=workspace,
        endpoint_id=_new_id("e"),
        name=name,
        routing_strategy=routing_strategy,
        usage_tracking=usage_tracking,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        updated_by=created_by,
    )
    _set_fallback(endpoint, fallback, model_configs)
    mappings = _mappings(endpoint, model_configs, created_by)
    _fit(endpoint, *mappings)
    if GatewayEndpoint.objects.filter(workspace=workspace, name=name).exists():
        raise ResourceAlreadyExists(f"Endpoint with name '{name}' already exists")
    try:
        with transaction.atomic():
            if experiment_id is not None:
                endpoint.experiment = experiment_queries.get_experiment(workspace, experiment_id)
            elif usage_tracking:
                endpoint.experiment = _usage_experiment(workspace, name, endpoint.endpoint_id)
            endpoint.save()
            GatewayEndpointModelMapping.objects.bulk_create(mappings)
    except IntegrityError:
        raise ResourceAlreadyExists(f"Endpoint with name '{name}' already exists") from None
    return endpoint


def update_endpoint(
    *,
    endpoint: GatewayEndpoint,
    name: str = "",
    model_configs: list[ModelConfig] | None = None,
    routing_strategy: str = "",
    fallback: FallbackConfig | None = None,
    experiment_id: str | None = None,
    usage_tracking: bool | None = None,
    updated_by: str = "",
) -> GatewayEndpoint:
    """Changes what is given; model_configs, when given, replace all the endpoint's models."""
    workspace = endpoint.workspace
    if name:
        endpoint.name = name
    if usage_tracking is not None:
        endpoint.usage_tracking = usage_tracking
    if routing_strategy:
        endpoint.routing_strategy = routing_strategy
    _set_fallback(endpoint, fallback, model_configs)
    mappings = _mappings(endpoint, model_configs, updated_by) if model_configs else None
    _fit(endpoint, *(mappings or []))
    endpoint.updated_at = timezone.now()
    if updated_by:
        endpoint.updated_by = updated_by
    try:
        with transaction.atomic():
            if experiment_id is not None:
                endpoint.experiment = experiment_queries.get_experiment(workspace, experiment_id)
            elif usage_tracking and endpoint.experiment_id is None:
                endpoint.experiment = _usage_experiment(workspace, endpoint.name, endpoint.endpoint_id)
            endpoint.save()
            if mappings is not None:
                endpoint.model_mappings.all().delete()
                GatewayEndpointModelMapping.objects.bulk_create(mappings)
    except IntegrityError:
        raise ResourceAlreadyExists(f"Endpoint with name '{name}' already exists") from None
    return endpoint


def delete_endpoint(*, endpoint: GatewayEndpoint) -> None:
    # Its models' links, bindings and tags go with it. Budget policies aimed at it stay, as in
    # MLflow: they are the owners' to remove or retarget.
    endpoint.delete()


def attach_model(
    *, endpoint: GatewayEndpoint, model_config: ModelConfig, created_by: str = ""
) -> GatewayEndpointModelMapping:
    (mapping,) = _mappings(endpoint, [model_config], created_by)
    _fit(mapping)
    try:
        with transaction.atomic():
            mapping.save()
            endpoint.updated_at = mapping.created_at
            if created_by:
                endpoint.updated_by = created_by
            endpoint.save(update_fields=["updated_at", "updated_by"])
    except IntegrityError:
        raise ResourceAlreadyExists(
            f"Model definition '{model_config.model_definition_id}' is already attached to "
            f"endpoint '{endpoint.endpoint_id}'"
        ) from None
    return mapping


def detach_model(*, endpoint: GatewayEndpoint, model_definition_id: str) -> None:
    deleted, _ = endpoint.model_mappings.filter(
        model_definition__model_definition_id=model_definition_id
    ).delete()
    if not deleted:
        raise ResourceDoesNotExist(
            f"Model definition '{model_definition_id}' is not attached to endpoint '{endpoint.endpoint_id}'"
        )


def create_binding(
    *, endpoint: GatewayEndpoint, resource_type: str, resource_id: str, created_by: str = ""
) -> GatewayEndpointBinding:
    if resource_type not in _RESOURCE_TYPES:
        raise InvalidParameterValue(
            f"Invalid resource_type '{resource_type}'. Must be one of: {', '.join(_RESOURCE_TYPES)}."
        )
    now = timezone.now()
    binding = GatewayEndpointBinding(
        endpoint=endpoint,
        resource_type=resource_type,
        resource_id=resource_id,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        updated_by=created_by,
    )
    _fit(binding)
    try:
        with transaction.atomic():
            binding.save()
            return binding
    except IntegrityError:
        raise ResourceAlreadyExists(
            f"Endpoint '{endpoint.endpoint_id}' is already bound to {resource_type} '{resource_id}'"
        ) from None


def delete_binding(*, endpoint: GatewayEndpoint, resource_type: str, resource_id: str) -> None:
    deleted, _ = endpoint.bindings.filter(resource_type=resource_type, resource_id=resource_id).delete()
    if not deleted:
        raise ResourceDoesNotExist(
            f"GatewayEndpointBinding not found (endpoint_id='{endpoint.endpoint_id}', "
            f"resource_type='{resource_type}', resource_id='{resource_id}')"
        )


def set_endpoint_tag(*, endpoint: GatewayEndpoint, key: str, value: str) -> None:
    _fit(GatewayEndpointTag(key=key))
    GatewayEndpointTag.objects.update_or_create(endpoint=endpoint, key=key, defaults={"value": value})


def delete_endpoint_tag(*, endpoint: GatewayEndpoint, key: str) -> None:
    endpoint.tags.filter(key=key).delete()


# --- Budgets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetChange:
    budget_unit: str | None = None
    budget_amount: float | None = None
    duration_unit: str | None = None
    duration_value: int | None = None
    target_scope: str | None = None
    target_value: str | None = None  # None: not given; "" : given empty
    budget_action: str | None = None


def _check_target(workspace: Workspace, scope: str, target: str | None) -> str | None:
    if scope in _TARGETED_SCOPES:
        if not target:
            raise InvalidParameterValue(f"target_value is required when target_scope is {scope}.")
        if scope == "ENDPOINT":
            # A cap on an endpoint that does not exist (here) would never apply.
            queries.get_endpoint(workspace, endpoint_id=target)
        return target
    if target:
        raise InvalidParameterValue("target_value can only be set when target_scope is ENDPOINT or USER.")
    return None


def _check_duration(value: int | None) -> None:
    if value is not None and value <= 0:
        raise InvalidParameterValue(f"duration.value must be a positive integer, got {value}")


def create_budget_policy(
    *, workspace: Workspace, change: BudgetChange, created_by: str = ""
) -> GatewayBudgetPolicy:
    _check_duration(change.duration_value)
    target = _check_target(workspace, change.target_scope or "", change.target_value)
    now = timezone.now()
    policy = GatewayBudgetPolicy(
        workspace=workspace,
        budget_policy_id=_new_id("bp"),
        budget_unit=change.budget_unit,
        budget_amount=change.budget_amount,
        duration_unit=change.duration_unit,
        duration_value=change.duration_value,
        target_scope=change.target_scope,
        target_value=target,
        budget_action=change.budget_action,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        updated_by=created_by,
    )
    _fit(policy)
    policy.save()
    return policy


def update_budget_policy(
    *, policy: GatewayBudgetPolicy, change: BudgetChange, updated_by: str = ""
) -> GatewayBudgetPolicy:
    _check_duration(change.duration_value)
    for field in ("budget_unit", "budget_amount", "duration_unit", "duration_value", "budget_action"):
        if (value := getattr(change, field)) is not None:
            setattr(policy, field, value)
    if change.target_scope is not None or change.target_value is not None:
        scope = change.target_scope or policy.target_scope
        # A target means something only within its scope: a new scope needs a new target.
        inherited = policy.target_value if scope == policy.target_scope else None
        target = change.target_value if change.target_value is not None else inherited
        policy.target_value = _check_target(policy.workspace, scope, target)
        policy.target_scope = scope
    policy.updated_at = timezone.now()
    if updated_by:
        policy.updated_by = updated_by
    _fit(policy)
    policy.save()
    return policy


def delete_budget_policy(*, policy: GatewayBudgetPolicy) -> None:
    policy.delete()


# --- A workspace's whole gateway ----------------------------------------------------------------


def delete_workspace_gateway(*, workspace: Workspace) -> tuple[int, dict[str, int]]:
    """Removes the workspace's gateway set-up (for the workspace's purge): endpoints first, with
    their models' links, bindings and tags, so that no definition is still in use; what went."""
    total, by_model = 0, {}
    for rows in (
        GatewayEndpoint.objects.filter(workspace=workspace),
        GatewayModelDefinition.objects.filter(workspace=workspace),
        GatewaySecret.objects.filter(workspace=workspace),
        GatewayBudgetPolicy.objects.filter(workspace=workspace),
    ):
        deleted, counts = rows.delete()
        total += deleted
        by_model.update(counts)
    return total, by_model
