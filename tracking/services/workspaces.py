"""Creating and renaming resource groups and workspaces."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tracking.errors import InvalidParameterValue, ResourceAlreadyExists
from tracking.models import Experiment, ResourceGroup, Workspace
from tracking.models.experiments import DEFAULT_EXPERIMENT_NAME, DEFAULT_EXPERIMENT_NUMBER
from tracking.models.workspaces import DEFAULT_WORKSPACE, name_validator

from .artifacts import artifacts_size
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


def rename_workspace(*, workspace: Workspace, name: str) -> Workspace:
    """A new name: its tracking URI changes (/ws/<name>/); its data and artifacts stay (they
    are stored by id, not by name)."""
    _check_name("workspace", name)
    if workspace.is_default:
        raise InvalidParameterValue(
            "The default workspace keeps its name: clients reach it without /ws/<name>/."
        )
    if name == DEFAULT_WORKSPACE:
        raise InvalidParameterValue(f"'{DEFAULT_WORKSPACE}' is the default workspace's name.")
    try:
        with transaction.atomic():
            workspace.name = name
            workspace.save(update_fields=["name"])
    except IntegrityError:
        raise ResourceAlreadyExists(f"Workspace '{name}' already exists.") from None
    return workspace


def update_workspace(*, workspace: Workspace, description: str) -> Workspace:
    workspace.description = description
    workspace.save(update_fields=["description"])
    return workspace


def rename_resource_group(*, resource_group: ResourceGroup, name: str) -> ResourceGroup:
    _check_name("resource group", name)
    try:
        with transaction.atomic():
            resource_group.name = name
            resource_group.save(update_fields=["name"])
    except IntegrityError:
        raise ResourceAlreadyExists(f"Resource group '{name}' already exists.") from None
    return resource_group


def measure_storage() -> int:
    """Measures the bytes of artifacts of every workspace and keeps them on the workspace (the
    studio's home page shows them); returns how many workspaces were measured."""
    measured = 0
    for workspace in Workspace.objects.only("pk", "name"):
        size = artifacts_size(workspace)
        Workspace.objects.filter(pk=workspace.pk).update(
            storage_bytes=size, storage_measured_at=timezone.now()
        )
        measured += 1
    return measured
