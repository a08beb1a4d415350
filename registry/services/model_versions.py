"""Model versions: registering them, describing, tagging, moving between stages and deleting them.

Registration is synchronous: the version's MLmodel is read and parsed during the request, so a
version is READY when the answer comes back, or FAILED_REGISTRATION with a status_message
saying what is wrong with its files. PENDING_REGISTRATION is never used. A source outside this
server (sources.is_external_source) and a logged model with no files yet register READY with
nothing read, as in MLflow.

A version refers to its files (`storage_location`) instead of copying them. That reference
survives deleting the run or the experiment that produced it: both are soft deletes that leave
the artifacts in place, and the run's id stays on the version (`run_id`) after its row is gone
(`lineage_run` is then NULL). Whatever purges artifacts one day must keep the folders registered
versions point at.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from registry.mlmodel import ModelFolder, ModelFolderError, read_model_folder
from registry.models import (
    FAILED_REGISTRATION,
    READY,
    STAGE_ARCHIVED,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
)
from registry.validation import (
    MODEL_VERSIONS_TAG,
    PROMPT_TAG,
    canonical_stage,
    check_archiving_stage,
    check_description,
    check_tag,
    check_tags,
    check_text,
)
from tracking.artifacts import default_store
from tracking.models import LoggedModel, LoggedModelTag, Workspace
from tracking.row_inserts import insert_row, inserting_pairs_of_created, row_insert
from tracking.validation import MAX_TAG_VALUE_LENGTH

from .sources import Source, resolve_source


def create_model_version(
    *,
    workspace: Workspace,
    model: RegisteredModel,
    source: str,
    run_id: str | None = None,
    model_id: str | None = None,
    tags: Iterable[tuple[str, str]] = (),
    run_link: str = "",
    description: str = "",
    user_id: str = "",
) -> ModelVersion:
    """Registers the model at `source` as the next version of `model`.

    1. Check the tags and description, and the source against its run or logged model.
    2. Read the model's folder (outside the transaction): MLmodel, environment, file list.
    3. In one transaction: take the next version number, insert the version and its tags, and
       record the registration on the logged model (`mlflow.modelVersions`, as MLflow does).

    The version comes back with `tag_list` (the tags it was stored with) and its registered model,
    so its answer can be written without reading anything back.
    """
    tag_values = check_tags(list(tags))
    check_description(description)
    for field, value in (
        ("source", source),
        ("run_id", run_id),
        ("model_id", model_id),
        ("run_link", run_link),
    ):
        check_text(field, value or "")
    is_prompt = tag_values.get(PROMPT_TAG, "false").lower() == "true"
    resolved = resolve_source(workspace, source=source, run_id=run_id, model_id=model_id, is_prompt=is_prompt)
    status, message, folder = _read_files(workspace, resolved)
    now = timezone.now()
    version = ModelVersion(
        registered_model=model,
        version=0,  # the next number, taken below
        description=description,
        user_id=user_id,
        source=resolved.source,
        storage_location=resolved.storage_location,
        run_id=resolved.run_id,
        lineage_run=resolved.run,
        run_link=run_link,
        model_id=resolved.model_id,
        status=status,
        status_message=message,
        created_at=now,
        updated_at=now,
        **_kept(folder),
    )
    # On PostgreSQL the number, the version and its tags are one statement, atomic by itself: a
    # registration needs a transaction only to record itself on a logged model too.
    one_statement = connection.vendor == "postgresql"
    with transaction.atomic() if resolved.logged_model is not None or not one_statement else nullcontext():
        if one_statement:
            _insert_numbered(version, tag_values, now)
        else:
            version.version = _take_version_number(model, now)
            insert_row(version)
            version.tag_list = (
                ModelVersionTag.objects.bulk_create(
                    [
                        ModelVersionTag(version=version, key=key, value=value)
                        for key, value in tag_values.items()
                    ]
                )
                if tag_values
                else []
            )
        if resolved.logged_model is not None:
            _record_registration(resolved.logged_model, model.name, version.version)
    version.registered_model = model
    return version


def _take_version_number(model: RegisteredModel, now: datetime) -> int:
    """The model's next version number, counted and read in one statement.

    The UPDATE locks the model's row until the transaction ends, so two registrations never get
    the same number; RETURNING (SQLite 3.35+, PostgreSQL) spares the second round trip a
    SELECT would cost.
    """
    table = connection.ops.quote_name(RegisteredModel._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_version_number = last_version_number + 1, updated_at = %s "
            "WHERE id = %s RETURNING last_version_number",
            [connection.ops.adapt_datetimefield_value(now), model.pk],
        )
        (number,) = cursor.fetchone()
    return number


def _insert_numbered(version: ModelVersion, tags: dict[str, str], now: datetime) -> None:
    """PostgreSQL: `_take_version_number`, the version's INSERT and its tags' in one statement
    (data-modifying CTEs), which sets the version's pk, number and `tag_list`.

    The UPDATE of the model's row comes first: a concurrent registration of the same model waits
    for it to commit, then counts from the number it took.
    """
    q = connection.ops.quote_name
    row = row_insert(version)
    number_at = row.index_of("version")
    placeholders = [
        *row.placeholders[:number_at],
        "(SELECT n FROM numbered)",
        *row.placeholders[number_at + 1 :],
    ]
    params = [*row.params[:number_at], *row.params[number_at + 1 :]]
    sql = (
        f"WITH numbered AS (UPDATE {q(RegisteredModel._meta.db_table)} "
        "SET last_version_number = last_version_number + 1, updated_at = %s "
        "WHERE id = %s RETURNING last_version_number AS n), "
        f"created AS (INSERT INTO {q(ModelVersion._meta.db_table)} ({row.columns}) "
        f"VALUES ({', '.join(placeholders)}) RETURNING id, {q('version')}) "
    )
    arguments = [connection.ops.adapt_datetimefield_value(now), version.registered_model_id, *params]
    if tags:
        tagging, tag_params = inserting_pairs_of_created(ModelVersionTag, "version_id", tags)
        sql, arguments = f"{sql}, {tagging} ", [*arguments, *tag_params]
    with connection.cursor() as cursor:
        cursor.execute(sql + f"SELECT id, {q('version')} FROM created", arguments)
        version.pk, version.version = cursor.fetchone()
    version._state.adding = False
    version.tag_list = [ModelVersionTag(version=version, key=key, value=value) for key, value in tags.items()]


def _read_files(workspace: Workspace, resolved: Source) -> tuple[str, str, ModelFolder | None]:
    """(status, status message, what was read) for a version's files."""
    folder = resolved.store_folder(workspace)
    if folder is None:  # a prompt, or files on another store: nothing of ours to read
        return READY, "", None
    logged = resolved.logged_model
    if (
        logged is not None
        and resolved.storage_location == logged.artifact_location
        and not default_store().list(folder)
    ):
        # MLflow registers a logged model before (or without) its files; so do we.
        return READY, "", None
    try:
        return READY, "", read_model_folder(default_store(), folder, resolved.storage_location)
    except ModelFolderError as error:
        return FAILED_REGISTRATION, str(error), None


def _kept(folder: ModelFolder | None) -> dict:
    if folder is None:
        return {}
    mlmodel = folder.mlmodel
    return {
        "flavors": mlmodel.flavors,
        "signature_inputs": mlmodel.signature_inputs,
        "signature_outputs": mlmodel.signature_outputs,
        "signature_params": mlmodel.signature_params,
        "input_example_info": mlmodel.saved_input_example_info,
        "input_example": folder.input_example,
        "mlflow_version": mlmodel.mlflow_version[:64],
        "model_uuid": mlmodel.model_uuid[:64],
        "python_env": folder.python_env,
        "conda_env": folder.conda_env,
        "requirements": folder.requirements,
        "files": [list(entry) for entry in folder.files],
        "artifact_size": folder.total_size,
    }


def _record_registration(logged_model: LoggedModel, name: str, version: int) -> None:
    """Adds {name, version} to the logged model's `mlflow.modelVersions` tag (a JSON list)."""
    existing = (
        LoggedModelTag.objects.select_for_update()
        .filter(model=logged_model, key=MODEL_VERSIONS_TAG)
        .values_list("value", flat=True)
        .first()
    )
    try:
        entries = json.loads(existing) if existing else []
    except ValueError:
        entries = []
    entry = {"name": name, "version": version}  # a number, as MLflow's server writes it
    if not isinstance(entries, list):
        entries = []
    if entry not in entries and {"name": name, "version": str(version)} not in entries:
        entries.append(entry)
    value = json.dumps(entries)
    while len(value) > MAX_TAG_VALUE_LENGTH and len(entries) > 1:
        entries.pop(0)  # the tag has a size limit: the oldest registrations go first
        value = json.dumps(entries)
    LoggedModelTag.objects.bulk_create(
        [LoggedModelTag(model=logged_model, key=MODEL_VERSIONS_TAG, value=value)],
        update_conflicts=True,
        unique_fields=["model", "key"],
        update_fields=["value"],
    )


def update_model_version(*, version: ModelVersion, description: str) -> ModelVersion:
    """Sets the description; MLflow clears it when the request leaves it out."""
    check_description(description)
    now = timezone.now()
    ModelVersion.objects.filter(pk=version.pk).update(description=description, updated_at=now)
    version.description, version.updated_at = description, now
    return version


def delete_model_version(*, version: ModelVersion) -> None:
    """Deletes the version, its tags and aliases; its number is never given out again."""
    with transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).delete()
        RegisteredModel.objects.filter(pk=version.registered_model_id).update(updated_at=timezone.now())


def transition_model_version_stage(
    *, version: ModelVersion, stage: str, archive_existing_versions: bool = False
) -> ModelVersion:
    """Moves the version to `stage` (any case); optionally archives the others in that stage."""
    stage = canonical_stage(stage)
    if archive_existing_versions:
        check_archiving_stage(stage)
    now = timezone.now()
    with transaction.atomic():
        if archive_existing_versions:
            ModelVersion.objects.filter(
                registered_model_id=version.registered_model_id, current_stage=stage
            ).exclude(pk=version.pk).update(current_stage=STAGE_ARCHIVED, updated_at=now)
        ModelVersion.objects.filter(pk=version.pk).update(current_stage=stage, updated_at=now)
        RegisteredModel.objects.filter(pk=version.registered_model_id).update(updated_at=now)
    version.current_stage, version.updated_at = stage, now
    return version


def set_model_version_tag(*, version: ModelVersion, key: str, value: str) -> None:
    check_tag(key, value)
    ModelVersionTag.objects.bulk_create(
        [ModelVersionTag(version=version, key=key, value=value)],
        update_conflicts=True,
        unique_fields=["version", "key"],
        update_fields=["value"],
    )


def delete_model_version_tag(*, version: ModelVersion, key: str) -> None:
    """Deleting a tag the version does not have is not an error (as in MLflow)."""
    ModelVersionTag.objects.filter(version=version, key=key).delete()
