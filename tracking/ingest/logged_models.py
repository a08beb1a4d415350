"""Importing MLflow 3 logged models: one transaction per model, after its files are copied.

A model's metric files repeat the run's points with the run's id ("timestamp value step run_id");
they become the model's metrics. A model already in the workspace is completed, as runs are.
"""

from __future__ import annotations

from tracking.models import Experiment, LoggedModel, LoggedModelMetric, LoggedModelParam, LoggedModelTag
from tracking.services.logged_models import models_folder

from .copying import copy_folder, stored_sizes
from .experiments import Imported
from .importer import Job
from .locations import is_local, moment
from .reader import LoggedModelEntry, read_model_points

MAX_KEY = 250


def import_logged_models(job: Job, experiments: Imported) -> None:
    cursor = job.checkpoint.get("logged_models") or {}
    if cursor.get("finished"):
        return
    order = [entry.source_id for entry, _ in experiments]
    start = order.index(cursor["experiment"]) if cursor.get("experiment") in order else 0
    for entry, experiment in experiments[start:]:
        after = cursor.get("after") if cursor.get("experiment") == entry.source_id else None
        for model in job.reader.logged_models(entry):
            if after is None or model.model_id > after:
                _import_one(job, entry.source_id, model, experiment)
    with job.step("logged models imported"):
        job.checkpoint["logged_models"] = {"finished": True}


def _import_one(job: Job, source_id: str, entry: LoggedModelEntry, experiment: Experiment) -> None:
    report = job.report
    report.read("logged_models")
    found = (
        LoggedModel.objects.filter(model_id=entry.model_id)
        .values_list("pk", "experiment__workspace_id")
        .first()
    )
    if found is not None and found[1] != job.workspace.pk:
        job.source.problem(entry.folder, "a logged model with this id is in another workspace; not imported")
        found, skip = None, True
    else:
        skip = False
    local = is_local(entry.artifact_location) or entry.artifact_location.startswith("mlflow-artifacts:")
    if not skip and local:
        destination = f"{experiment.number}/models/{entry.model_id}/artifacts"
        copy_folder(
            workspace=job.workspace,
            source=job.source,
            folder=entry.folder / "artifacts",
            destination=destination,
            report=report,
            beat=job.beat,
            known=stored_sizes(job.workspace, destination) if found else None,
        )
    params = _keys(job, entry, "params")
    tags = _keys(job, entry, "tags")
    points = [
        (point, run_id)
        for key, path in job.source.files(entry.folder / "metrics")
        if len(key) <= MAX_KEY
        for point, run_id in read_model_points(job.source, path, key)
    ]
    report.read("logged_model_params", len(params))
    report.read("logged_model_tags", len(tags))
    report.read("logged_model_metrics", len(points))
    with job.step(f"logged models of experiment {experiment.number}"):
        if not skip:
            model_pk = found[0] if found else _create(entry, experiment, local).pk
            report.wrote("logged_models", 0 if found else 1)
            _write_children(job, model_pk, params, tags, points, existed=found is not None)
        job.checkpoint["logged_models"] = {"experiment": source_id, "after": entry.model_id}
        job.done += 1


def _keys(job: Job, entry: LoggedModelEntry, folder: str) -> dict[str, str]:
    values = job.reader.key_files(entry.folder / folder)
    for key in [key for key in values if len(key) > MAX_KEY]:
        job.source.problem(entry.folder / folder / key, f"a key over {MAX_KEY} characters; not imported")
        del values[key]
    return values


def _create(entry: LoggedModelEntry, experiment: Experiment, local: bool) -> LoggedModel:
    created = moment(entry.created_ms)
    return LoggedModel.objects.create(
        model_id=entry.model_id,
        experiment=experiment,
        name=entry.name[:500] or entry.model_id,
        model_type=entry.model_type[:500],
        source_run_id=entry.source_run_id[:32],
        status=entry.status,
        status_message=entry.status_message,
        artifact_location=models_folder(experiment, entry.model_id) if local else entry.artifact_location,
        lifecycle_stage=entry.lifecycle_stage,
        created_at=created,
        updated_at=moment(entry.updated_ms, created),
    )


def _write_children(
    job: Job, model_pk: int, params: dict, tags: dict, points: list, *, existed: bool
) -> None:
    have_params = (
        set(LoggedModelParam.objects.filter(model_id=model_pk).values_list("key", flat=True))
        if existed
        else set()
    )
    have_tags = (
        set(LoggedModelTag.objects.filter(model_id=model_pk).values_list("key", flat=True))
        if existed
        else set()
    )
    new_params = [
        LoggedModelParam(model_id=model_pk, key=k, value=v) for k, v in params.items() if k not in have_params
    ]
    new_tags = [
        LoggedModelTag(model_id=model_pk, key=k, value=v) for k, v in tags.items() if k not in have_tags
    ]
    LoggedModelParam.objects.bulk_create(new_params, ignore_conflicts=True)
    LoggedModelTag.objects.bulk_create(new_tags, ignore_conflicts=True)
    job.report.wrote("logged_model_params", len(new_params))
    job.report.wrote("logged_model_tags", len(new_tags))
    # NaN is stored as NULL, which a unique index never matches: compare in Python.
    have = (
        set(
            LoggedModelMetric.objects.filter(model_id=model_pk).values_list(
                "key", "value", "timestamp", "step", "run_id"
            )
        )
        if existed
        else set()
    )
    new = []
    for point, run_id in points:
        value = None if point.value != point.value else point.value
        identity = (point.key, value, point.timestamp, point.step, run_id)
        if identity in have:
            continue
        have.add(identity)
        new.append(
            LoggedModelMetric(
                model_id=model_pk,
                key=point.key,
                value=value,
                timestamp=point.timestamp,
                step=point.step,
                run_id=run_id,
                dataset_name=(point.dataset_name or None) and point.dataset_name[:500],
                dataset_digest=(point.dataset_digest or None) and point.dataset_digest[:36],
            )
        )
    LoggedModelMetric.objects.bulk_create(new, ignore_conflicts=True, batch_size=5000)
    job.report.wrote("logged_model_metrics", len(new))
