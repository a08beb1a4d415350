"""Importing runs, experiment by experiment, in chunks of whole runs.

A chunk is up to IMPORT_CHUNK_RUNS runs, fewer when their metric files are large. For each chunk:

1. Read the runs' meta.yaml, params, tags, inputs and outputs, and list their metric files.
2. Look the run ids up: a run of another workspace is reported and left alone; a run already in
   this workspace (imported before, or by this import before an interruption) is completed.
3. Copy the artifacts (outside any transaction: files are not rolled back, and copying again is
   harmless).
4. Write the rows, then the metric points, committing every IMPORT_CHUNK_POINTS points; the last
   commit moves the checkpoint past the chunk's last run.

Runs are taken in the order of their folders' names, so the checkpoint is just the last run's id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from tracking.key_registry import register_run_keys
from tracking.models import Dataset, Experiment, Param, Run, RunInput, RunModelLink, RunTag
from tracking.run_changes import note_runs_changed
from tracking.times import EPOCH

from .copying import copy_folder, stored_sizes
from .experiments import Imported
from .importer import ImportFailed, Job, Steps, chunk_points
from .locations import is_local, moment
from .metrics import MetricSink, RunPoints
from .reader import DatasetEntry, ExperimentEntry, RunEntry, RunLinks, count_lines, read_points

BATCH_POINTS = 20_000  # points per statement
BYTES_PER_POINT = 30  # a metric line's usual length, to size chunks from file sizes
MAX_KEY = 250
DATASET_CONTEXT_TAG = "mlflow.data.context"


@dataclass
class PreparedRun:
    folder: Path
    entry: RunEntry | None = None  # None: unreadable; the run only moves the checkpoint
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    links: RunLinks = field(default_factory=RunLinks)
    metric_files: list[tuple[str, Path]] = field(default_factory=list)
    metric_bytes: int = 0
    pk: int | None = None
    fresh: bool = False  # created by this chunk: nothing of it can be stored yet


# Run ids looked up per query when checking a store against the other workspaces.
LOOKUP_BATCH = 500


def refuse_runs_of_other_workspaces(job: Job) -> None:
    """Fails the import, before it writes anything, when any of the store's runs is in another
    workspace: MLflow's run ids are global, so a store's runs can live in one workspace only, and
    importing around them would leave a half-import (and registered versions without their run).
    The other workspace is not named: the importer may have no access to it."""
    run_ids = sorted(
        {
            folder.name
            for entry in job.reader.experiments()
            for folder in job.reader.run_folders(entry)
            if len(folder.name) <= 32
        }
    )
    elsewhere: list[str] = []
    for start in range(0, len(run_ids), LOOKUP_BATCH):
        elsewhere += (
            Run.objects.filter(uuid__in=run_ids[start : start + LOOKUP_BATCH])
            .exclude(experiment__workspace=job.workspace)
            .values_list("uuid", flat=True)
        )
    if elsewhere:
        shown = ", ".join(sorted(elsewhere)[:3]) + (", ..." if len(elsewhere) > 3 else "")
        raise ImportFailed(
            f"{len(elsewhere)} of the {len(run_ids)} runs of this store are already in another workspace "
            f"({shown}). MLflow's run ids are global, so a store's runs can be in one workspace only: "
            "import it into the workspace that has them, or delete them there for good first. "
            "Nothing was imported."
        )


def import_runs(job: Job, experiments: Imported) -> None:
    cursor = job.checkpoint.get("runs") or {}
    order = [entry.source_id for entry, _ in experiments]
    if cursor.get("finished"):
        return
    start = order.index(cursor["experiment"]) if cursor.get("experiment") in order else 0
    for entry, experiment in experiments[start:]:
        resuming = cursor.get("experiment") == entry.source_id
        ExperimentRuns(job, entry, experiment).run(after=cursor.get("after") if resuming else None)
    with job.step("runs imported"):
        job.checkpoint["runs"] = {"finished": True}


class ExperimentRuns:
    def __init__(self, job: Job, entry: ExperimentEntry, experiment: Experiment) -> None:
        self.job, self.entry, self.experiment = job, entry, experiment
        self.report, self.source, self.reader = job.report, job.source, job.reader
        self.stage = f"runs of experiment {experiment.number} ({experiment.name})"[:200]
        self.datasets: dict[str, int] = {}

    def run(self, after: str | None) -> None:
        self.datasets = self._datasets(count=after is None)
        chunk: list[PreparedRun] = []
        size = 0
        for folder in self.reader.run_folders(self.entry):
            if after is not None and folder.name <= after:
                continue
            prepared = self._prepare(folder)
            chunk.append(prepared)
            size += prepared.metric_bytes
            if len(chunk) >= max(settings.IMPORT_CHUNK_RUNS, 1) or size >= chunk_points() * BYTES_PER_POINT:
                self._import(chunk)
                chunk, size = [], 0
        if chunk:
            self._import(chunk)

    # 1. Reading

    def _prepare(self, folder: Path) -> PreparedRun:
        self.report.read("runs")
        entry = self.reader.run(folder, self.entry)
        if entry is None:
            return PreparedRun(folder)
        prepared = PreparedRun(
            folder,
            entry,
            params=self._keys(folder / "params", self.reader.key_files(folder / "params")),
            tags=self._keys(folder / "tags", self.reader.key_files(folder / "tags")),
            links=self.reader.links(entry),
        )
        self.report.read("params", len(prepared.params))
        self.report.read("tags", len(prepared.tags))
        self.report.read("inputs", len(prepared.links.datasets) + len(prepared.links.models_in))
        self.report.read("outputs", len(prepared.links.models_out))
        for key, path in self.reader.metric_files(folder):
            if len(key) > MAX_KEY:
                self.source.problem(path, f"a metric key over {MAX_KEY} characters; not imported")
                continue
            prepared.metric_files.append((key, path))
            prepared.metric_bytes += path.stat().st_size
        return prepared

    def _keys(self, folder: Path, values: dict[str, str]) -> dict[str, str]:
        for key in [key for key in values if len(key) > MAX_KEY]:
            self.source.problem(folder / key, f"a key over {MAX_KEY} characters; not imported")
            del values[key]
        return values

    def _datasets(self, *, count: bool) -> dict[str, int]:
        """{dataset folder id: Dataset pk} for the experiment's datasets, created where missing."""
        entries = self.reader.datasets(self.entry)
        usable: dict[str, DatasetEntry] = {}
        for folder_id, dataset in entries.items():
            if len(dataset.name) > 500 or len(dataset.digest) > 36 or len(dataset.source_type) > 36:
                self.source.problem(
                    self.entry.folder / "datasets" / folder_id,
                    "a dataset name, digest or source type too long",
                )
            else:
                usable[folder_id] = dataset
        if not usable:
            return {}
        with self.job.step(self.stage):
            have = {
                (name, digest): pk
                for name, digest, pk in Dataset.objects.filter(experiment=self.experiment).values_list(
                    "name", "digest", "pk"
                )
            }
            new = {(d.name, d.digest): d for d in usable.values() if (d.name, d.digest) not in have}
            Dataset.objects.bulk_create(
                [Dataset(experiment=self.experiment, **_dataset_fields(d)) for d in new.values()],
                ignore_conflicts=True,
            )
            if count:
                self.report.read("datasets", len(usable))
                self.report.wrote("datasets", len(new))
        have = {
            (name, digest): pk
            for name, digest, pk in Dataset.objects.filter(experiment=self.experiment).values_list(
                "name", "digest", "pk"
            )
        }
        return {
            folder_id: have[(d.name, d.digest)]
            for folder_id, d in usable.items()
            if (d.name, d.digest) in have
        }

    # 2.-4. Writing

    def _import(self, chunk: list[PreparedRun]) -> None:
        runs = [prepared for prepared in chunk if prepared.entry is not None]
        found = {
            uuid: (pk, workspace_id)
            for uuid, pk, workspace_id in Run.objects.filter(
                uuid__in=[p.entry.run_id for p in runs]
            ).values_list("uuid", "pk", "experiment__workspace_id")
        }
        kept = []
        for prepared in runs:
            if prepared.entry.run_id not in found:
                prepared.fresh = True
                kept.append(prepared)
            elif found[prepared.entry.run_id][1] == self.job.workspace.pk:
                prepared.pk = found[prepared.entry.run_id][0]
                kept.append(prepared)
            else:
                self.source.problem(
                    prepared.folder, "a run with this id is in another workspace; not imported"
                )
        for prepared in kept:
            self._copy_artifacts(prepared)
        with self.job.steps(self.stage) as steps:
            self._write_rows(kept)
            sink = MetricSink(self.report)
            steps.before_commit(sink.before_commit)
            steps.before_commit(lambda: note_runs_changed([self.experiment.pk]))
            # At every commit of the chunk: its later ones add metric summaries.
            steps.before_commit(lambda: register_run_keys([prepared.pk for prepared in kept]))
            steps.on_abort(sink.abort)
            # Every run first: the stream locks the new runs when it opens, and nothing else
            # may query while it is open.
            runs = [(prepared, sink.run(prepared.pk, fresh=prepared.fresh)) for prepared in kept]
            for prepared, points in runs:
                self._write_metrics(prepared, points, sink, steps)
            self.job.checkpoint["runs"] = {"experiment": self.entry.source_id, "after": chunk[-1].folder.name}
            self.job.done += len(chunk)

    def _artifact_uri(self, entry: RunEntry) -> str:
        uri = entry.artifact_uri
        if is_local(uri) or uri.startswith("mlflow-artifacts:"):
            return f"mlflow-artifacts:/{self.experiment.number}/{entry.run_id}/artifacts"
        return uri

    def _copy_artifacts(self, prepared: PreparedRun) -> None:
        if not self._artifact_uri(prepared.entry).startswith("mlflow-artifacts:"):
            return  # the artifacts stay on their store (s3://...) and the run keeps its URI
        destination = f"{self.experiment.number}/{prepared.entry.run_id}/artifacts"
        copy_folder(
            workspace=self.job.workspace,
            source=self.source,
            folder=prepared.folder / "artifacts",
            destination=destination,
            report=self.report,
            beat=self.job.beat,
            known=None if prepared.fresh else stored_sizes(self.job.workspace, destination),
        )

    def _write_rows(self, runs: list[PreparedRun]) -> None:
        fresh = [prepared for prepared in runs if prepared.fresh]
        created = Run.objects.bulk_create([self._run(prepared.entry) for prepared in fresh])
        for prepared, run in zip(fresh, created, strict=True):
            prepared.pk = run.pk
        self.report.wrote("runs", len(created))
        old = [prepared.pk for prepared in runs if not prepared.fresh]
        have_params = set(Param.objects.filter(run_id__in=old).values_list("run_id", "key")) if old else set()
        have_tags = set(RunTag.objects.filter(run_id__in=old).values_list("run_id", "key")) if old else set()
        params = [
            Param(run_id=p.pk, key=key, value=value)
            for p in runs
            for key, value in p.params.items()
            if (p.pk, key) not in have_params
        ]
        tags = [
            RunTag(run_id=p.pk, key=key, value=value)
            for p in runs
            for key, value in p.tags.items()
            if (p.pk, key) not in have_tags
        ]
        Param.objects.bulk_create(params, ignore_conflicts=bool(old), batch_size=5000)
        RunTag.objects.bulk_create(tags, ignore_conflicts=bool(old), batch_size=5000)
        self.report.wrote("params", len(params))
        self.report.wrote("tags", len(tags))
        self._write_links(runs, old)

    def _run(self, entry: RunEntry) -> Run:
        start = moment(entry.start_ms, EPOCH)
        name, user = entry.name, entry.user_id
        if len(name) > 250 or len(user) > 256:
            self.source.problem(entry.folder / "meta.yaml", "a run name or user id too long; cut short")
        return Run(
            uuid=entry.run_id,
            experiment=self.experiment,
            name=name[:250],
            user_id=user[:256],
            status=entry.status,
            start_time=start,
            end_time=moment(entry.end_ms, start) if entry.end_ms is not None else None,
            lifecycle_stage=entry.lifecycle_stage,
            deleted_at=moment(entry.deleted_ms)
            if entry.lifecycle_stage == "deleted" and entry.deleted_ms
            else None,
            artifact_uri=self._artifact_uri(entry),
        )

    def _write_links(self, runs: list[PreparedRun], old: list[int]) -> None:
        have_inputs = (
            set(RunInput.objects.filter(run_id__in=old).values_list("run_id", "dataset_id")) if old else set()
        )
        have_links = (
            set(RunModelLink.objects.filter(run_id__in=old).values_list("run_id", "model_id", "direction"))
            if old
            else set()
        )
        inputs, links = [], []
        for p in runs:
            for folder_id, tags in p.links.datasets:
                dataset = self.datasets.get(folder_id)
                if dataset is None:
                    self.source.problem(
                        p.folder / "inputs", f"an input names a dataset the experiment lacks ({folder_id})"
                    )
                elif (p.pk, dataset) not in have_inputs:
                    have_inputs.add((p.pk, dataset))
                    context = tags.get(DATASET_CONTEXT_TAG, "")[:250]
                    inputs.append(
                        RunInput(
                            run_id=p.pk,
                            dataset_id=dataset,
                            tags=[[k, v] for k, v in tags.items()],
                            context=context,
                        )
                    )
            wanted = [(m, RunModelLink.INPUT, 0) for m in p.links.models_in] + [
                (m, RunModelLink.OUTPUT, step) for m, step in p.links.models_out
            ]
            for model_id, direction, step in wanted:
                if len(model_id) <= 64 and (p.pk, model_id, direction) not in have_links:
                    have_links.add((p.pk, model_id, direction))
                    links.append(RunModelLink(run_id=p.pk, model_id=model_id, direction=direction, step=step))
        RunInput.objects.bulk_create(inputs, ignore_conflicts=True)
        RunModelLink.objects.bulk_create(links, ignore_conflicts=True)
        self.report.wrote("inputs", len(inputs) + sum(link.direction == RunModelLink.INPUT for link in links))
        self.report.wrote("outputs", sum(link.direction == RunModelLink.OUTPUT for link in links))

    def _write_metrics(
        self, prepared: PreparedRun, points: RunPoints, sink: MetricSink, steps: Steps
    ) -> None:
        for key, path in prepared.metric_files:
            if not prepared.fresh:
                lines = _lines(path)
                if lines is not None and points.stored_counts.get(key, 0) >= lines:
                    self.report.read("metrics", lines)  # all there: a run imported before
                    continue
            for number, batch in enumerate(read_points(self.source, path, key, BATCH_POINTS)):
                self.report.read("metrics", len(batch))
                whole_key = number == 0 and len(batch) < BATCH_POINTS
                self.report.wrote("metrics", sink.write(points, batch, whole_key=whole_key))
                steps.add_points(len(batch))


def _lines(path: Path) -> int | None:
    try:
        return count_lines(path)
    except OSError:
        return None  # reading it will say what is wrong


def _dataset_fields(dataset: DatasetEntry) -> dict:
    return {
        "name": dataset.name,
        "digest": dataset.digest,
        "source_type": dataset.source_type,
        "source": dataset.source,
        "schema": dataset.schema,
        "profile": dataset.profile,
    }
