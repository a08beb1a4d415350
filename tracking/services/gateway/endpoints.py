"""Endpoints: their models (primary and fallback), bindings to resources, and tags."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from tracking.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracking.models import (
    Experiment,
    GatewayEndpoint,
    GatewayEndpointBinding,
    GatewayEndpointModelMapping,
    GatewayEndpointTag,
    Workspace,
)
from tracking.queries import experiments as experiment_queries
from tracking.queries import gateway as queries

from .. import experiments as experiment_services
from .rows import fit, new_id

_RESOURCE_TYPES = ("scorer",)
LINKAGE_TYPES = ("PRIMARY", "FALLBACK")


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
            mapping_id=new_id("m"),
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
        endpoint_id=new_id("e"),
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
    fit(endpoint, *mappings)
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
    fit(endpoint, *(mappings or []))
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
    fit(mapping)
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
    fit(binding)
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
    fit(GatewayEndpointTag(key=key))
    GatewayEndpointTag.objects.update_or_create(endpoint=endpoint, key=key, defaults={"value": value})


def delete_endpoint_tag(*, endpoint: GatewayEndpoint, key: str) -> None:
    endpoint.tags.filter(key=key).delete()
