"""Jupyter notebooks (.ipynb, format 4) as a read-only page: cells and their saved outputs, nothing run.

`parse_notebook` turns the file's bytes into plain data that a Django template renders; what
a notebook holds is whatever its author saved, so nothing in it becomes active on our origin:

- markdown is rendered by markdown-it-py with raw HTML off (tags show as text), links only of
  safe schemes, images only when embedded (data: of a raster type, or the cell's attachments);
  without markdown-it-py installed, markdown shows as its source;
- code, stream text, plain text, LaTeX, JSON and JavaScript outputs are text, escaped by the template;
- error tracebacks lose their ANSI colour codes;
- PNG, JPEG and GIF outputs become data: URIs of checked base64 (the pages send no policy that
  forbids data: images, and an image cannot run anything);
- HTML and SVG outputs go into an `<iframe sandbox srcdoc>` (no allow-scripts: an opaque origin,
  no scripts, no forms), whose own policy also forbids fetching anything.

Everything is bounded: the file (MAX_NOTEBOOK_BYTES, read by the caller), the cells, the outputs
per cell and the characters of every text.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# markdown-it-py is a server dependency; a checkout without it still shows notebooks, markdown as
# source. It is imported with the first notebook, not by every web process as it starts.
MARKDOWN_INSTALLED = importlib.util.find_spec("markdown_it") is not None

MAX_NOTEBOOK_BYTES = 10 * 1024**2  # notebooks carry their images inline: larger than PREVIEW_BYTES
MAX_CELLS = 500
MAX_OUTPUTS = 50  # per cell
MAX_TEXT_CHARS = 50_000  # per source, stream or output text
MAX_IMAGE_CHARS = 8 * 1024**2  # base64 characters of one image output
HTML_FRAME_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

# The richest kind of a display output that is shown, first found wins (as nbconvert picks).
_IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif")
_FRAME_MIMES = ("text/html", "image/svg+xml")
_TEXT_MIMES = ("text/markdown", "text/latex", "application/json", "text/plain", "application/javascript")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*", re.IGNORECASE)
_FRAME_HEAD = (
    f'<!doctype html><html><head><meta charset="utf-8">'
    f'<meta http-equiv="Content-Security-Policy" content="{HTML_FRAME_CSP}">'
    "<style>body{margin:6px;font:13px/1.4 system-ui,sans-serif;color:#0f172a}"
    "table{border-collapse:collapse;border:0}th,td{padding:4px 10px;border:0;border-bottom:1px solid #e2e8f0;text-align:right}"
    "th{background:#f8fafc}</style></head><body>"
)


class NotebookError(ValueError):
    """The file is not a notebook this preview renders; the message says why, for the page."""


@dataclass(slots=True)
class Output:
    kind: str  # "text" (stream, plain...), "error", "image", "frame", "markdown" or "omitted"
    text: str = ""
    html: SafeString | None = None  # markdown, rendered
    name: str = ""  # stdout / stderr, the error's name, or the MIME type shown
    src: str = ""  # an image's data: URI
    srcdoc: str = ""  # a frame's document
    height: int = 0  # a frame's height in pixels (no script may measure it)
    truncated: bool = False


@dataclass(slots=True)
class Cell:
    kind: str  # "code", "markdown" or "raw"
    source: str = ""
    html: SafeString | None = None  # a markdown cell, rendered
    execution_count: int | None = None
    outputs: list[Output] = field(default_factory=list)
    outputs_left_out: int = 0
    truncated: bool = False


@dataclass(slots=True)
class Notebook:
    cells: list[Cell]
    language: str
    cells_left_out: int = 0
    markdown_rendered: bool = True  # False: markdown-it-py is missing, markdown shows as source


def parse_notebook(data: bytes) -> Notebook:
    """The notebook in `data` (at most MAX_NOTEBOOK_BYTES of JSON), or NotebookError saying why not."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise NotebookError("This file is not valid JSON, so it cannot be shown as a notebook.") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells", []), list):
        raise NotebookError("This JSON file is not a Jupyter notebook (no list of cells).")
    version = document.get("nbformat")
    if version != 4 or "cells" not in document:
        raise NotebookError(
            f"This notebook is in format {version!r}; only format 4 notebooks (Jupyter 4 and later) are rendered."
        )
    metadata = _dict(document.get("metadata"))
    language = _language(metadata)
    raw_cells = document["cells"]
    cells = [_cell(raw, language) for raw in raw_cells[:MAX_CELLS]]
    return Notebook(
        cells, language, max(len(raw_cells) - MAX_CELLS, 0), markdown_rendered=_renderer() is not None
    )


def _language(metadata: dict) -> str:
    for value in (
        _dict(metadata.get("kernelspec")).get("language"),
        _dict(metadata.get("language_info")).get("name"),
    ):
        if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_+#.-]{1,40}", value):
            return value.lower()
    return "python"


def _cell(raw: Any, language: str) -> Cell:
    raw = _dict(raw)
    source, truncated = _text(raw.get("source"))
    kind = raw.get("cell_type")
    if kind == "markdown":
        return Cell(
            "markdown", source, render_markdown(source, _dict(raw.get("attachments"))), truncated=truncated
        )
    if kind != "code":
        return Cell("raw", source, truncated=truncated)
    count = raw.get("execution_count")
    outputs = raw.get("outputs") if isinstance(raw.get("outputs"), list) else []
    return Cell(
        "code",
        source,
        execution_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
        outputs=[_output(_dict(output)) for output in outputs[:MAX_OUTPUTS]],
        outputs_left_out=max(len(outputs) - MAX_OUTPUTS, 0),
        truncated=truncated,
    )


def _output(raw: dict) -> Output:
    kind = raw.get("output_type")
    if kind == "stream":
        text, truncated = _text(raw.get("text"))
        name = raw.get("name") if raw.get("name") in ("stdout", "stderr") else "stdout"
        return Output("text", strip_ansi(text), name=name, truncated=truncated)
    if kind == "error":
        lines = raw.get("traceback")
        if isinstance(lines, list) and lines:
            text, truncated = _text("\n".join(str(line) for line in lines))
        else:
            text, truncated = _text(f"{raw.get('ename', 'Error')}: {raw.get('evalue', '')}")
        return Output("error", strip_ansi(text), name=str(raw.get("ename", ""))[:200], truncated=truncated)
    if kind in ("display_data", "execute_result"):
        return _display(_dict(raw.get("data")))
    return Output("omitted", name=str(kind)[:100])


def _display(data: dict) -> Output:
    """The richest part of a display output that can be shown inert."""
    image = _image(data)
    if image is not None:
        mime, uri = image
        return (
            Output("image", src=uri, name=mime)
            if uri
            else Output("omitted", name=f"{mime} (too large or not base64)")
        )
    for mime in _FRAME_MIMES:
        if mime in data:
            document, truncated = _text(data[mime], limit=MAX_TEXT_CHARS * 4)
            return Output(
                "frame",
                srcdoc=_FRAME_HEAD + document,
                height=_frame_height(document),
                name=mime,
                truncated=truncated,
            )
    for mime in _TEXT_MIMES:
        if mime not in data:
            continue
        value = data[mime]
        if mime == "application/json" and not isinstance(value, str | list):
            value = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        text, truncated = _text(value)
        if mime == "text/markdown":
            return Output("markdown", html=render_markdown(text, {}), name=mime, truncated=truncated)
        return Output("text", strip_ansi(text), name=mime, truncated=truncated)
    return Output("omitted", name=", ".join(sorted(str(key) for key in data))[:200] or "empty output")


def _frame_height(document: str) -> int:
    """A height for an output's frame, guessed from its table rows or lines (nothing may measure it)."""
    rows = document.count("<tr")
    lines = rows * 26 + 40 if rows else document.count("\n") * 18 + 60
    return max(60, min(lines, 520))


def _image(bundle: dict) -> tuple[str, str] | None:
    """(MIME type, data: URI) of the first raster image in a MIME bundle; the URI is "" when its
    base64 is too long or not base64; None when the bundle has no image."""
    for mime in _IMAGE_MIMES:
        if isinstance(bundle.get(mime), str | list):
            encoded = re.sub(r"\s+", "", "".join(_strings(bundle[mime])))
            if len(encoded) <= MAX_IMAGE_CHARS and _BASE64.fullmatch(encoded):
                return mime, f"data:{mime};base64,{encoded}"
            return mime, ""
    return None


def strip_ansi(text: str) -> str:
    """The text without terminal escape sequences (the colours of a Jupyter traceback)."""
    return _ANSI.sub("", text)


def _text(value: Any, limit: int = MAX_TEXT_CHARS) -> tuple[str, bool]:
    """A notebook's multiline string (a string or a list of them) cut to `limit` characters."""
    text = "".join(_strings(value)) if isinstance(value, list) else (value if isinstance(value, str) else "")
    if len(text) <= limit:
        return text, False
    return text[:limit], True


def _strings(value: Any) -> list[str]:
    return (
        [item if isinstance(item, str) else str(item) for item in value]
        if isinstance(value, list)
        else [value]
    )


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


# --- Markdown --------------------------------------------------------------------------------


def _make_markdown():
    if not MARKDOWN_INSTALLED:
        return None
    from markdown_it import MarkdownIt

    # CommonMark with tables and strikethrough; "html": False writes raw HTML out as text, and
    # the parser refuses javascript:, vbscript:, file: and non-image data: links by itself.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _render_image)
    md.add_render_rule("link_open", _render_link_open)
    return md


def _render_image(self, tokens, index, options, env) -> str:
    """Embedded images only: a remote one would be fetched from the reader's browser."""
    token = tokens[index]
    alt = self.renderInlineAsText(token.children or [], options, env)
    src = str(token.attrGet("src") or "")
    if src.startswith("attachment:"):
        src = _attachment_uri(env.get("attachments", {}), src.removeprefix("attachment:"))
    if not _DATA_IMAGE.fullmatch(src):
        return f'<span class="md-image-omitted" title="{escape(src[:200])}">[image: {escape(alt)}]</span>'
    return f'<img src="{escape(src)}" alt="{escape(alt)}">'


def _render_link_open(self, tokens, index, options, env) -> str:
    tokens[index].attrSet("rel", "noopener noreferrer nofollow")
    return self.renderToken(tokens, index, options, env)


def _attachment_uri(attachments: dict, name: str) -> str:
    image = _image(_dict(attachments.get(name)))
    return image[1] if image is not None else ""


_UNBUILT = object()
_markdown: Any = _UNBUILT


def _renderer():
    """The markdown renderer, built on first use; None without markdown-it-py."""
    global _markdown
    if _markdown is _UNBUILT:
        _markdown = _make_markdown()
    return _markdown


def render_markdown(source: str, attachments: dict) -> SafeString:
    """Markdown as HTML that runs nothing; the escaped source in a <pre> without markdown-it-py."""
    renderer = _renderer()
    if renderer is None:
        return mark_safe(f'<pre class="md-source">{escape(source)}</pre>')  # escaped above
    return mark_safe(renderer.render(source, {"attachments": attachments}))  # raw HTML is off
