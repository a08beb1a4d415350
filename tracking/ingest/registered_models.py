"""Importing the model registry (`mlruns/models/`): one transaction per registered model.

Versions keep their numbers and times; deleted ones (MLflow keeps their folders with the stage
"Deleted_Internal") are not imported, but their numbers are never given out again here either.
A version's files are where its storage location says: a location inside the imported store
becomes this server's proxy URI for the copied files, which are read, as at registration, for
the flavors, signature and environment the registry shows.

A registered model of the same name that the workspace already has is the same model only when
it was created at the same moment (an earlier import of this folder); then it is completed.
Another one is reported and left alone: merging two different models' versions would mix them up.
"""

from __future__ import annotations

from django.db.models import F
from django.db.models.functions import Greatest

from registry.mlmodel import ModelFolderError, read_model_folder
from registry.models import (
    STAGES,
    STATUSES,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from registry.services.model_versions import _kept
from registry.services.sources import store_folder
from tracking.artifacts import default_store
from tracking.models import Run
from tracking.times import datetime_to_ms

from .importer import Job
from .locations import is_local, moment, translate
from .reader import RegisteredModelEntry, VersionEntry


def import_registered_models(job: Job) -> None:
    cursor = job.checkpoint.get("registered_models") or {}
    if cursor.get("finished"):
        return
    models = job.reader.registered_models()
    start = 0
    index = cursor.get("index")
    if isinstance(index, int) and index < len(models) and models[index].name == cursor.get("name"):
        start = index + 1
    for position in range(start, len(models)):
        _import_one(job, position, models[position])
    with job.step("registered models imported"):
        job.checkpoint["registered_models"] = {"finished": True}


def _import_one(job: Job, position: int, entry: RegisteredModelEntry) -> None:
    report = job.report
    live = [version for version in entry.versions if not version.is_deleted]
    report.read("registered_models")
    report.read("registered_model_tags", len(entry.tags))
    report.read("model_versions", len(live))
    report.read("model_version_tags", sum(len(version.tags) for version in live))
    report.read("aliases", len(entry.aliases))
    with job.step("registered models"):
        model = _model(job, entry)
        if model is not None:
            _write_model(job, model, entry, live)
        job.checkpoint["registered_models"] = {"index": position, "name": entry.name}
        job.done += 1


def _model(job: Job, entry: RegisteredModelEntry) -> RegisteredModel | None:
    if len(entry.name) > 256:
        job.source.problem(entry.folder, "a registered model name over 256 characters; not imported")
        return None
    existing = RegisteredModel.objects.filter(workspace=job.workspace, name=entry.name).first()
    if existing is None:
        created = moment(entry.created_ms)
        job.report.wrote("registered_models")
        return RegisteredModel.objects.create(
            workspace=job.workspace,
            name=entry.name,
            description=entry.description,
            created_at=created,
            updated_at=moment(entry.updated_ms, created),
        )
    if entry.created_ms is not None and datetime_to_ms(existing.created_at) != entry.created_ms:
        job.source.problem(
            entry.folder,
            f"the workspace has another registered model named {entry.name!r}; this one was not imported",
        )
        return None
    return existing


def _write_model(
    job: Job, model: RegisteredModel, entry: RegisteredModelEntry, live: list[VersionEntry]
) -> None:
    top = max((version.version for version in entry.versions), default=0)
    # Before any version goes in, so a version registered meanwhile gets a number above these.
    RegisteredModel.objects.filter(pk=model.pk).update(
        last_version_number=Greatest(F("last_version_number"), top)
    )
    have_tags = set(RegisteredModelTag.objects.filter(model=model).values_list("key", flat=True))
    tags = [
        RegisteredModelTag(model=model, key=k, value=v)
        for k, v in entry.tags.items()
        if k not in have_tags and len(k) <= 250
    ]
    RegisteredModelTag.objects.bulk_create(tags, ignore_conflicts=True)
    job.report.wrote("registered_model_tags", len(tags))

    versions = {
        number: pk
        for number, pk in ModelVersion.objects.filter(registered_model=model).values_list("version", "pk")
    }
    new = [(version, _version(job, model, version)) for version in live if version.version not in versions]
    created = ModelVersion.objects.bulk_create([row for _, row in new])
    versions.update({row.version: row.pk for row in created})
    job.report.wrote("model_versions", len(created))

    have_version_tags = set(
        ModelVersionTag.objects.filter(version__registered_model=model).values_list("version_id", "key")
    )
    version_tags = [
        ModelVersionTag(version_id=versions[version.version], key=k, value=v)
        for version in live
        for k, v in version.tags.items()
        if (versions[version.version], k) not in have_version_tags and len(k) <= 250
    ]
    ModelVersionTag.objects.bulk_create(version_tags, ignore_conflicts=True)
    job.report.wrote("model_version_tags", len(version_tags))

    have_aliases = set(RegisteredModelAlias.objects.filter(model=model).values_list("alias", flat=True))
    aliases = []
    for alias, number in entry.aliases.items():
        if number not in versions:
            job.source.problem(
                entry.folder / "aliases" / alias, f"the alias names version {number}, which is not there"
            )
        elif alias not in have_aliases and len(alias) <= 255:
            aliases.append(RegisteredModelAlias(model=model, alias=alias, version_id=versions[number]))
    RegisteredModelAlias.objects.bulk_create(aliases, ignore_conflicts=True)
    job.report.wrote("aliases", len(aliases))


def _version(job: Job, model: RegisteredModel, entry: VersionEntry) -> ModelVersion:
    storage = _location(job, entry, entry.storage_location)
    source = _location(job, entry, entry.source, report=False)
    run = (
        Run.objects.filter(uuid=entry.run_id, experiment__workspace=job.workspace).first()
        if entry.run_id
        else None
    )
    created = moment(entry.created_ms)
    version = ModelVersion(
        registered_model=model,
        version=entry.version,
        description=entry.description,
        user_id=entry.user_id[:256],
        source=source,
        storage_location=storage,
        run_id=entry.run_id[:32],
        lineage_run=run,
        run_link=entry.run_link,
        model_id=entry.model_id[:64],
        current_stage=entry.current_stage if entry.current_stage in STAGES else "None",
        status=entry.status if entry.status in STATUSES else "READY",
        status_message=entry.status_message,
        created_at=created,
        updated_at=moment(entry.updated_ms, created),
    )
    folder = store_folder(job.workspace, storage)
    if folder is not None:
        try:
            for name, value in _kept(read_model_folder(default_store(), folder, storage)).items():
                setattr(version, name, value)
        except ModelFolderError as error:
            job.source.problem(entry.folder, f"version {entry.version}: {error}")
    return version


def _location(job: Job, entry: VersionEntry, uri: str, *, report: bool = True) -> str:
    """This server's URI for a location in the imported store; other locations as they are."""
    translated = translate(uri, job.numbers)
    if translated is not None:
        return translated
    if report and uri and is_local(uri):
        job.source.problem(
            entry.folder, f"version {entry.version}: its files ({uri}) are not in the imported folder"
        )
    return uri
