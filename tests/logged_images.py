"""Runs with images logged per step, written straight into the artifact store in the names the
MLflow client gives them (`mlflow.log_image(image, key=..., step=...)`), with its run tag: the
real client takes seconds per hundred images, these take milliseconds."""

from __future__ import annotations

import io
import uuid

from tracking.queries.logged_images import LOGGED_IMAGES_TAG
from tracking.services.artifacts import proxy_path, save_artifact
from tracking.services.runs import set_tag

T0 = 1_764_500_000_000


def moving_square(step: int, size: int = 64, of: int = 60) -> bytes:
    """A PNG of a square that crosses the frame as the step grows, so every step looks different."""
    import numpy as np

    pixels = np.full((size, size, 3), (241, 245, 249), dtype=np.uint8)
    side = size // 4
    left = round((size - side) * (step % of) / max(of - 1, 1))
    top = size // 2 - side // 2 + round(size / 5 * np.sin(step / 4))
    pixels[top : top + side, left : left + side] = (37, 99, 235)
    pixels[: max(1, size * (step % of) // of), :2] = (220, 38, 38)  # a progress bar down the left edge
    return png(pixels)


def png(pixels) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def webp(data: bytes, size: int = 256) -> bytes:
    """The client's thumbnail: the image scaled to fit `size` x `size`, as WebP."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    scale = size / max(image.size)
    out = io.BytesIO()
    image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale)))).save(
        out, format="WEBP"
    )
    return out.getvalue()


def image_names(key: str, step: int, timestamp: int, uid: str | None = None) -> tuple[str, str]:
    """(the image's name, its thumbnail's name) in `images/`, as MLflow 3 writes them."""
    stem = f"{key.replace('/', '~')}+step+{step}+timestamp+{timestamp}+{uid or uuid.uuid4()}"
    return f"{stem}.png", f"{stem}+compressed.webp"


def log_images(workspace, run, key: str, steps, draw=moving_square, *, thumbnails: bool = True) -> None:
    """Writes one image (and its thumbnail) per step, and tags the run as the client does."""
    folder = proxy_path(run.artifact_uri)
    for step in steps:
        data = draw(step)
        full, small = image_names(key, step, T0 + step * 1000)
        put(workspace, f"{folder}/images/{full}", data)
        if thumbnails:
            put(workspace, f"{folder}/images/{small}", webp(data))
    set_tag(run=run, key=LOGGED_IMAGES_TAG, value="True")


def put(workspace, path: str, data: bytes) -> None:
    save_artifact(workspace=workspace, path=path, stream=io.BytesIO(data))
