"""Reading an MLflow file store (`mlruns/`), as MLflow 1.x to 3.x write it, without MLflow.

The layout (keys with '/' are nested folders; `.trash/` holds deleted experiments):

    <id>/meta.yaml, tags/<key>                            an experiment
    <id>/<run id>/meta.yaml, params/<key>, tags/<key>     a run ...
    <id>/<run id>/metrics/<key>                           ... its metrics, "timestamp value step" lines
    <id>/<run id>/artifacts/...                           ... its artifacts
    <id>/<run id>/inputs/<id>/meta.yaml                   ... datasets and models it used
    <id>/<run id>/outputs/<model id>/meta.yaml            ... and models it produced (at a step)
    <id>/datasets/<id>/meta.yaml                          the experiment's datasets
    <id>/models/<model id>/meta.yaml, params/, tags/, metrics/, artifacts/    logged models
    <id>/traces/                                          traces (Studio does not keep them yet)
    models/<name>/meta.yaml, tags/, aliases/<alias>       registered models ...
    models/<name>/version-<n>/meta.yaml, tags/            ... and their versions

The reader only reads: it returns plain records and streams metric points, and it reports what
it cannot read through the source folder's problem sink instead of raising. What to do with the
records is the importer's business.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from pathlib import Path

from tracking.services.metric_points import MetricPoint

from .files import SourceFolder, int_field, text_field

TRASH = ".trash"
REGISTRY = "models"
META = "meta.yaml"
# Folders of an experiment that are not runs.
_NOT_RUNS = {"tags", "datasets", "traces", "models"}
_RUN_STATUSES = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_MODEL_STATUSES = {
    0: "LOGGED_MODEL_PENDING",
    1: "LOGGED_MODEL_PENDING",
    2: "LOGGED_MODEL_READY",
    3: "LOGGED_MODEL_UPLOAD_FAILED",
    "UNSPECIFIED": "LOGGED_MODEL_PENDING",
    "PENDING": "LOGGED_MODEL_PENDING",
    "READY": "LOGGED_MODEL_READY",
    "FAILED": "LOGGED_MODEL_UPLOAD_FAILED",
}
DELETED_VERSION_STAGE = "Deleted_Internal"
_VERSION_FOLDER = re.compile(r"version-(\d+)")
_INT64 = 2**63


class NotAFileStore(Exception):
    """The folder is missing, or holds nothing that looks like an MLflow file store."""


def find_store_root(path: Path) -> Path:
    """The `mlruns` folder at `path`: the folder itself, its `mlruns/`, or that of its only subfolder."""
    if not path.exists():
        raise NotAFileStore(f"The folder {path} does not exist.")
    if not path.is_dir():
        raise NotAFileStore(f"{path} is not a folder.")
    candidate = path
    for _ in range(3):
        if _looks_like_a_store(candidate):
            return candidate
        if (candidate / "mlruns").is_dir():
            candidate = candidate / "mlruns"
            continue
        children = [child for child in candidate.iterdir() if child.is_dir() and not child.is_symlink()]
        if len(children) != 1:
            break
        candidate = children[0]
    raise NotAFileStore(
        f"No MLflow file store in {path}: expected experiment folders (a number, with a meta.yaml), "
        "a models/ or .trash/ folder, or an mlruns/ folder holding them."
    )


def _looks_like_a_store(folder: Path) -> bool:
    if (folder / TRASH).is_dir() or ((folder / REGISTRY).is_dir() and not (folder / META).exists()):
        return True
    return any(child.name.isdigit() and (child / META).is_file() for child in folder.iterdir())


# --- Records -----------------------------------------------------------------------------------


@dataclass(slots=True)
class ExperimentEntry:
    source_id: str
    folder: Path
    name: str
    lifecycle_stage: str
    artifact_location: str
    created_ms: int | None
    updated_ms: int | None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return int(self.source_id)


@dataclass(slots=True)
class RunEntry:
    run_id: str
    folder: Path
    name: str
    user_id: str
    status: str
    start_ms: int | None
    end_ms: int | None
    lifecycle_stage: str
    deleted_ms: int | None
    artifact_uri: str


@dataclass(slots=True)
class DatasetEntry:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str
    profile: str


@dataclass(slots=True)
class RunLinks:
    """A run's inputs (datasets with their input tags, models) and outputs (models at a step)."""

    datasets: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (dataset folder id, tags)
    models_in: list[str] = field(default_factory=list)
    models_out: list[tuple[str, int]] = field(default_factory=list)


@dataclass(slots=True)
class LoggedModelEntry:
    model_id: str
    folder: Path
    name: str
    model_type: str
    source_run_id: str
    status: str
    status_message: str
    lifecycle_stage: str
    artifact_location: str
    created_ms: int | None
    updated_ms: int | None


@dataclass(slots=True)
class VersionEntry:
    version: int
    folder: Path
    created_ms: int | None
    updated_ms: int | None
    description: str
    user_id: str
    source: str
    storage_location: str
    run_id: str
    run_link: str
    model_id: str
    current_stage: str
    status: str
    status_message: str
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def is_deleted(self) -> bool:
        return self.current_stage == DELETED_VERSION_STAGE


@dataclass(slots=True)
class RegisteredModelEntry:
    name: str
    folder: Path
    description: str
    created_ms: int | None
    updated_ms: int | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: list[VersionEntry] = field(default_factory=list)


# --- The reader ----------------------------------------------------------------------------------


class FileStoreReader:
    def __init__(self, source: SourceFolder) -> None:
        self.source = source
        self.root = source.root
        self._experiments: list[ExperimentEntry] | None = None

    # Experiments

    def experiments(self) -> list[ExperimentEntry]:
        """Active experiments by id, then deleted ones (in .trash); an id found twice is read once.
        Read once per reader: the problems found are reported once."""
        if self._experiments is None:
            self._experiments = self._read_experiments()
        return self._experiments

    def _read_experiments(self) -> list[ExperimentEntry]:
        found: dict[str, ExperimentEntry] = {}
        for folder, deleted in [(f, False) for f in self._experiment_folders(self.root)] + [
            (f, True) for f in self._experiment_folders(self.root / TRASH)
        ]:
            if folder.name in found:
                self.source.problem(
                    folder, f"experiment {folder.name} is also at {found[folder.name].folder}"
                )
                continue
            entry = self._experiment(folder, deleted)
            if entry is not None:
                found[folder.name] = entry
        return list(found.values())

    def _experiment_folders(self, parent: Path) -> list[Path]:
        folders = []
        for folder in self.source.subfolders(parent):
            if folder.name in (TRASH, REGISTRY) or folder.name.startswith("."):
                continue
            if not folder.name.isdigit():
                if (folder / META).exists():
                    self.source.problem(
                        folder, "an experiment id that is not a number; Studio numbers experiments"
                    )
                continue
            folders.append(folder)
        return sorted(folders, key=lambda folder: int(folder.name))

    def _experiment(self, folder: Path, deleted: bool) -> ExperimentEntry | None:
        meta = self.source.read_yaml(folder / META)
        if meta is None:
            return None
        if text_field(meta, "experiment_id") != folder.name or not int(folder.name) < _INT64:
            self.source.problem(folder / META, "the experiment_id does not match the folder's name")
            return None
        name = text_field(meta, "name")
        if not name:
            self.source.problem(folder / META, "the experiment has no name")
            return None
        tags = meta.get("tags") if isinstance(meta.get("tags"), dict) else {}
        tags = {str(key): str(value) for key, value in tags.items() if isinstance(value, str | int | float)}
        tags.update(self.key_files(folder / "tags"))
        stage = text_field(meta, "lifecycle_stage", "active")
        return ExperimentEntry(
            source_id=folder.name,
            folder=folder,
            name=name,
            lifecycle_stage="deleted" if deleted or stage == "deleted" else "active",
            artifact_location=text_field(meta, "artifact_location"),
            created_ms=int_field(meta, "creation_time"),
            updated_ms=int_field(meta, "last_update_time"),
            tags=tags,
        )

    def traces_count(self, experiment: ExperimentEntry) -> int:
        return len(self.source.subfolders(experiment.folder / "traces"))

    # Runs

    def run_folders(self, experiment: ExperimentEntry) -> list[Path]:
        return [
            folder for folder in self.source.subfolders(experiment.folder) if folder.name not in _NOT_RUNS
        ]

    def run(self, folder: Path, experiment: ExperimentEntry) -> RunEntry | None:
        meta = self.source.read_yaml(folder / META)
        if meta is None:
            return None
        run_id = text_field(meta, "run_id") or text_field(meta, "run_uuid")
        if run_id != folder.name:
            self.source.problem(folder / META, f"the run_id {run_id!r} does not match the folder's name")
            return None
        if len(run_id) > 32:
            self.source.problem(folder / META, "a run id longer than 32 characters")
            return None
        if text_field(meta, "experiment_id") not in ("", experiment.source_id):
            self.source.problem(
                folder / META, "the run names another experiment; it is imported into its folder's"
            )
        status = meta.get("status")
        status = _RUN_STATUSES.get(status) if isinstance(status, int) else text_field(meta, "status")
        if status not in _RUN_STATUSES.values():
            self.source.problem(
                folder / META, f"unknown run status {meta.get('status')!r}; imported as FAILED"
            )
            status = "FAILED"
        return RunEntry(
            run_id=run_id,
            folder=folder,
            name=text_field(meta, "run_name") or text_field(meta, "name"),
            user_id=text_field(meta, "user_id"),
            status=status,
            start_ms=int_field(meta, "start_time"),
            end_ms=int_field(meta, "end_time"),
            lifecycle_stage="deleted" if text_field(meta, "lifecycle_stage") == "deleted" else "active",
            deleted_ms=int_field(meta, "deleted_time"),
            artifact_uri=text_field(meta, "artifact_uri"),
        )

    def key_files(self, folder: Path) -> dict[str, str]:
        """{key: file content} of a params/ or tags/ folder (values are whole files, no newline added)."""
        values = {}
        for key, path in self.source.files(folder):
            text = self.source.read_text(path)
            if text is not None:
                values[key] = text
        return values

    def metric_files(self, folder: Path) -> list[tuple[str, Path]]:
        return list(self.source.files(folder / "metrics"))

    def links(self, run: RunEntry) -> RunLinks:
        links = RunLinks()
        for folder in self.source.subfolders(run.folder / "inputs"):
            meta = self.source.read_yaml(folder / META)
            if meta is None:
                continue
            kind, source_id = text_field(meta, "source_type"), text_field(meta, "source_id")
            if kind == "DATASET":
                tags = meta.get("tags") if isinstance(meta.get("tags"), dict) else {}
                links.datasets.append((source_id, {str(k): text_field(tags, k) for k in tags}))
            elif kind == "MODEL":
                links.models_in.append(source_id)
            else:
                self.source.problem(folder / META, f"an input of unknown kind {kind!r}")
        for folder in self.source.subfolders(run.folder / "outputs"):
            meta = self.source.read_yaml(folder / META)
            if meta is None:
                continue
            # MLflow writes the model's id as source_id (its reader takes destination_id, the run's).
            model_id = text_field(meta, "source_id") or folder.name
            links.models_out.append((model_id, int_field(meta, "step") or 0))
        return links

    def datasets(self, experiment: ExperimentEntry) -> dict[str, DatasetEntry]:
        """{dataset folder id: dataset} of an experiment."""
        found = {}
        for folder in self.source.subfolders(experiment.folder / "datasets"):
            meta = self.source.read_yaml(folder / META)
            if meta is None:
                continue
            found[folder.name] = DatasetEntry(
                name=text_field(meta, "name"),
                digest=text_field(meta, "digest"),
                source_type=text_field(meta, "source_type"),
                source=text_field(meta, "source"),
                schema=text_field(meta, "schema"),
                profile=text_field(meta, "profile"),
            )
        return found

    # Logged models (MLflow 3)

    def logged_models(self, experiment: ExperimentEntry) -> list[LoggedModelEntry]:
        models = []
        for folder in self.source.subfolders(experiment.folder / "models"):
            meta = self.source.read_yaml(folder / META)
            if meta is None:
                continue
            model_id = text_field(meta, "model_id")
            if model_id != folder.name or len(model_id) > 64:
                self.source.problem(folder / META, "the model_id does not match the folder's name")
                continue
            raw_status = meta.get("status")
            models.append(
                LoggedModelEntry(
                    model_id=model_id,
                    folder=folder,
                    name=text_field(meta, "name"),
                    model_type=text_field(meta, "model_type"),
                    source_run_id=text_field(meta, "source_run_id"),
                    status=_MODEL_STATUSES.get(raw_status, "LOGGED_MODEL_PENDING")
                    if isinstance(raw_status, int | str)
                    else "LOGGED_MODEL_PENDING",
                    status_message=text_field(meta, "status_message"),
                    lifecycle_stage="deleted"
                    if text_field(meta, "lifecycle_stage") == "deleted"
                    else "active",
                    artifact_location=text_field(meta, "artifact_location"),
                    created_ms=int_field(meta, "creation_timestamp"),
                    updated_ms=int_field(meta, "last_updated_timestamp"),
                )
            )
        return models

    # The model registry

    def registered_models(self) -> list[RegisteredModelEntry]:
        models = []
        for folder in self._registered_model_folders(self.root / REGISTRY):
            meta = self.source.read_yaml(folder / META)
            if meta is None:
                continue
            name = text_field(meta, "name")
            if not name:
                self.source.problem(folder / META, "a registered model without a name")
                continue
            model = RegisteredModelEntry(
                name=name,
                folder=folder,
                description=text_field(meta, "description"),
                created_ms=int_field(meta, "creation_timestamp"),
                updated_ms=int_field(meta, "last_updated_timestamp"),
                tags=self.key_files(folder / "tags"),
            )
            for alias, version in self.key_files(folder / "aliases").items():
                if version.strip().isdigit():
                    model.aliases[alias] = int(version.strip())
                else:
                    self.source.problem(folder / "aliases" / alias, "an alias that names no version number")
            for version_folder in self.source.subfolders(folder):
                match = _VERSION_FOLDER.fullmatch(version_folder.name)
                if match:
                    version = self._version(version_folder, int(match.group(1)))
                    if version is not None:
                        model.versions.append(version)
            model.versions.sort(key=lambda version: version.version)
            models.append(model)
        return models

    def _registered_model_folders(self, parent: Path) -> Iterator[Path]:
        # Names with '/' nest; a folder with a meta.yaml that is not a version is a model.
        for folder in self.source.subfolders(parent):
            if (folder / META).is_file():
                yield folder
            elif folder.name not in ("tags", "aliases"):
                yield from self._registered_model_folders(folder)

    def _version(self, folder: Path, number: int) -> VersionEntry | None:
        meta = self.source.read_yaml(folder / META)
        if meta is None:
            return None
        if int_field(meta, "version") not in (None, number) or number > 2**31 - 1:
            self.source.problem(folder / META, "the version number does not match the folder's name")
            return None
        return VersionEntry(
            version=number,
            folder=folder,
            created_ms=int_field(meta, "creation_timestamp"),
            updated_ms=int_field(meta, "last_updated_timestamp"),
            description=text_field(meta, "description"),
            user_id=text_field(meta, "user_id"),
            source=text_field(meta, "source"),
            storage_location=text_field(meta, "storage_location") or text_field(meta, "source"),
            run_id=text_field(meta, "run_id"),
            run_link=text_field(meta, "run_link"),
            model_id=text_field(meta, "model_id"),
            current_stage=text_field(meta, "current_stage", "None"),
            status=text_field(meta, "status", "READY"),
            status_message=text_field(meta, "status_message"),
            tags=self.key_files(folder / "tags"),
        )


# --- Metric files --------------------------------------------------------------------------------


def read_points(source: SourceFolder, path: Path, key: str, batch: int) -> Iterator[list[MetricPoint]]:
    """A run's metric file as batches of points; a bad line is skipped and reported.

    Lines are "timestamp value step", "timestamp value" (before steps existed) or
    "timestamp value step dataset_name dataset_digest"; values may be nan, inf or -inf.

    Most files are all "timestamp value step" lines: a block of them is converted a column at a
    time (C-level `map`s, several times faster than a line at a time, which is what bounds the
    import's speed). A block with any other line is read again line by line, which says which
    line is wrong and why.
    """
    handle = source.open_binary(path)
    if handle is None:
        return
    points: list[MetricPoint] = []
    number = 0  # lines read so far
    with handle:
        while lines := handle.readlines(_BLOCK_BYTES):
            block = _plain_block(key, lines)
            if block is None:
                block = _block_line_by_line(source, path, key, lines, number)
            number += len(lines)
            points.extend(block)
            while len(points) >= batch:
                yield points[:batch]
                points = points[batch:]
    if points:
        yield points


# Bytes of lines converted at a time (about 30,000 lines).
_BLOCK_BYTES = 1024 * 1024
_FIRST, _SECOND, _THIRD = itemgetter(0), itemgetter(1), itemgetter(2)


def _plain_block(key: str, lines: list[bytes]) -> list[MetricPoint] | None:
    """The points of lines that are all "timestamp value step" within range; None otherwise."""
    rows = list(map(bytes.split, lines))
    if not all(map((3).__eq__, map(len, rows))):
        return None
    try:
        timestamps = list(map(int, map(_FIRST, rows)))
        values = list(map(float, map(_SECOND, rows)))
        steps = list(map(int, map(_THIRD, rows)))
    except ValueError:
        return None
    if min(timestamps) < -_INT64 or max(timestamps) >= _INT64 or min(steps) < -_INT64 or max(steps) >= _INT64:
        return None
    # tuple.__new__ builds the named tuples without a Python-level call per point.
    fields = zip(repeat(key), values, timestamps, steps, repeat(None), repeat(None), repeat(None))
    return list(map(tuple.__new__, repeat(MetricPoint), fields))


def _block_line_by_line(
    source: SourceFolder, path: Path, key: str, lines: list[bytes], before: int
) -> list[MetricPoint]:
    points = []
    for number, raw in enumerate(lines, before + 1):
        parts = raw.split()
        try:
            if len(parts) == 3:
                point = MetricPoint(key, float(parts[1]), int(parts[0]), int(parts[2]))
            elif len(parts) == 2:
                point = MetricPoint(key, float(parts[1]), int(parts[0]), 0)
            elif len(parts) == 5:
                name, digest = parts[3].decode(), parts[4].decode()
                point = MetricPoint(key, float(parts[1]), int(parts[0]), int(parts[2]), None, name, digest)
            elif not parts:
                continue
            else:
                raise ValueError(f"{len(parts)} fields where 'timestamp value step' was expected")
            if not (-_INT64 <= point.timestamp < _INT64 and -_INT64 <= point.step < _INT64):
                raise ValueError("a timestamp or step beyond 64 bits")
        except (ValueError, UnicodeDecodeError) as error:
            source.problem(path, f"line {number} skipped: {_shown(raw)} ({_reason(error)})")
            continue
        points.append(point)
    return points


def read_model_points(source: SourceFolder, path: Path, key: str) -> list[tuple[MetricPoint, str]]:
    """A logged model's metric file: (point, run id) per line "timestamp value step run_id [name digest]"."""
    found = []
    handle = source.open_binary(path)
    if handle is None:
        return found
    with handle:
        for number, raw in enumerate(handle, 1):
            parts = raw.split()
            if not parts:
                continue
            try:
                if len(parts) not in (4, 6):
                    raise ValueError(f"{len(parts)} fields where 'timestamp value step run_id' was expected")
                name, digest = (parts[4].decode(), parts[5].decode()) if len(parts) == 6 else (None, None)
                point = MetricPoint(key, float(parts[1]), int(parts[0]), int(parts[2]), None, name, digest)
                found.append((point, parts[3].decode()[:32]))
            except (ValueError, UnicodeDecodeError) as error:
                source.problem(path, f"line {number} skipped: {_shown(raw)} ({_reason(error)})")
    return found


def count_lines(path: Path) -> int:
    """Non-empty lines of a file, counted without parsing them."""
    count, last = 0, b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1024 * 1024):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def is_nan(point: MetricPoint) -> bool:
    return math.isnan(point.value)


def _shown(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").strip()
    return repr(text if len(text) <= 80 else text[:80] + "...")


def _reason(error: Exception) -> str:
    return "not UTF-8" if isinstance(error, UnicodeDecodeError) else str(error)


def artifact_files(source: SourceFolder, folder: Path) -> Iterator[tuple[str, Path, int]]:
    """(path relative to the artifacts folder, file, size) of every artifact file."""
    for relative, path in source.files(folder):
        try:
            size = os.stat(path).st_size
        except OSError:
            continue
        yield relative, path, size
