"""MLflow 3 logged models: creating, finalising, tagging and deleting them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Experiment, LoggedModel, LoggedModelParam, LoggedModelTag
from tracking.models.experiments import DELETED
from tracking.models.logged_models import STATUSES
from tracking.validation import MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH, check_key, truncate

from .run_names import generate_run_name

_STATUS_NAMES = {name for name, _ in STATUSES}


def models_folder(experiment: Experiment, model_id: str) -> str:
    return f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts"


def create_logged_model(
    *,
    experiment: Experiment,
    name: str = "",
    model_type: str = "",
    source_run_id: str = "",
    params: Iterable[tuple[str, str]] = (),
    tags: Iterable[tuple[str, str]] = (),
) -> LoggedModel:
    if not experiment.is_active:
        raise InvalidParameterValue(
            f"The experiment {experiment.experiment_id} must be in the 'active' state. Current state is deleted."
        )
    if "/" in name or ":" in name:
        raise InvalidParameterValue(f"Invalid model name '{name}': it cannot contain '/' or ':'.")
    params = {check_key(k, "params.key", "Param key"): truncate(v, MAX_PARAM_VALUE_LENGTH) for k, v in params}
    tags = {check_key(k, "tags.key", "Tag key"): truncate(v, MAX_TAG_VALUE_LENGTH) for k, v in tags}
    model_id = f"m-{uuid.uuid4().hex}"
    now = timezone.now()
    with transaction.atomic():
        model = LoggedModel.objects.create(
            model_id=model_id,
            experiment=experiment,
            name=name or generate_run_name(),
            model_type=model_type,
            source_run_id=source_run_id,
            artifact_location=models_folder(experiment, model_id),
            created_at=now,
            updated_at=now,
        )
        LoggedModelParam.objects.bulk_create(
            LoggedModelParam(model=model, key=k, value=v) for k, v in params.items()
        )
        LoggedModelTag.objects.bulk_create(
            LoggedModelTag(model=model, key=k, value=v) for k, v in tags.items()
        )
    return model


def finalize_logged_model(*, model: LoggedModel, status: str) -> LoggedModel:
    if status not in _STATUS_NAMES:
        raise InvalidParameterValue(f"Invalid logged model status '{status}'.")
    model.status = status
    model.updated_at = timezone.now()
    model.save(update_fields=["status", "updated_at"])
    return model


def set_logged_model_tags(*, model: LoggedModel, tags: Iterable[tuple[str, str]]) -> None:
    tags = {check_key(k, "tags.key", "Tag key"): truncate(v, MAX_TAG_VALUE_LENGTH) for k, v in tags}
    with transaction.atomic():
        LoggedModelTag.objects.bulk_create(
            [LoggedModelTag(model=model, key=k, value=v) for k, v in tags.items()],
            update_conflicts=True,
            unique_fields=["model", "key"],
            update_fields=["value"],
        )
        LoggedModel.objects.filter(pk=model.pk).update(updated_at=timezone.now())


def delete_logged_model_tag(*, model: LoggedModel, key: str) -> None:
    deleted, _ = LoggedModelTag.objects.filter(model=model, key=key).delete()
    if not deleted:
        raise ResourceDoesNotExist(f"No tag with key {key!r} found for model with ID {model.model_id!r}.")


def log_logged_model_params(*, model: LoggedModel, params: Iterable[tuple[str, str]]) -> None:
    params = {check_key(k, "params.key", "Param key"): truncate(v, MAX_PARAM_VALUE_LENGTH) for k, v in params}
    with transaction.atomic():
        LoggedModelParam.objects.bulk_create(
            [LoggedModelParam(model=model, key=k, value=v) for k, v in params.items()],
            update_conflicts=True,
            unique_fields=["model", "key"],
            update_fields=["value"],
        )


def delete_logged_model(*, model: LoggedModel) -> None:
    """Soft delete, as MLflow does; the files stay until the model is purged."""
    LoggedModel.objects.filter(pk=model.pk).update(lifecycle_stage=DELETED, updated_at=timezone.now())
