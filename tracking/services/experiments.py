"""Creating, renaming, deleting and tagging experiments."""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import nullcontext
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tracking.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracking.key_registry import forget_experiment_keys, register_experiment_keys
from tracking.models import Experiment, ExperimentTag, Run, Workspace
from tracking.models.experiments import ACTIVE, DELETED
from tracking.raw_sql import fetch_rows, quote, table
from tracking.row_inserts import insert_row, inserting_pairs_of_created, row_insert
from tracking.validation import (
    MAX_EXPERIMENT_TAG_VALUE_LENGTH,
    check_experiment_name,
    check_key,
    check_length,
)

# An experiment's default artifact location is served through this server's artifact proxy, which
# the client resolves against the tracking URI (so a /ws/<name> prefix is kept).
DEFAULT_ARTIFACT_LOCATION_PREFIX = "mlflow-artifacts:/"


def artifact_location_for(number: int) -> str:
    return f"{DEFAULT_ARTIFACT_LOCATION_PREFIX}{number}"


def _stored_artifact_location(location: str) -> str:
    """MLflow's server makes a relative local path absolute against its own working directory.
    In local mode (sign-in not required: the server listens on this machine only, so its client
    shares its disk, as with `mlflow server` on a laptop) ours does the same, and the client
    writes where MLflow's would. With sign-in required, the server's folders are no caller's
    business: a relative path is kept as given, and the client resolves it on its own side. The
    server never reads or writes a local artifact location either way."""
    if settings.STUDIO_REQUIRE_AUTH or urlsplit(location).scheme or os.path.isabs(location):
        return location
    return os.path.abspath(location)


def create_experiment(
    *,
    workspace: Workspace,
    name: str,
    artifact_location: str | None = None,
    tags: Iterable[tuple[str, str]] = (),
) -> Experiment:
    check_experiment_name(name)
    tags = [(check_key(key, "key"), _check_tag_value(value)) for key, value in tags]
    if artifact_location and artifact_location.startswith("runs:"):
        raise InvalidParameterValue(f"Artifact location cannot be a runs:/ URI. Given: '{artifact_location}'")
    now = timezone.now()
    experiment = Experiment(
        workspace=workspace,
        number=0,  # the workspace's next number, taken below
        name=name,
        artifact_location=_stored_artifact_location(artifact_location) if artifact_location else "",
        created_at=now,
        updated_at=now,
    )
    tag_values = dict(tags)
    # A taken name is found by the unique constraint (workspace, name): a look-up first would
    # cost a statement on every creation, and a concurrent one could still take the name.
    try:
        if connection.vendor == "postgresql":
            # Inside a caller's transaction, a savepoint: a taken name must leave it usable.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                _insert_numbered(experiment, tag_values)
        else:
            with transaction.atomic():
                experiment.number = _next_experiment_number(workspace)
                experiment.artifact_location = experiment.artifact_location or artifact_location_for(
                    experiment.number
                )
                insert_row(experiment)
                ExperimentTag.objects.bulk_create(
                    ExperimentTag(experiment=experiment, key=key, value=value)
                    for key, value in tag_values.items()
                )
    except IntegrityError:
        raise _name_taken(name) from None
    return experiment


def _insert_numbered(experiment: Experiment, tags: dict[str, str]) -> None:
    """PostgreSQL: `_next_experiment_number`, the experiment's INSERT (its default artifact location
    made from its number) and its tags' in one statement, its own transaction (no BEGIN and
    COMMIT); sets the experiment's pk, number and artifact location. A taken name fails the whole
    statement, the number's count included."""
    row = row_insert(experiment)
    counter = quote("last_experiment_number")
    placeholders, params = list(row.placeholders), list(row.params)
    number_at, location_at = row.index_of("number"), row.index_of("artifact_location")
    placeholders[number_at] = "(SELECT n FROM numbered)"
    if not experiment.artifact_location:
        placeholders[location_at] = "CONCAT(%s::text, (SELECT n FROM numbered))"
        params[location_at] = DEFAULT_ARTIFACT_LOCATION_PREFIX
    del params[number_at]  # the number is the statement's own, not a parameter
    sql = (
        f"WITH numbered AS (UPDATE {table(Workspace)} SET {counter} = {counter} + 1 WHERE id = %s "
        f"RETURNING {counter} AS n), "
        f"created AS (INSERT INTO {table(Experiment)} ({row.columns}) VALUES ({', '.join(placeholders)}) "
        f"RETURNING id, {quote('number')}, {quote('artifact_location')})"
    )
    arguments = [experiment.workspace_id, *params]
    if tags:
        tagging, tag_params = inserting_pairs_of_created(ExperimentTag, "experiment_id", tags)
        sql, arguments = f"{sql}, {tagging}", [*arguments, *tag_params]
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} SELECT * FROM created", arguments)
        experiment.pk, experiment.number, experiment.artifact_location = cursor.fetchone()
    experiment._state.adding, experiment._state.db = False, connection.alias


def _next_experiment_number(workspace: Workspace) -> int:
    """Bumps the workspace's counter and reads it in one statement (its row stays locked until
    the creation commits, so numbers are never handed out twice)."""
    counter = quote("last_experiment_number")
    (number,) = fetch_rows(
        f"UPDATE {table(Workspace)} SET {counter} = {counter} + 1 WHERE id = %s RETURNING {counter}",
        [workspace.pk],
    )[0]
    return number


def _name_taken(name: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(f"Experiment(name={name}) already exists.")


def _check_tag_value(value: str) -> str:
    return check_length("Experiment tag value", value, MAX_EXPERIMENT_TAG_VALUE_LENGTH)


def rename_experiment(*, experiment: Experiment, new_name: str) -> Experiment:
    check_experiment_name(new_name)
    if not experiment.is_active:
        raise InvalidParameterValue("Cannot rename a non-active experiment.")
    if new_name == experiment.name:
        return experiment
    if Experiment.objects.filter(workspace_id=experiment.workspace_id, name=new_name).exists():
        raise _name_taken(new_name)
    try:
        with transaction.atomic():
            Experiment.objects.filter(pk=experiment.pk).update(name=new_name, updated_at=timezone.now())
    except IntegrityError:
        raise _name_taken(new_name) from None
    experiment.name = new_name
    return experiment


def delete_experiment(*, experiment: Experiment) -> None:
    """Soft delete, as MLflow does: the experiment and its runs move to the 'deleted' stage."""
    if not experiment.is_active:
        raise ResourceDoesNotExist(f"Experiment with id {experiment.experiment_id} is already deleted.")
    _set_stage(experiment, DELETED)


def restore_experiment(*, experiment: Experiment) -> None:
    if experiment.is_active:
        # MLflow answers 404 here: there is no deleted experiment with this id to restore.
        raise ResourceDoesNotExist(f"No deleted experiment with id {experiment.experiment_id} to restore.")
    _set_stage(experiment, ACTIVE)


def _set_stage(experiment: Experiment, stage: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        Experiment.objects.filter(pk=experiment.pk).update(lifecycle_stage=stage, updated_at=now)
        runs = Run.objects.filter(experiment=experiment).exclude(lifecycle_stage=stage)
        runs.update(lifecycle_stage=stage, deleted_at=now if stage == DELETED else None)
        if stage == DELETED:
            forget_experiment_keys(experiment.pk)
        else:
            register_experiment_keys(experiment.pk)
    experiment.lifecycle_stage = stage


def set_experiment_tag(*, experiment: Experiment, key: str, value: str) -> None:
    check_key(key, "key")
    _check_tag_value(value)
    if not experiment.is_active:
        raise InvalidParameterValue(
            f"The experiment {experiment.experiment_id} must be in the 'active' state. Current state is deleted."
        )
    with transaction.atomic():
        ExperimentTag.objects.update_or_create(experiment=experiment, key=key, defaults={"value": value})
        Experiment.objects.filter(pk=experiment.pk).update(updated_at=timezone.now())


def delete_experiment_tag(*, experiment: Experiment, key: str) -> None:
    if not experiment.is_active:
        raise InvalidParameterValue(
            f"The experiment {experiment.experiment_id} must be in the 'active' state. Current state is deleted."
        )
    deleted, _ = ExperimentTag.objects.filter(experiment=experiment, key=key).delete()
    if not deleted:
        raise ResourceDoesNotExist(
            f"No tag with name: {key} in experiment with id {experiment.experiment_id}"
        )
