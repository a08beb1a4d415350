"""The dry run: what a deletion will remove, counted before anything is touched.

One aggregate query per kind of row (never one per run), and a walk of the artifact folders for
the files and bytes.
"""

from __future__ import annotations

from django.db.models import Count, Sum

from tracking.artifacts import ArtifactNotFound
from tracking.models import Deletion, EvaluationDatasetRecord, Import, Job, MetricSummary, Param, RunTag
from tracking.services.artifacts import store

from .scope import Scope, experiment_folder, own_folder, workspace_folder

# The plan's keys in the order pages list them, with their words.
LABELS = {
    "resource_groups": "resource group",
    "workspaces": "workspaces",
    "experiments": "experiments",
    "runs": "runs",
    "metric_points": "metric points",
    "params": "params",
    "tags": "run tags",
    "logged_models": "logged models",
    "traces": "traces",
    "evaluation_datasets": "evaluation datasets",
    "dataset_records": "evaluation dataset records",
    "scorers": "scorers",
    "issues": "issues",
    "label_schemas": "label schemas",
    "review_queues": "review queues",
    "registered_models": "registered models",
    "model_versions": "model versions",
    "jobs": "jobs",
    "imports": "imports",
    "files": "artifact files",
    "bytes": "bytes of artifacts",
}


def make_plan(scope: Scope) -> dict:
    """Counts per key of LABELS (zero ones left out), plus `blockers`: why it may not go ahead."""
    runs = scope.runs()
    plan = {
        "resource_groups": 1 if scope.kind == Deletion.RESOURCE_GROUP else 0,
        "workspaces": len(scope.workspaces) if scope.whole_workspaces else 0,
        "experiments": scope.experiments().count(),
        "runs": runs.count(),
        "metric_points": MetricSummary.objects.filter(run__in=runs).aggregate(n=Sum("count"))["n"] or 0,
        "params": Param.objects.filter(run__in=runs).count(),
        "tags": RunTag.objects.filter(run__in=runs).count(),
        "logged_models": scope.logged_models().count(),
        "traces": scope.traces().count(),
        "evaluation_datasets": scope.evaluation_datasets().count(),
        "dataset_records": EvaluationDatasetRecord.objects.filter(
            dataset__in=scope.evaluation_datasets()
        ).count(),
        "scorers": scope.scorers().count(),
        "issues": scope.issues().count(),
        "label_schemas": scope.label_schemas().count(),
        "review_queues": scope.review_queues().count(),
    }
    models = scope.registered_models().aggregate(
        models=Count("pk", distinct=True), versions=Count("versions")
    )
    plan["registered_models"] = models["models"]
    plan["model_versions"] = models["versions"]
    if scope.whole_workspaces:
        plan["jobs"] = Job.objects.filter(workspace__in=scope.workspaces).count()
        plan["imports"] = Import.objects.filter(workspace__in=scope.workspaces).count()
    else:
        plan["jobs"] = Job.objects.filter(run__in=runs).count()
    plan["files"], plan["bytes"] = _files_and_bytes(scope)
    plan = {key: value for key, value in plan.items() if value}
    plan["blockers"] = scope.blockers()
    return plan


def _files_and_bytes(scope: Scope) -> tuple[int, int]:
    files = size = 0
    for folder in _folders(scope):
        try:
            for info in store().walk(folder):
                if not info.is_dir:
                    files += 1
                    size += info.file_size or 0
        except ArtifactNotFound:
            continue
    return files, size


def _folders(scope: Scope) -> list[str]:
    """The folders the deletion removes, none inside another (so nothing is counted twice)."""
    if scope.whole_workspaces:
        return [workspace_folder(workspace) for workspace in scope.workspaces]
    whole = [folder for experiment in scope.experiments() if (folder := experiment_folder(experiment))]
    workspace_pk = scope.workspaces[0].pk
    parts = [
        own_folder(workspace_pk, uri, uuid) for uuid, uri in scope.runs().values_list("uuid", "artifact_uri")
    ] + [
        own_folder(workspace_pk, location, model_id)
        for model_id, location in scope.logged_models().values_list("model_id", "artifact_location")
    ]
    return whole + [p for p in parts if p and not any(p.startswith(f"{w}/") for w in whole)]
