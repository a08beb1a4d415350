"""Images logged per step (`mlflow.log_image(image, key=..., step=...)`): a run's image keys and,
per key, its steps, read from one listing of the run's `images/` folder.

Each call of the client (MLflow 3) writes two files and sets the run tag `mlflow.loggedImages`:

    images/<key>+step+<step>+timestamp+<ms>+<uuid>.png              the image as logged
    images/<key>+step+<step>+timestamp+<ms>+<uuid>+compressed.webp  a copy that fits 256 x 256

with every "/" of the key written as "~". Older clients separated the parts with "%" and wrote
"/" as "#"; both are read. The uuid makes every name unique, so a file never changes once
written. A name that is none of these (`log_image(image, artifact_file="x.png")`, anything else
in `images/`) is not a logged image: it is ignored here and stays a plain artifact.

Steps:
1. One listing per run (no walk, no per-file call); only runs tagged `mlflow.loggedImages` are
   listed when several are asked for (one query for the tags).
2. Names are parsed; the image and its thumbnail are paired by their shared stem.
3. Per key, one image per step, by step; a step logged twice shows the image logged last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tracking.artifacts import FileInfo, clean_path
from tracking.errors import InvalidParameterValue
from tracking.models import Run, RunTag, Workspace
from tracking.services.artifacts import list_under, proxy_path
from tracking.times import MAX_MS, ms_to_datetime

LOGGED_IMAGES_TAG = "mlflow.loggedImages"
IMAGES_FOLDER = "images"
IMAGE_TYPES = {"png": "image/png", "webp": "image/webp"}  # what the client writes, and all we serve

_NAME = re.compile(
    r"(?P<key>[^/+%]+?)(?P<sep>[+%])step(?P=sep)(?P<step>-?[0-9]{1,18})"
    r"(?P=sep)timestamp(?P=sep)(?P<timestamp>[0-9]{1,15})(?P=sep)(?P<uuid>[0-9A-Za-z-]{1,64})"
    r"(?P<compressed>(?P=sep)compressed)?\.(?P<extension>png|webp)"
)


@dataclass(frozen=True, slots=True)
class ImageName:
    """What a logged image's file name says."""

    key: str  # as logged: "/" restored
    step: int
    timestamp: int  # epoch milliseconds, as in the name
    stem: str  # the name without "+compressed" and extension: the image and its thumbnail share it
    compressed: bool


def parse_image_name(name: str) -> ImageName | None:
    """The parts of a file name in `images/`, or None when it is not a logged image's."""
    match = _NAME.fullmatch(name)
    if match is None or int(match["timestamp"]) > MAX_MS:
        return None
    key = match["key"].replace("~" if match["sep"] == "+" else "#", "/")
    if not key.strip():
        return None
    compressed = match["compressed"] is not None
    stem = name[: match.start("compressed")] if compressed else name[: match.start("extension") - 1]
    return ImageName(key, int(match["step"]), int(match["timestamp"]), stem, compressed)


@dataclass(slots=True)
class LoggedImage:
    """One step of a key: its image file and thumbnail, by name within `images/`."""

    step: int
    timestamp: int  # epoch milliseconds
    file: str = ""  # the image as logged; the thumbnail when only that was uploaded
    thumbnail: str = ""  # "" when the client uploaded no thumbnail (or not yet)
    thumbnail_size: int = 0

    @property
    def logged_at(self) -> datetime:
        return ms_to_datetime(self.timestamp)


@dataclass(slots=True)
class ImageSeries:
    key: str
    images: list[LoggedImage] = field(default_factory=list)  # one per step, by step

    @property
    def steps(self) -> list[int]:
        return [image.step for image in self.images]


def images_from_listing(files: Iterable[FileInfo]) -> list[ImageSeries]:
    """The series, by key, of a listing of `images/` (paths may carry folders; names count)."""
    by_stem: dict[str, tuple[ImageName, LoggedImage]] = {}
    for info in files:
        if info.is_dir:
            continue
        name = info.path.rpartition("/")[2]
        parsed = parse_image_name(name)
        if parsed is None:
            continue
        _, image = by_stem.setdefault(parsed.stem, (parsed, LoggedImage(parsed.step, parsed.timestamp)))
        if parsed.compressed:
            image.thumbnail, image.thumbnail_size = name, info.file_size or 0
        else:
            image.file = name
    latest: dict[tuple[str, int], tuple[tuple[int, str], LoggedImage]] = {}
    for stem, (parsed, image) in by_stem.items():
        image.file = image.file or image.thumbnail
        order = (parsed.timestamp, stem)
        slot = (parsed.key, parsed.step)
        if slot not in latest or latest[slot][0] < order:
            latest[slot] = (order, image)
    series: dict[str, ImageSeries] = {}
    for (key, _), (_, image) in sorted(latest.items()):
        series.setdefault(key, ImageSeries(key)).images.append(image)
    return list(series.values())


def images_folder(run: Run) -> str | None:
    """The run's `images/` folder, relative to its workspace's store; None when not on this server."""
    folder = proxy_path(run.artifact_uri)
    if folder is None:
        return None
    try:
        return clean_path(f"{folder}/{IMAGES_FOLDER}")
    except InvalidParameterValue:
        return None


def logged_images(workspace: Workspace, run: Run) -> list[ImageSeries]:
    """The run's logged images by key (one listing of its `images/` folder)."""
    folder = images_folder(run)
    if folder is None:
        return []
    return images_from_listing(list_under(workspace, folder, ""))


def logged_images_of_runs(workspace: Workspace, runs: Sequence[Run]) -> dict[int, list[ImageSeries]]:
    """Each tagged run's images by key, by run pk: one query for the tags, one listing per tagged run."""
    tagged = set(
        RunTag.objects.filter(run_id__in=[run.pk for run in runs], key=LOGGED_IMAGES_TAG).values_list(
            "run_id", flat=True
        )
    )
    found = {}
    for run in runs:
        if run.pk in tagged and (series := logged_images(workspace, run)):
            found[run.pk] = series
    return found
