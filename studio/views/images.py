"""Studio pages: a run's Images tab (a gallery per key with a step slider), the image files it
shows, the thumbnails in bulk, and the images section of the comparison of several runs.

Moving a slider costs no request: the page carries every step of every key (JSON, from one
listing of the run's `images/` folder), the browser fetches the small thumbnails in a few
bundles (`thumbnails`: one answer carrying up to BUNDLE_COUNT of them), shows the thumbnail of a
step at once and the full image only when the slider rests. Files never change (their names
carry a uuid), so they and a bundle whose names the page listed are cached for good.

Only names that parse as logged images (png or webp, see `tracking.queries.logged_images`) are
served, typed as what they are, through the same path checks and headers as the Artifacts tab.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET

from studio import charts
from studio.lookups import run_or_404
from studio.pages import elapsed
from studio.routing import workspace_route
from studio.views.artifacts import ArtifactRoot, folder_of, stream_file
from tracking.artifacts import ArtifactIsADirectory, ArtifactNotFound
from tracking.errors import InvalidParameterValue
from tracking.models import Run, Workspace
from tracking.queries.logged_images import (
    IMAGE_TYPES,
    IMAGES_FOLDER,
    ImageSeries,
    LoggedImage,
    logged_images,
    logged_images_of_runs,
    parse_image_name,
)
from tracking.services.artifacts import open_artifact

BUNDLE_COUNT = 250  # thumbnails per bundle: a 1,000-step key arrives in four answers
BUNDLE_BYTES = 4 * 1024**2  # and at most this much in one
MAX_BUNDLED_THUMBNAIL = 512 * 1024  # a larger "thumbnail" is fetched on its own, when shown
FOREVER = "private, max-age=31536000, immutable"


# --- What the page embeds --------------------------------------------------------------------


def _fingerprint(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


def _bundles(series: ImageSeries) -> list[dict]:
    """The series' thumbnails cut into bundles of at most BUNDLE_COUNT files and BUNDLE_BYTES."""
    images, bundles, start, size = series.images, [], 0, 0
    for index, image in enumerate(images):
        weight = image.thumbnail_size if _bundlable(image) else 0
        if index > start and (index - start >= BUNDLE_COUNT or size + weight > BUNDLE_BYTES):
            bundles.append(_bundle(series, start, index))
            start, size = index, 0
        size += weight
    if images:
        bundles.append(_bundle(series, start, len(images)))
    return [bundle for bundle in bundles if bundle is not None]


def _bundle(series: ImageSeries, start: int, end: int) -> dict | None:
    names = _bundled(series.images[start:end])
    if not names:
        return None
    query = {"key": series.key, "from": start, "count": end - start, "v": _fingerprint(names)}
    return {"from": start, "count": end - start, "query": urlencode(query)}


def _bundlable(image: LoggedImage) -> bool:
    return bool(image.thumbnail) and image.thumbnail_size <= MAX_BUNDLED_THUMBNAIL


def _bundled(images: list[LoggedImage]) -> list[str]:
    return [image.thumbnail for image in images if _bundlable(image)]


def series_payload(run: Run, series: ImageSeries, workspace: Workspace) -> dict:
    """One key's steps for the page's JSON, in columns rather than objects. A thumbnail named as
    the client names it after its image is written 1 (the page derives it): 1,000 steps ~ 110 kB."""
    bundled = set(_bundled(series.images))
    return {
        "key": series.key,
        "base": f"/ws/{workspace.name}/runs/{run.uuid}/images/",
        "steps": [image.step for image in series.images],
        "times": [image.timestamp for image in series.images],
        "files": [image.file for image in series.images],
        "thumbs": [_thumbnail_entry(image) if image.thumbnail in bundled else "" for image in series.images],
        "bundles": _bundles(series),
    }


def _thumbnail_entry(image: LoggedImage) -> str | int:
    """1 when the thumbnail's name is its image's with "+compressed.webp" for ".png" (the "%"
    separator for the older names), as static/studio/images.js derives it; else the name."""
    separator = "+" if "+step+" in image.file else "%"
    derived = f"{image.file.removesuffix('.png')}{separator}compressed.webp"
    return 1 if image.file.endswith(".png") and image.thumbnail == derived else image.thumbnail


def embedded_json(value: object) -> SafeString:
    """`value` as JSON for a <script type="application/json"> (as Django's json_script escapes it,
    <, > and & as \\u escapes), written by orjson: a 1,000-step key in a few milliseconds."""
    text = orjson.dumps(value).decode()
    return mark_safe(text.replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026"))


@dataclass(frozen=True)
class ComparedImages:
    entries: list[dict]  # per key: its steps (any run's) and the runs that logged it

    @property
    def json(self) -> SafeString:
        return embedded_json(self.entries)


def compared_images(workspace: Workspace, runs: list[Run]) -> ComparedImages:
    """Per key any compared run logged: every step any of them logged, and the runs that logged
    it (in the comparison's order), each with its own steps."""
    found = logged_images_of_runs(workspace, runs)
    keys: dict[str, list[dict]] = {}
    for index, run in enumerate(runs):
        for series in found.get(run.pk, []):
            data = series_payload(run, series, workspace)
            data.update(
                run=run.uuid,
                name=run.name or run.uuid,
                color=charts.color(index),
                last_step=series.images[-1].step,
                last_href=_file_href(data, -1),
            )
            keys.setdefault(series.key, []).append(data)
    return ComparedImages(
        [
            {
                "key": key,
                "steps": sorted({step for data in keys[key] for step in data["steps"]}),
                "runs": keys[key],
            }
            for key in sorted(keys)
        ]
    )


# --- The run's Images tab --------------------------------------------------------------------


@gzip_page
@require_GET
def run_images(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    run = run_or_404(workspace, run_id)
    series = logged_images(workspace, run)
    payload = [series_payload(run, one, workspace) for one in series]
    cards = [
        {"key": one.key, "count": len(one.images), "last": one.images[-1], "href": _file_href(data, -1)}
        for one, data in zip(series, payload, strict=True)
    ]
    context = {
        "workspace": workspace,
        "area": "experiments",
        "run": run,
        "experiment": run.experiment,
        "tab": "images",
        "duration": elapsed(run.start_time, run.end_time, running=run.status == "RUNNING"),
        "cards": cards,
        "image_json": embedded_json(payload),
    }
    return render(request, "studio/images/run_images.html", context)


def _file_href(data: dict, index: int) -> str:
    return f"{data['base']}file?{urlencode({'name': data['files'][index]})}"


def _run_images_root(workspace: Workspace, run_id: str) -> tuple[Run, ArtifactRoot]:
    run = run_or_404(workspace, run_id)
    root = ArtifactRoot(workspace, folder_of(run.artifact_uri), run.artifact_uri, "Run artifacts")
    if root.folder is None:
        raise Http404("This run's files are not stored on this server.")
    return run, root


@require_GET
def run_image_file(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    """A logged image or its thumbnail, by name: a raster type, inert, cached for good."""
    name = request.GET.get("name", "")
    if parse_image_name(name) is None:
        raise Http404("No logged image by that name.")
    _, root = _run_images_root(workspace, run_id)
    content_type = IMAGE_TYPES[name.rpartition(".")[2]]
    response = stream_file(request, root, f"{IMAGES_FOLDER}/{name}", content_type, False, _POLICY)
    response["Cache-Control"] = FOREVER
    return response


_POLICY = "default-src 'none'; sandbox"


@require_GET
def run_image_thumbnails(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    """Thumbnails of one key's steps `from` to `from + count`, in one answer.

    The body is a 4-byte big-endian length, a JSON list of [name, size] of that length, then the
    files' bytes one after the other. A bundle whose names match the page's fingerprint `v` is
    cached for good; otherwise (images logged since) it is answered fresh.
    """
    try:
        start = int(request.GET.get("from", "0"))
        count = int(request.GET.get("count", ""))
    except ValueError:
        return _bad_request("from and count must be whole numbers.")
    if start < 0 or not 1 <= count <= BUNDLE_COUNT:
        return _bad_request(f"from must be 0 or more and count between 1 and {BUNDLE_COUNT}.")
    run, root = _run_images_root(workspace, run_id)
    key = request.GET.get("key", "")
    series = next((one for one in logged_images(workspace, run) if one.key == key), None)
    if series is None:
        raise Http404("No images logged under that key.")
    names = _bundled(series.images[start : start + count])
    header, parts, total = [], [], 0
    for name in names:
        data = _read(workspace, root, name)
        if data is None:
            continue
        total += len(data)
        if total > BUNDLE_BYTES:
            break  # not a range the page asks for: the rest show their full image when the slider rests
        header.append([name, len(data)])
        parts.append(data)
    encoded = json.dumps(header).encode()
    response = HttpResponse(
        b"".join([len(encoded).to_bytes(4, "big"), encoded, *parts]), content_type="application/octet-stream"
    )
    response["Content-Disposition"] = "attachment"
    response["Content-Security-Policy"] = _POLICY
    response["X-Content-Type-Options"] = "nosniff"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    fresh = request.GET.get("v") == _fingerprint(names)
    response["Cache-Control"] = FOREVER if fresh else "private, no-cache"
    return response


def _read(workspace: Workspace, root: ArtifactRoot, name: str) -> bytes | None:
    try:
        handle, size, _ = open_artifact(workspace, root.full(f"{IMAGES_FOLDER}/{name}"))
    except (ArtifactNotFound, ArtifactIsADirectory, InvalidParameterValue):
        return None  # deleted since the listing
    with handle:
        return handle.read(MAX_BUNDLED_THUMBNAIL + 1) if size <= MAX_BUNDLED_THUMBNAIL else None


def _bad_request(message: str) -> HttpResponse:
    body = json.dumps({"error_code": "INVALID_PARAMETER_VALUE", "message": message})
    return HttpResponse(body, status=400, content_type="application/json")


_IMAGES = "ws/<slug:workspace>/runs/<str:run_id>/images/"

urlpatterns = [
    workspace_route(_IMAGES, run_images, name="run-images"),
    workspace_route(f"{_IMAGES}file", run_image_file, name="run-image-file"),
    workspace_route(f"{_IMAGES}thumbnails", run_image_thumbnails, name="run-image-thumbnails"),
]
