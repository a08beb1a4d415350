"""Imported experiments: matched by name, or created keeping their number when it is free.

An experiment whose name the workspace already has receives the imported runs (the Default
experiment "0" of every store, and every experiment of a folder imported before). Another keeps
its id as its number when no experiment of the workspace has it, or else takes the workspace's
next free number; the mapping is kept on the import. All of it happens in one transaction that
holds the workspace's row, the lock `create_experiment` takes to number experiments, and the
workspace's counter is moved past every number taken, so experiments created later never collide.
"""

from __future__ import annotations

from tracking.models import Experiment, ExperimentTag, Workspace
from tracking.services.experiments import artifact_location_for
from tracking.validation import MAX_EXPERIMENT_NAME_LENGTH

from .importer import ImportFailed, Job
from .locations import is_local, moment
from .reader import ExperimentEntry

Imported = list[tuple[ExperimentEntry, Experiment]]


def import_experiments(job: Job) -> Imported:
    """Every experiment of the store with the workspace's experiment it maps to."""
    entries = job.reader.experiments()
    done = job.checkpoint.get("experiments")
    if done is None:
        _count_work(job, entries)
        with job.step("experiments"):
            numbers = _match_or_create(job, entries)
            job.numbers = {
                entry.source_id: numbers[entry.source_id].number
                for entry in entries
                if entry.source_id in numbers
            }
            job.checkpoint["experiments"] = job.numbers
    else:
        job.numbers = {source_id: int(number) for source_id, number in done.items()}
    by_number = {
        experiment.number: experiment
        for experiment in Experiment.objects.filter(workspace=job.workspace, number__in=job.numbers.values())
    }
    imported = []
    for entry in entries:
        number = job.numbers.get(entry.source_id)
        if number is None:
            continue
        if number not in by_number:
            raise ImportFailed(f"Experiment {number} was deleted from the workspace during the import.")
        imported.append((entry, by_number[number]))
    return imported


def _count_work(job: Job, entries: list[ExperimentEntry]) -> None:
    """The import's total: runs, logged models and registered models (counted by their folders)."""
    reader = job.reader
    total = sum(
        len(reader.run_folders(entry)) + len(reader.source.subfolders(entry.folder / "models"))
        for entry in entries
    )
    job.total = total + len(reader.registered_models())


def _match_or_create(job: Job, entries: list[ExperimentEntry]) -> dict[str, Experiment]:
    workspace = Workspace.objects.select_for_update().get(pk=job.workspace.pk)
    by_name = {experiment.name: experiment for experiment in Experiment.objects.filter(workspace=workspace)}
    taken = {experiment.number for experiment in by_name.values()}
    mapped: dict[str, Experiment] = {}
    first_of_name: dict[str, ExperimentEntry] = {}
    joining: list[ExperimentEntry] = []
    for entry in entries:
        job.report.read("experiments")
        job.report.read("experiment_tags", len(entry.tags))
        traces = job.reader.traces_count(entry)
        if traces:
            job.report.read("traces", traces)
            job.source.problem(
                entry.folder / "traces", f"{traces} traces not imported: Studio does not keep traces yet"
            )
        if len(entry.name) > MAX_EXPERIMENT_NAME_LENGTH:
            job.source.problem(
                entry.folder / "meta.yaml", "an experiment name over 500 characters; not imported"
            )
        elif entry.name in by_name:
            mapped[entry.source_id] = by_name[entry.name]
        elif entry.name in first_of_name:
            job.source.problem(
                entry.folder / "meta.yaml",
                f"a second experiment named {entry.name!r}; its runs join the first",
            )
            joining.append(entry)
        else:
            first_of_name[entry.name] = entry
    # Numbers kept first, so that a renumbered experiment never takes one a later experiment keeps.
    kept = {}
    for entry in first_of_name.values():
        if entry.number not in taken:
            kept[entry.source_id] = entry.number
            taken.add(entry.number)
    following = max(taken | {workspace.last_experiment_number})
    for entry in first_of_name.values():
        if entry.source_id in kept:
            number = kept[entry.source_id]
        else:
            following += 1
            number = following
        mapped[entry.source_id] = by_name[entry.name] = _create(entry, workspace, number)
    for entry in joining:
        mapped[entry.source_id] = by_name[entry.name]
    Workspace.objects.filter(pk=workspace.pk).update(last_experiment_number=max(taken | {following}))
    _add_tags(job, entries, mapped)
    job.report.wrote("experiments", len(first_of_name))
    return mapped


def _create(entry: ExperimentEntry, workspace: Workspace, number: int) -> Experiment:
    created = moment(entry.created_ms)
    return Experiment.objects.create(
        workspace=workspace,
        number=number,
        name=entry.name,
        artifact_location=artifact_location_for(number)
        if is_local(entry.artifact_location) or entry.artifact_location.startswith("mlflow-artifacts:")
        else entry.artifact_location,
        lifecycle_stage=entry.lifecycle_stage,
        created_at=created,
        updated_at=moment(entry.updated_ms, created),
    )


def _add_tags(job: Job, entries: list[ExperimentEntry], mapped: dict[str, Experiment]) -> None:
    """Tags the experiments do not have yet (an existing tag keeps its value)."""
    pks = {experiment.pk for experiment in mapped.values()}
    have = set(ExperimentTag.objects.filter(experiment_id__in=pks).values_list("experiment_id", "key"))
    new = []
    for entry in entries:
        experiment = mapped.get(entry.source_id)
        if experiment is None:
            continue
        for key, value in entry.tags.items():
            if len(key) > 250:
                job.source.problem(entry.folder / "tags", f"a tag key over 250 characters: {key[:50]!r}...")
            elif (experiment.pk, key) not in have:
                have.add((experiment.pk, key))
                new.append(ExperimentTag(experiment=experiment, key=key, value=value))
    ExperimentTag.objects.bulk_create(new, ignore_conflicts=True)
    job.report.wrote("experiment_tags", len(new))
