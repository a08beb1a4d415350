"""Registered models: creating, renaming, describing, tagging, aliasing and deleting them."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from registry.models import ModelVersion, RegisteredModel, RegisteredModelAlias, RegisteredModelTag
from registry.validation import (
    check_alias,
    check_description,
    check_model_name,
    check_settable_alias,
    check_tag,
    check_tags,
    parse_version,
    version_not_found,
)
from tracking.errors import ResourceAlreadyExists
from tracking.models import Workspace


def _name_taken(name: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(f"Registered Model (name={name}) already exists.")


def create_registered_model(
    *,
    workspace: Workspace,
    name: str,
    description: str = "",
    tags: Iterable[tuple[str, str]] = (),
    user_id: str = "",
) -> RegisteredModel:
    """Creates the model and its tags; a name the workspace already has is RESOURCE_ALREADY_EXISTS.

    The model comes back with `tag_list` (the tags it was stored with), so its answer needs no
    read back.
    """
    check_model_name(name)
    check_description(description)
    tag_values = check_tags(list(tags))
    # Looked up first although the unique index decides: the client calls this for names that
    # exist on every `log_model(registered_model_name=...)` after the first, and a refused INSERT
    # costs PostgreSQL an ERROR in its log and a sequence number each time.
    if RegisteredModel.objects.filter(workspace=workspace, name=name).exists():
        raise _name_taken(name)
    now = timezone.now()
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                workspace=workspace,
                name=name,
                description=description,
                user_id=user_id,
                created_at=now,
                updated_at=now,
            )
            model.tag_list = RegisteredModelTag.objects.bulk_create(
                [RegisteredModelTag(model=model, key=key, value=value) for key, value in tag_values.items()]
            )
    except IntegrityError:  # created by a concurrent request since the check above
        raise _name_taken(name) from None
    return model


def rename_registered_model(*, model: RegisteredModel, new_name: str) -> RegisteredModel:
    check_model_name(new_name, "new_name")
    if new_name == model.name:
        return model
    if RegisteredModel.objects.filter(workspace_id=model.workspace_id, name=new_name).exists():
        raise _name_taken(new_name)
    now = timezone.now()
    try:
        with transaction.atomic():
            RegisteredModel.objects.filter(pk=model.pk).update(name=new_name, updated_at=now)
            # MLflow counts a rename as an update of every version (they carry the model's name).
            ModelVersion.objects.filter(registered_model=model).update(updated_at=now)
    except IntegrityError:
        raise _name_taken(new_name) from None
    model.name, model.updated_at = new_name, now
    return model


def update_registered_model(*, model: RegisteredModel, description: str) -> RegisteredModel:
    """Sets the description; MLflow clears it when the request leaves it out."""
    check_description(description)
    now = timezone.now()
    RegisteredModel.objects.filter(pk=model.pk).update(description=description, updated_at=now)
    model.description, model.updated_at = description, now
    return model


def delete_registered_model(*, model: RegisteredModel) -> None:
    """Deletes the model with its versions, tags and aliases (the versions' files stay where they are)."""
    with transaction.atomic():
        RegisteredModel.objects.filter(pk=model.pk).delete()


def set_registered_model_tag(*, model: RegisteredModel, key: str, value: str) -> None:
    check_tag(key, value)
    RegisteredModelTag.objects.bulk_create(
        [RegisteredModelTag(model=model, key=key, value=value)],
        update_conflicts=True,
        unique_fields=["model", "key"],
        update_fields=["value"],
    )


def delete_registered_model_tag(*, model: RegisteredModel, key: str) -> None:
    """Deleting a tag the model does not have is not an error (as in MLflow)."""
    RegisteredModelTag.objects.filter(model=model, key=key).delete()


def set_registered_model_alias(*, model: RegisteredModel, alias: str, version: str) -> None:
    """Points `alias` at a version of the model, moving it if another version had it."""
    check_settable_alias(alias)
    number = parse_version(version, model.name)
    version_pk = (
        ModelVersion.objects.filter(registered_model=model, version=number)
        .values_list("pk", flat=True)
        .first()
    )
    if version_pk is None:
        raise version_not_found(model.name, version)
    RegisteredModelAlias.objects.bulk_create(
        [RegisteredModelAlias(model=model, alias=alias, version_id=version_pk)],
        update_conflicts=True,
        unique_fields=["model", "alias"],
        update_fields=["version"],
    )


def delete_registered_model_alias(*, model: RegisteredModel, alias: str) -> None:
    """Deleting an alias the model does not have is not an error (as in MLflow)."""
    check_alias(alias)
    RegisteredModelAlias.objects.filter(model=model, alias=alias).delete()
