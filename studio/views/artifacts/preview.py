"""What the preview pane shows for a selected file: never more than a bounded part of it."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from django.template.defaultfilters import filesizeformat

from registry.mlmodel import ModelFolderError, parse_mlmodel
from studio import artifact_previews as previews
from studio.notebook_preview import MAX_NOTEBOOK_BYTES, Notebook, NotebookError, parse_notebook
from studio.parquet_preview import ParquetError, preview_parquet
from tracking.artifacts import ArtifactIsADirectory, ArtifactNotFound
from tracking.errors import InvalidParameterValue
from tracking.services.artifacts import open_artifact

if TYPE_CHECKING:
    from studio.views.artifacts.browser import ArtifactRoot, Entry


def file_preview(root: ArtifactRoot, entry: Entry, siblings: list[Entry], view: str) -> dict:
    """What the preview pane shows for a file (never more than a bounded prefix of it)."""
    size = entry.size or 0
    kind = previews.preview_kind(entry.name)
    preview: dict = {"kind": kind, "view": view, "size": size}
    if kind in previews.INLINE_LIMITS:
        preview["too_large"] = not previews.fits_inline(kind, size)
        return preview
    if kind in previews.MEDIA_KINDS:  # played from the raw URL, which streams ranges
        return preview
    if kind == "parquet":
        return _parquet(root, entry, preview)
    if kind == "notebook" and view != "raw":
        notebook, problem = _notebook(root, entry)
        if notebook is not None:
            preview["notebook"] = notebook
            return preview
        preview["problem"] = problem  # and the JSON or text below
    if kind == "mlmodel":
        card, problem = model_card(root, posixpath.dirname(entry.path), siblings)
        if card is not None:
            preview["card"] = card
            return preview
        preview["problem"] = problem
    with open_artifact(root.workspace, root.full(entry.path))[0] as handle:
        prefix = previews.read_prefix(handle)
    text = previews.decode_text(prefix, textual=kind != "unknown")
    if text is None:
        preview["kind"] = "binary"
        return preview
    preview.update(
        text=text,
        truncated=prefix.truncated,
        shown=len(prefix.data),
        kind="text" if kind == "unknown" else kind,
    )
    if view == "raw":
        return preview
    if kind == "table":  # the first rows of a large table are worth a table too
        delimiter = previews.table_delimiter(entry.name)
        preview["table"] = previews.parse_table(text, delimiter=delimiter, truncated=prefix.truncated)
    elif prefix.truncated:
        pass  # half a document cannot be parsed: the text it is
    elif kind in ("json", "notebook"):
        preview["pretty"] = previews.pretty_json(text)
    elif kind in ("yaml", "mlmodel"):
        preview["pretty"] = previews.pretty_yaml(text)
    return preview


def _notebook(root: ArtifactRoot, entry: Entry) -> tuple[Notebook | None, str]:
    """(the parsed notebook, "") or (None, why it is shown as text instead)."""
    if (entry.size or 0) > MAX_NOTEBOOK_BYTES:
        limit = filesizeformat(MAX_NOTEBOOK_BYTES)
        return None, f"Notebooks up to {limit} are rendered; this one is shown as text."
    data = _read_small(root, entry.path, MAX_NOTEBOOK_BYTES)
    if data is None:
        return None, "This notebook could not be read whole; it is shown as text."
    try:
        return parse_notebook(data), ""
    except NotebookError as error:
        return None, f"{error} It is shown as text."


def _parquet(root: ArtifactRoot, entry: Entry, preview: dict) -> dict:
    """The schema and first rows of a Parquet file, or the reason there are none."""
    with open_artifact(root.workspace, root.full(entry.path))[0] as handle:
        try:
            preview["parquet"] = preview_parquet(handle)
        except ParquetError as error:
            preview["problem"] = str(error)
    return preview


def model_card(
    root: ArtifactRoot, folder: str, siblings: list[Entry]
) -> tuple[previews.ModelCard | None, str]:
    """The card of the MLmodel in `folder` (whose entries are `siblings`), or (None, why not).

    The MLmodel is read up to the registry's own limit; conda.yaml, python_env.yaml,
    requirements.txt and the input example next to it only when they are small.
    """
    sizes = {entry.name: entry.size or 0 for entry in siblings if not entry.is_dir}
    mlmodel_path = posixpath.join(folder, previews.MLMODEL)
    if sizes.get(previews.MLMODEL, previews.MAX_MODEL_TEXT_BYTES + 1) > previews.MAX_MODEL_TEXT_BYTES:
        return None, "This MLmodel is too large to read as a model description."
    try:
        mlmodel = parse_mlmodel(_read_small(root, mlmodel_path, previews.MAX_MODEL_TEXT_BYTES) or b"")
    except ModelFolderError as error:
        return None, str(error)
    texts = {}
    for name in previews.side_files(mlmodel):
        if sizes.get(name, previews.MAX_SIDE_FILE_BYTES + 1) <= previews.MAX_SIDE_FILE_BYTES:
            data = _read_small(root, posixpath.join(folder, name), previews.MAX_SIDE_FILE_BYTES)
            text = previews.decode_text(previews.Prefix(data or b"", False))
            if text:
                texts[name] = text
    env = mlmodel.env_files()
    environment = [
        (name, texts.get(name, "")) for name in (env["conda"], env["virtualenv"], "requirements.txt")
    ]
    example_name = (mlmodel.saved_input_example_info or {}).get("artifact_path")
    card = previews.model_card(
        mlmodel,
        environment=environment,
        input_example=texts.get(example_name, "") if isinstance(example_name, str) else "",
        load_uri=_load_uri(root, folder),
    )
    return card, ""


def _read_small(root: ArtifactRoot, path: str, limit: int) -> bytes | None:
    try:
        with open_artifact(root.workspace, root.full(path))[0] as handle:
            prefix = previews.read_prefix(handle, limit)
    except (ArtifactNotFound, ArtifactIsADirectory, InvalidParameterValue):
        return None
    return None if prefix.truncated else prefix.data


def _load_uri(root: ArtifactRoot, folder: str) -> str:
    if not root.load_uri:
        return ""
    if root.load_uri.startswith("runs:/"):
        return f"{root.load_uri}/{folder}" if folder else ""
    return "" if folder else root.load_uri
