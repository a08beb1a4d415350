"""Creating resource groups and workspaces."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tracking.errors import InvalidParameterValue, ResourceAlreadyExists
from tracking.models import Experiment, ResourceGroup, Workspace
from tracking.models.experiments import DEFAULT_EXPERIMENT_NAME, DEFAULT_EXPERIMENT_NUMBER
from tracking.models.workspaces import name_validator

from .experiments import artifact_location_for


def _check_name(kind: str, name: str) -> str:
    try:
        name_validator(name)
    except ValidationError as error:
        raise InvalidParameterValue(f"Invalid {kind} name '{name}': {error.messages[0]}") from None
    return name


def create_resource_group(*, name: str, description: str = "") -> ResourceGroup:
    _check_name("resource group", name)
    try:
        with transaction.atomic():
            return ResourceGroup.objects.create(name=name, description=description)
    except IntegrityError:
        raise ResourceAlreadyExists(f"Resource group '{name}' already exists.") from None


def create_workspace(*, resource_group: ResourceGroup, name: str, description: str = "") -> Workspace:
    """A workspace with its own Default experiment (id "0"), as a fresh MLflow server has."""
    _check_name("workspace", name)
    now = timezone.now()
    try:
        with transaction.atomic():
            workspace = Workspace.objects.create(
                resource_group=resource_group, name=name, description=description
            )
            Experiment.objects.create(
                workspace=workspace,
                number=DEFAULT_EXPERIMENT_NUMBER,
                name=DEFAULT_EXPERIMENT_NAME,
                artifact_location=artifact_location_for(DEFAULT_EXPERIMENT_NUMBER),
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        raise ResourceAlreadyExists(f"Workspace '{name}' already exists.") from None
    return workspace
