"""Model definitions: a provider's model with the secret that pays for it."""

from __future__ import annotations

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from tracking import gateway_catalog
from tracking.errors import InvalidState
from tracking.models import (
    GatewayModelDefinition,
    Workspace,
)
from tracking.queries import gateway as queries

from .rows import new_id, save_named


def create_model_definition(
    *, workspace: Workspace, name: str, secret_id: str, provider: str, model_name: str, created_by: str = ""
) -> GatewayModelDefinition:
    secret = queries.get_secret(workspace, secret_id=secret_id)
    gateway_catalog.check_provider(provider)
    now = timezone.now()
    definition = GatewayModelDefinition(
        workspace=workspace,
        model_definition_id=new_id("d"),
        name=name,
        secret=secret,
        provider=provider,
        model_name=model_name,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        updated_by=created_by,
    )
    return save_named(definition, f"Model definition with name '{definition.name}' already exists")


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
    return save_named(definition, f"Model definition with name '{definition.name}' already exists")


def delete_model_definition(*, definition: GatewayModelDefinition) -> None:
    try:
        with transaction.atomic():
            definition.delete()
    except ProtectedError:
        raise InvalidState(
            "Cannot delete model definition that is currently in use by endpoints. "
            "Detach it from all endpoints first."
        ) from None
