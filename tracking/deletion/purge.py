"""Carrying out a deletion, in chunks that a worker can be killed between.

Each step removes what is still there, so running a deletion again after an interruption simply
carries on: the files of a chunk of runs first (a file without its row is harmless; a row whose
files are gone would not be), then their metric points in batches, then the runs' other rows
with the progress, in one transaction. Models, experiments, workspaces and the resource group
follow, each after its files.

Rows go through Django's `delete()`, whose fast path turns related rows without dependants into
one `DELETE ... WHERE run_id IN (...)` each; only metric points, which can be millions per run,
are removed in bounded batches so that progress and heartbeats keep coming.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from tracking.artifacts import ArtifactNotFound
from tracking.key_registry import prune_run_keys
from tracking.models import (
    Deletion,
    EvaluationDatasetRecord,
    Import,
    Job,
    Metric,
    ResourceGroup,
    Run,
    TraceTag,
)
from tracking.models.work import ACTIVE_STATUSES, LostClaim
from tracking.services.artifacts import store
from tracking.services.gateway import delete_workspace_gateway
from tracking.services.imports import cancel_import
from tracking.services.jobs import cancel_job
from tracking.services.traces import ARTIFACT_LOCATION_TAG, delete_trace_rows
from tracking.staging import discard, is_staged

from .plan import make_plan
from .scope import Scope, experiment_folder, own_folder, resolve, workspace_folder

logger = logging.getLogger(__name__)

# Django's model names -> the plan's keys, for the counts of what `delete()` removed.
_COUNTED_AS = {
    "ResourceGroup": "resource_groups",
    "Workspace": "workspaces",
    "Experiment": "experiments",
    "Run": "runs",
    "Metric": "metric_points",
    "Param": "params",
    "RunTag": "tags",
    "LoggedModel": "logged_models",
    "Trace": "traces",
    "EvaluationDataset": "evaluation_datasets",
    "EvaluationDatasetRecord": "dataset_records",
    "Scorer": "scorers",
    "Issue": "issues",
    "LabelSchema": "label_schemas",
    "ReviewQueue": "review_queues",
    "RegisteredModel": "registered_models",
    "ModelVersion": "model_versions",
    "Job": "jobs",
    "Import": "imports",
}


class Blocked(Exception):
    """The deletion may not go ahead (see Scope.blockers)."""


def carry_out(deletion_id: int, *, worker: str) -> None:
    """Claims the deletion and carries it to its end; a no-op if someone has it or it ended."""
    row = Deletion.claim(deletion_id, worker)
    if row is None:
        return
    try:
        Purge(row).run()
    except LostClaim:
        logger.info("deletion %s is no longer ours (cancelled or taken over)", deletion_id)
    except Blocked as blocked:
        row.fail(str(blocked))
    except Exception as error:
        logger.exception("deletion %s failed", deletion_id)
        with contextlib.suppress(LostClaim):
            row.fail(f"{type(error).__name__}: {error}")


class Purge:
    def __init__(self, row: Deletion):
        self.row = row
        self.counts = Counter(row.counts)

    def run(self) -> None:
        scope = resolve(self.row.kind, self.row.target_id)
        if scope is None:
            # Gone already: the last run of this deletion got to the end but not to saying so.
            self.row.succeed(stage="Deleted", counts=dict(self.counts))
            return
        if blockers := scope.blockers():
            raise Blocked(" ".join(blockers))
        if self.row.total is None:
            plan = self.row.plan or make_plan(scope)
            self.row.report(total=_units(plan), stage="Starting")
        self._stop_work_inside(scope)
        self._runs(scope)
        self._logged_models(scope)
        self._traces(scope)
        self._evaluation_datasets(scope)
        self._experiments(scope)
        if scope.whole_workspaces:
            self._workspaces(scope)
        if isinstance(scope.target, ResourceGroup):
            with transaction.atomic():
                self._count(ResourceGroup.objects.filter(pk=scope.target.pk).delete())
                self.row.report(done=self.row.done + 1, counts=dict(self.counts))
        self.row.succeed(stage="Deleted", done=self.row.total or self.row.done, counts=dict(self.counts))

    # --- steps ---------------------------------------------------------------------------------

    def _stop_work_inside(self, scope: Scope) -> None:
        """Jobs and imports still going would keep writing into what is being deleted."""
        if scope.whole_workspaces:
            jobs = Job.objects.filter(workspace__in=scope.workspaces, status__in=ACTIVE_STATUSES)
            for row in Import.objects.filter(workspace__in=scope.workspaces, status__in=ACTIVE_STATUSES):
                cancel_import(row=row)
        else:
            jobs = Job.objects.filter(run__in=scope.runs(), status__in=ACTIVE_STATUSES)
        for job in jobs.select_related("run"):
            cancel_job(job=job)

    def _runs(self, scope: Scope) -> None:
        runs = scope.runs().order_by("pk")
        while chunk := list(
            runs.values_list("pk", "uuid", "artifact_uri", "experiment__workspace_id")[
                : settings.DELETION_CHUNK_RUNS
            ]
        ):
            pks = [pk for pk, *_ in chunk]
            self.row.report(stage=f"Deleting runs ({self.counts['runs']:,} done)")
            if not scope.whole_workspaces:
                self._remove(own_folder(ws, uri, uuid) for _, uuid, uri, ws in chunk)
            self._metric_points(pks)
            with transaction.atomic():
                lock_runs(Run.objects.filter(pk__in=pks))
                if scope.kind == Deletion.RUN:
                    # Otherwise the runs' experiments go too, and their registries with them.
                    prune_run_keys(pks)
                self._count(Run.objects.filter(pk__in=pks).delete())
                self.row.report(done=self.row.done + len(pks), counts=dict(self.counts))

    def _metric_points(self, run_pks: list[int]) -> None:
        points = Metric.objects.filter(run_id__in=run_pks)
        while batch := list(points.values_list("pk", flat=True)[: settings.DELETION_CHUNK_POINTS]):
            with transaction.atomic():
                self._count(Metric.objects.filter(pk__in=batch).delete())
                self.row.report(counts=dict(self.counts))

    def _logged_models(self, scope: Scope) -> None:
        models = list(
            scope.logged_models().values_list(
                "pk", "model_id", "artifact_location", "experiment__workspace_id"
            )
        )
        if not models:
            return
        self.row.report(stage=f"Deleting {len(models):,} logged models")
        if not scope.whole_workspaces:
            self._remove(own_folder(ws, location, model_id) for _, model_id, location, ws in models)
        with transaction.atomic():
            self._count(scope.logged_models().delete())
            self.row.report(done=self.row.done + len(models), counts=dict(self.counts))

    def _traces(self, scope: Scope) -> None:
        """Traces in chunks, with their spans (which can be many per trace), tags and files."""
        traces = scope.traces().order_by("pk")
        while chunk := list(
            traces.values_list("pk", "trace_id", "workspace_id")[: settings.DELETION_CHUNK_RUNS]
        ):
            pks = [pk for pk, *_ in chunk]
            self.row.report(stage=f"Deleting traces ({self.counts['traces']:,} done)")
            if not scope.whole_workspaces:
                locations = dict(
                    TraceTag.objects.filter(trace_id__in=pks, key=ARTIFACT_LOCATION_TAG).values_list(
                        "trace_id", "value"
                    )
                )
                self._remove(own_folder(ws, locations.get(pk, ""), trace_id) for pk, trace_id, ws in chunk)
            with transaction.atomic():
                self._count(delete_trace_rows(pks))
                self.row.report(counts=dict(self.counts))

    def _evaluation_datasets(self, scope: Scope) -> None:
        """A workspace's datasets; their records, which can be many, in bounded batches first.
        (An experiment's scorers, issues, label schemas, review queues and dataset associations go
        with the experiment.)"""
        datasets = scope.evaluation_datasets()
        if not datasets.exists():
            return
        self.row.report(stage="Deleting evaluation datasets")
        records = EvaluationDatasetRecord.objects.filter(dataset__in=datasets)
        while batch := list(records.values_list("pk", flat=True)[: settings.DELETION_CHUNK_POINTS]):
            with transaction.atomic():
                self._count(EvaluationDatasetRecord.objects.filter(pk__in=batch).delete())
                self.row.report(counts=dict(self.counts))
        with transaction.atomic():
            self._count(datasets.delete())
            self.row.report(counts=dict(self.counts))

    def _experiments(self, scope: Scope) -> None:
        for experiment in scope.experiments().order_by("pk"):
            self.row.report(stage=f"Deleting experiment {experiment.name}")
            if not scope.whole_workspaces:
                self._remove([experiment_folder(experiment)])
            with transaction.atomic():
                # Runs created since `_runs` go with their experiment.
                lock_runs(Run.objects.filter(experiment_id=experiment.pk))
                self._count(type(experiment).objects.filter(pk=experiment.pk).delete())
                self.row.report(done=self.row.done + 1, counts=dict(self.counts))

    def _workspaces(self, scope: Scope) -> None:
        for workspace in scope.workspaces:
            self.row.report(stage=f"Deleting workspace {workspace.name}: its files")
            self._remove([workspace_folder(workspace)])
            self._remove_local(_leftovers(workspace))
            with transaction.atomic():
                self._count(delete_workspace_gateway(workspace=workspace))
                # What is left is small: registered models, jobs, imports, members and tokens.
                self._count(type(workspace).objects.filter(pk=workspace.pk).delete())
                self.row.report(done=self.row.done + 1, counts=dict(self.counts))

    # --- helpers -------------------------------------------------------------------------------

    def _remove(self, folders: Iterable[str | None]) -> None:
        artifacts = store()
        for folder in folders:
            if not folder:
                continue
            try:
                files = sum(1 for info in artifacts.walk(folder) if not info.is_dir)
            except ArtifactNotFound:
                continue
            freed = artifacts.delete(folder)
            self.counts["files"] += files
            self.counts["bytes"] += freed
        self.row.beat()

    def _remove_local(self, paths: Iterable[Path | str]) -> None:
        for path in paths:
            if isinstance(path, str):  # an upload staged in the store for the workers
                discard(path)
            elif path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def _count(self, deleted: tuple[int, dict[str, int]]) -> None:
        for label, number in deleted[1].items():
            key = _COUNTED_AS.get(label.rpartition(".")[2])
            if key and number:
                self.counts[key] += number


def _units(plan: dict) -> int:
    """Progress is counted in runs, logged models, experiments, workspaces and the group."""
    return sum(plan.get(key, 0) for key in ("runs", "logged_models", "experiments", "workspaces")) + (
        1 if plan.get("resource_groups") else 0
    )


def _leftovers(workspace) -> list[Path | str]:
    """Uploads of the workspace's imports and jobs that are still kept, on disk or staged in the
    store (an ended import or job removes its own; these are the ones of work cancelled before a
    worker got to it)."""
    found: list[Path | str] = []
    roots = {
        Import: (Path(settings.IMPORTS_DIR), "source_path"),
        Job: (Path(settings.JOBS_DIR), "snapshot_path"),
    }
    for model, (root, field) in roots.items():
        for value in model.objects.filter(workspace=workspace).values_list(field, flat=True):
            if value and is_staged(value):
                found.append(value)
            elif value and Path(value).resolve().is_relative_to(root.resolve()):
                found.append(Path(value))
    return found


def lock_runs(runs) -> None:
    """Locks the runs' rows until the transaction ends, before anything of theirs is deleted.

    Metric points have no foreign key to their run: the INSERT of points locks its run's row
    instead (tracking.services.metric_points). With the runs locked first, points being logged
    either are committed before the DELETE of the runs' points, which removes them, or wait for
    this transaction and then find no run. (SQLite runs one writer at a time: nothing to lock.)"""
    if connection.features.has_select_for_update:
        list(runs.select_for_update().values_list("pk", flat=True))
