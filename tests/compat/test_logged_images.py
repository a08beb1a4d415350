"""Images logged per step by the real client (`mlflow.log_image(image, key=..., step=...)`) appear
on the run's Images tab and in the comparison; `log_image(image, artifact_file=...)` stays a
plain artifact."""

from __future__ import annotations

import json
import re
from io import BytesIO

import pytest
import requests

# Stored files: run again on each artifact store (STUDIO_TEST_ARTIFACT_STORE).
pytestmark = pytest.mark.artifacts


@pytest.fixture
def experiment(fluent, artifact_root):
    fluent.set_experiment("logged-images")


def embedded(html: str, element: str):
    match = re.search(rf'<script id="{element}" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_images_logged_by_the_client_appear_per_key_with_every_step(fluent, client, experiment, tracking_uri):
    import numpy as np
    from PIL import Image

    with fluent.start_run() as first:
        for step in range(4):
            pixels = np.zeros((40, 60, 3), dtype=np.uint8)
            pixels[:, step * 10 : step * 10 + 10] = 255
            fluent.log_image(pixels, key="val/masks", step=step)
        fluent.log_image(Image.new("RGB", (30, 30), "red"), key="sample image", step=7)
        fluent.log_image(np.zeros((8, 8, 3), dtype=np.uint8), artifact_file="images/plain.png")
    with fluent.start_run() as second:
        fluent.log_image(np.ones((16, 16, 3), dtype=np.float32), key="val/masks", step=2)

    session = requests.Session()
    base = f"{tracking_uri}/ws/default/runs/{first.info.run_id}/"
    assert f"{base}images/".removeprefix(tracking_uri) in session.get(base).text  # the tab is shown
    page = session.get(f"{base}images/")
    assert page.status_code == 200
    series = embedded(page.text, "image-series")
    assert [(one["key"], one["steps"]) for one in series] == [
        ("sample image", [7]),
        ("val/masks", [0, 1, 2, 3]),
    ]
    masks = series[1]

    full = session.get(f"{base}images/file", params={"name": masks["files"][2]})
    assert full.headers["Content-Type"] == "image/png" and full.headers["X-Content-Type-Options"] == "nosniff"
    image = Image.open(BytesIO(full.content))
    assert image.size == (60, 40) and image.getpixel((25, 20)) == (255, 255, 255)
    assert masks["thumbs"] == [1, 1, 1, 1]  # named as the client names them: the page derives the names
    thumbnail_name = masks["files"][2].removesuffix(".png") + "+compressed.webp"
    thumbnail = session.get(f"{base}images/file", params={"name": thumbnail_name})
    assert thumbnail.headers["Content-Type"] == "image/webp"
    assert Image.open(BytesIO(thumbnail.content)).size == (256, 170)  # the client's compressed copy

    bundle = session.get(f"{base}images/thumbnails?{masks['bundles'][0]['query']}")
    length = int.from_bytes(bundle.content[:4], "big")
    names = [name for name, _ in json.loads(bundle.content[4 : 4 + length])]
    assert names == [file.removesuffix(".png") + "+compressed.webp" for file in masks["files"]]

    names = {info.path for info in client.list_artifacts(first.info.run_id, "images")}
    assert "images/plain.png" in names  # still an artifact, and no series of its own

    compare = session.get(
        f"{tracking_uri}/ws/default/compare/", params={"runs": f"{first.info.run_id},{second.info.run_id}"}
    )
    entries = embedded(compare.text, "compare-images")
    masks_entry = next(entry for entry in entries if entry["key"] == "val/masks")
    assert [column["run"] for column in masks_entry["runs"]] == [first.info.run_id, second.info.run_id]
    assert masks_entry["steps"] == [0, 1, 2, 3]
