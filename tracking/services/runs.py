"""Runs: creating and finishing them, and everything a run logs."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from tracking.errors import InvalidParameterValue, MlflowError, ResourceDoesNotExist
from tracking.key_registry import (
    PARAM,
    TAG,
    prune_keys,
    prune_run_keys,
    register_keys,
    register_run_keys,
    registering_keys,
)
from tracking.models import Dataset, Experiment, Param, Run, RunInput, RunModelLink, RunTag, Workspace
from tracking.models.experiments import ACTIVE, DELETED
from tracking.models.runs import TERMINAL_STATUSES
from tracking.queries.metric_charts import has_long_histories
from tracking.queries.runs import get_run, seen_run
from tracking.row_inserts import insert_row, inserting_pairs_of_created, row_insert
from tracking.run_changes import note_runs_changed, runs_change_due
from tracking.validation import (
    MAX_DATASET_DIGEST_LENGTH,
    MAX_DATASET_NAME_LENGTH,
    MAX_DATASET_SOURCE_LENGTH,
    MAX_DATASETS_PER_BATCH,
    MAX_INPUT_TAG_KEY_LENGTH,
    MAX_INPUT_TAG_VALUE_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_RUN_NAME_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    check_batch_sizes,
    check_key,
    check_length,
    invalid_value,
    truncate,
)

from .metric_points import (
    MetricPoint,
    record_model_points,
    record_points,
    record_points_if_active,
    records_points_in_one_statement,
)
from .params_and_tags import insert_params, pair_in_one_statement, param_changed, upsert_tags
from .run_names import generate_run_name

RUN_NAME_TAG = "mlflow.runName"
DATASET_CONTEXT_TAG = "mlflow.data.context"


def _check_run_name(name: str) -> str:
    return check_length("Run name", name, MAX_RUN_NAME_LENGTH)


def ensure_active(run: Run) -> None:
    if run.lifecycle_stage != ACTIVE:
        raise InvalidParameterValue(
            f"The run {run.uuid} must be in the 'active' state. Current state is {run.lifecycle_stage}."
        )


def create_run(
    *,
    experiment: Experiment,
    user_id: str = "",
    run_name: str = "",
    start_time: datetime | None = None,
    tags: Iterable[tuple[str, str]] = (),
) -> Run:
    if not experiment.is_active:
        raise InvalidParameterValue(
            f"The experiment {experiment.experiment_id} must be in the 'active' state. "
            f"Current state is {experiment.lifecycle_stage}."
        )
    tag_values = {
        check_key(key, f"tags[{index}].key"): truncate(value, MAX_TAG_VALUE_LENGTH)
        for index, (key, value) in enumerate(tags)
    }
    tagged_name = tag_values.get(RUN_NAME_TAG)
    if run_name and tagged_name and run_name != tagged_name:
        raise InvalidParameterValue(
            f"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values "
            f"(run_name='{run_name}', mlflow.runName='{tagged_name}')."
        )
    name = _check_run_name(run_name or tagged_name or generate_run_name())
    tag_values[RUN_NAME_TAG] = name
    run_uuid = uuid.uuid4().hex
    run = Run(
        uuid=run_uuid,
        experiment=experiment,
        name=name,
        user_id=user_id,
        status="RUNNING",
        start_time=start_time or timezone.now(),
        artifact_uri=f"mlflow-artifacts:/{experiment.number}/{run_uuid}/artifacts",
    )
    run.tag_list = list(tag_values.items())  # what a new run holds: its answer needs no reading back
    if connection.vendor == "postgresql" and not runs_change_due([experiment.pk]):
        _insert_run_in_one_statement(run, tag_values)
        return run
    with transaction.atomic():
        insert_row(run)
        upsert_tags(run.pk, tag_values)
        register_keys(experiment.pk, tags=tag_values)
        note_runs_changed([experiment.pk])
    return run


def _insert_run_in_one_statement(run: Run, tags: dict[str, str]) -> None:
    """PostgreSQL: the run, its tags (its name's among them) and their keys' registration in one
    statement, its own transaction (no BEGIN and COMMIT); sets the run's pk."""
    q = connection.ops.quote_name
    registering, key_params = registering_keys(run.experiment_id, TAG, list(tags))
    row = row_insert(run)
    tagging, tag_params = inserting_pairs_of_created(RunTag, "run_id", tags)
    with connection.cursor() as cursor:
        cursor.execute(
            f"{registering}created AS (INSERT INTO {q(Run._meta.db_table)} ({row.columns}) "
            f"VALUES ({', '.join(row.placeholders)}) RETURNING id), {tagging} SELECT id FROM created",
            [*key_params, *row.params, *tag_params],
        )
        (run.pk,) = cursor.fetchone()
    run._state.adding, run._state.db = False, connection.alias


def update_run(
    *, run: Run, status: str | None = None, end_time: datetime | None = None, run_name: str | None = None
) -> Run:
    ensure_active(run)
    changes: dict = {}
    if status:
        changes["status"] = status
    if end_time is not None:
        changes["end_time"] = end_time
    if run_name:
        changes["name"] = _check_run_name(run_name)
    with transaction.atomic():
        if changes:
            Run.objects.filter(pk=run.pk).update(**changes)
        if run_name:
            _set_tags(run, {RUN_NAME_TAG: changes["name"]})
        note_runs_changed([run.experiment_id])
        if status in TERMINAL_STATUSES and run.status not in TERMINAL_STATUSES and has_long_histories(run):
            # robust: a broker that is down must not fail the client's call; charts are then
            # drawn when first asked for.
            run_pk = run.pk
            transaction.on_commit(lambda: _warm_charts_later(run_pk), robust=True)
    for field, value in changes.items():
        setattr(run, field, value)
    return run


def _warm_charts_later(run_pk: int) -> None:
    from tracking.tasks import warm_metric_charts

    warm_metric_charts.delay(run_pk)


def delete_run(*, run: Run) -> None:
    with transaction.atomic():
        Run.objects.filter(pk=run.pk).update(lifecycle_stage=DELETED, deleted_at=timezone.now())
        prune_run_keys([run.pk])
        note_runs_changed([run.experiment_id])


def restore_run(*, run: Run) -> None:
    with transaction.atomic():
        Run.objects.filter(pk=run.pk).update(lifecycle_stage=ACTIVE, deleted_at=None)
        register_run_keys([run.pk])
        note_runs_changed([run.experiment_id])


# --- Params and tags ---------------------------------------------------------------------------


def _set_tags(run: Run, tags: dict[str, str]) -> None:
    upsert_tags(run.pk, tags)
    if RUN_NAME_TAG in tags:
        name = _check_run_name(tags[RUN_NAME_TAG])
        Run.objects.filter(pk=run.pk).update(name=name)
        run.name = name


def log_param(*, run: Run, key: str, value: str) -> None:
    ensure_active(run)
    check_key(key, "key", "Param key")
    value = truncate(value, MAX_PARAM_VALUE_LENGTH)
    if connection.vendor == "postgresql" and not runs_change_due([run.experiment_id]):
        # One statement, its own transaction: the param if it is new, its key's registration, and
        # the value held before the statement (a CTE's insert is invisible to the statement's
        # reads), which tells a repeat from a change. A refused change has written nothing: a
        # held param's key was registered already.
        q = connection.ops.quote_name
        logged, held = pair_in_one_statement(
            run,
            Param,
            PARAM,
            key,
            value,
            on_conflict="DO NOTHING RETURNING 1",
            select=f"EXISTS (SELECT 1 FROM written), (SELECT {q('value')} FROM {q(Param._meta.db_table)} "
            f"WHERE run_id = %s AND {q('key')} = %s)",
            select_params=[run.pk, key],
        )
        if not logged:
            if held is None:  # logged by a write that committed while this one ran: read it now
                held = Param.objects.filter(run=run, key=key).values_list("value", flat=True).first()
            if held != value:
                raise param_changed(run, key, held, value)
        return
    with transaction.atomic():
        insert_params(run, {key: value})
        register_keys(run.experiment_id, params=[key])
        note_runs_changed([run.experiment_id])


def set_tag(*, run: Run, key: str, value: str) -> None:
    ensure_active(run)
    check_key(key, "key")
    value = truncate(value, MAX_TAG_VALUE_LENGTH)
    if connection.vendor == "postgresql" and key != RUN_NAME_TAG and not runs_change_due([run.experiment_id]):
        # The tag and its key's registration in one statement, its own transaction (no BEGIN
        # and COMMIT): what the run's name tag and the experiment's change mark also write needs one.
        q = connection.ops.quote_name
        pair_in_one_statement(
            run, RunTag, TAG, key, value, on_conflict=f"DO UPDATE SET {q('value')} = EXCLUDED.{q('value')}"
        )
        return
    with transaction.atomic():
        _set_tags(run, {key: value})
        register_keys(run.experiment_id, tags=[key])
        note_runs_changed([run.experiment_id])


def delete_tag(*, run: Run, key: str) -> None:
    ensure_active(run)
    with transaction.atomic():
        deleted, _ = RunTag.objects.filter(run=run, key=key).delete()
        if deleted:
            prune_keys(run.experiment_id, TAG, [key])
        note_runs_changed([run.experiment_id])
    if not deleted:
        raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run.uuid}")


# --- Metrics and batches -----------------------------------------------------------------------


def check_metrics(points: Sequence[MetricPoint], path: str = "metrics[{}].") -> None:
    """Checks each distinct key once (a batch repeats a few keys a thousand times) and every timestamp."""
    checked: set[str] = set()
    for index, point in enumerate(points):
        if point.key not in checked:
            check_key(point.key, f"{path.format(index)}key" if path else "key", "Metric name")
            checked.add(point.key)
        if point.timestamp < 0:
            # MLflow's wording to the letter, its trailing space included.
            raise invalid_value(
                f"{path.format(index)}timestamp",
                point.timestamp,
                f"metric '{point.key}' (value={point.value}). Timestamp must be a nonnegative long (64-bit integer) ",
            )


def log_metric_to(*, workspace: Workspace, run_id: str, point: MetricPoint) -> None:
    """`log_metric` to the run of this id: see `_logged_without_look_up`."""
    if not _logged_without_look_up(workspace, run_id, [point], ""):
        log_metric(run=get_run(workspace, run_id), point=point)


def log_batch_to(*, workspace: Workspace, run_id: str, batch: Batch) -> None:
    """`log_batch` to the run of this id: see `_logged_without_look_up`."""
    if batch.params or batch.tags or not _logged_without_look_up(workspace, run_id, list(batch.metrics)):
        log_batch(run=get_run(workspace, run_id), batch=batch)


def _logged_without_look_up(
    workspace: Workspace, run_id: str, points: list[MetricPoint], path: str = "metrics[{}]."
) -> bool:
    """PostgreSQL: stores the points of a run this process has looked up before in one round
    trip, without looking it up again (its statement checks that the run is there and active),
    when nothing else is to be written; returns whether it did. Otherwise the caller takes the
    usual way, which looks the run up and checks everything in its order, errors included."""
    if not records_points_in_one_statement() or not points or connection.in_atomic_block:
        return False
    run = seen_run(workspace, run_id)
    if run is None or any(point.model_id for point in points) or runs_change_due([run.experiment_id]):
        return False
    try:
        check_batch_sizes(len(points), 0, 0)
        check_metrics(points, path)
    except MlflowError:
        return False
    return record_points_if_active(run, points)


def log_metric(*, run: Run, point: MetricPoint) -> None:
    ensure_active(run)
    check_metrics([point], "")
    # A training loop waits for every call: when storing the point is one statement (PostgreSQL)
    # and nothing else is written, that statement is its own transaction, without the two round
    # trips of BEGIN and COMMIT.
    several = not records_points_in_one_statement() or point.model_id or runs_change_due([run.experiment_id])
    with transaction.atomic() if several else nullcontext():
        record_points(run, [point])
        record_model_points(run, [point])
        note_runs_changed([run.experiment_id])


@dataclass(frozen=True)
class Batch:
    metrics: Sequence[MetricPoint] = ()
    params: Sequence[tuple[str, str]] = ()
    tags: Sequence[tuple[str, str]] = ()


def log_batch(*, run: Run, batch: Batch) -> None:
    """Logs all of a batch or, if any entry is invalid, none of it."""
    check_batch_sizes(len(batch.metrics), len(batch.params), len(batch.tags))
    ensure_active(run)
    points = list(batch.metrics)
    check_metrics(points)
    params: dict[str, str] = {}
    duplicates = []
    for index, (key, value) in enumerate(batch.params):
        check_key(key, f"params[{index}].key", "Param key")
        if key in params:
            duplicates.append(key)
        params[key] = truncate(value, MAX_PARAM_VALUE_LENGTH)
    if duplicates:
        raise InvalidParameterValue(
            f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure the request "
            "contains only one param value per param key."
        )
    tags = {
        check_key(key, f"tags[{index}].key", "Tag key"): truncate(value, MAX_TAG_VALUE_LENGTH)
        for index, (key, value) in enumerate(batch.tags)
    }
    # Metrics alone, on PostgreSQL, are one statement: its own transaction, as in log_metric.
    several = (
        params
        or tags
        or not records_points_in_one_statement()
        or any(point.model_id for point in points)
        or runs_change_due([run.experiment_id])
    )
    with transaction.atomic() if several else nullcontext():
        if params:
            insert_params(run, params)
        if tags:
            _set_tags(run, tags)
        register_keys(run.experiment_id, params=params, tags=tags)
        record_points(run, points)
        record_model_points(run, points)
        note_runs_changed([run.experiment_id])


# --- Inputs and outputs ------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str = ""
    profile: str = ""
    tags: tuple[tuple[str, str], ...] = ()


def _check_dataset(dataset: DatasetSpec, index: int) -> None:
    path = f"datasets[{index}]"
    check_length(f"{path}.dataset.name", dataset.name, MAX_DATASET_NAME_LENGTH)
    check_length(f"{path}.dataset.digest", dataset.digest, MAX_DATASET_DIGEST_LENGTH)
    check_length(f"{path}.dataset.source", dataset.source, MAX_DATASET_SOURCE_LENGTH)
    for key, value in dataset.tags:
        check_length(f"{path}.tags.key", key, MAX_INPUT_TAG_KEY_LENGTH)
        check_length(f"{path}.tags.value", value, MAX_INPUT_TAG_VALUE_LENGTH)


def log_inputs(*, run: Run, datasets: Sequence[DatasetSpec] = (), model_ids: Sequence[str] = ()) -> None:
    ensure_active(run)
    if len(datasets) > MAX_DATASETS_PER_BATCH:
        raise InvalidParameterValue(
            f"A batch logging request can contain at most {MAX_DATASETS_PER_BATCH} datasets. Got {len(datasets)}."
        )
    for index, dataset in enumerate(datasets):
        _check_dataset(dataset, index)
    with transaction.atomic():
        for spec in datasets:
            dataset, _ = Dataset.objects.get_or_create(
                experiment_id=run.experiment_id,
                name=spec.name,
                digest=spec.digest,
                defaults={
                    "source_type": spec.source_type,
                    "source": spec.source,
                    "schema": spec.schema,
                    "profile": spec.profile,
                },
            )
            context = dict(spec.tags).get(DATASET_CONTEXT_TAG, "")
            # Logging a dataset the run already has changes nothing, as in MLflow.
            RunInput.objects.get_or_create(
                run=run,
                dataset=dataset,
                defaults={"tags": [list(tag) for tag in spec.tags], "context": context},
            )
        _link_models(run, model_ids, RunModelLink.INPUT, step=0)
        note_runs_changed([run.experiment_id])  # a filter may name the runs' datasets


def log_outputs(*, run: Run, models: Sequence[tuple[str, int]]) -> None:
    ensure_active(run)
    with transaction.atomic():
        for model_id, step in models:
            _link_models(run, [model_id], RunModelLink.OUTPUT, step=step)


def _link_models(run: Run, model_ids: Iterable[str], direction: str, step: int) -> None:
    RunModelLink.objects.bulk_create(
        [RunModelLink(run=run, model_id=model_id, direction=direction, step=step) for model_id in model_ids],
        update_conflicts=True,
        unique_fields=["run", "model_id", "direction"],
        update_fields=["step"],
    )
