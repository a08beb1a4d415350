"""Previews of artifact files: what kind of preview a file gets, and bounded reads to build it.

Pure functions over names, sizes, bytes and open files; the views decide which file to open.
Nothing here reads a file whole: text-like files are previewed by their first PREVIEW_BYTES,
the MLmodel and the files next to it by at most MAX_MODEL_TEXT_BYTES, and kinds the browser
renders itself (images, PDF, HTML) are never read by the server at all, only streamed when
their size is under the kind's limit.

How a file is served raw is decided here too, in one place (`raw_headers`): nothing the browser
would execute is ever served as what it is, except HTML through the sandboxed preview path.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import posixpath
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import yaml

from registry.mlmodel import MLmodel
from tracking.safe_yaml import safe_load

PREVIEW_BYTES = 256 * 1024
MAX_MODEL_TEXT_BYTES = 1024 * 1024  # the registry's own limit for an MLmodel (registry.mlmodel)
MAX_SIDE_FILE_BYTES = 64 * 1024  # conda.yaml, requirements.txt, input_example.json next to an MLmodel
SNIFF_BYTES = 8 * 1024
TABLE_ROWS = 500
TABLE_COLUMNS = 100
CELL_CHARS = 500
MAX_PRETTY_NODES = 50_000

# The browser renders these from the raw or sandboxed URL; above the limit only a download is offered.
INLINE_LIMITS = {"image": 25 * 1024**2, "pdf": 100 * 1024**2, "html": 20 * 1024**2}

# The policy of every raw and HTML-preview response: nothing runs, nothing is fetched, inline
# styles and data: images only (what a saved report needs to look right), and the document is
# sandboxed into an opaque origin even when it is opened directly rather than in the iframe.
SANDBOX_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'"
# Chromium's PDF viewer refuses to start in a sandboxed document; a PDF cannot script our origin.
PDF_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"

MLMODEL = "MLmodel"
_IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}
# Played by the browser's <audio>/<video> from the raw URL, which answers Range requests (seeking).
MEDIA_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".ogv": "video/ogg",
    ".mov": "video/quicktime",
}
# fmt: off
_TEXT_EXTENSIONS = frozenset({
    ".txt", ".log", ".err", ".out", ".cfg", ".conf", ".ini", ".properties", ".toml", ".xml", ".md", ".rst",
    ".js", ".ts", ".py", ".jsonnet", ".sh", ".r", ".sql", ".java", ".scala", ".go", ".rs", ".c", ".h",
    ".cpp", ".hpp", ".css", ".jsonl", ".ndjson", ".tex", ".diff", ".patch", ".env", ".lock", ".gitignore",
    ".dockerfile", ".mlproject",
})
# fmt: on
_KIND_BY_EXTENSION = {
    ".json": "json",
    ".geojson": "json",
    ".ipynb": "notebook",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".csv": "table",
    ".tsv": "table",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".parquet": "parquet",
    ".pq": "parquet",
    **{suffix: media.partition("/")[0] for suffix, media in MEDIA_TYPES.items()},
    **dict.fromkeys(_IMAGE_TYPES, "image"),
    **dict.fromkeys(_TEXT_EXTENSIONS, "text"),
}
_KIND_BY_NAME = {MLMODEL: "mlmodel", "MLproject": "yaml", "Dockerfile": "text", "LICENSE": "text"}
TEXT_KINDS = frozenset({"mlmodel", "json", "yaml", "table", "text", "notebook"})
MEDIA_KINDS = frozenset({"audio", "video"})


def extension(name: str) -> str:
    return posixpath.splitext(name)[1].lower()


def preview_kind(name: str) -> str:
    """How a file is previewed, from its name: mlmodel, json, yaml, table, text, notebook, parquet,
    image, pdf, html, audio, video, or "unknown" (looked at: text if its first bytes are text, else
    no preview)."""
    base = posixpath.basename(name)
    return _KIND_BY_NAME.get(base) or _KIND_BY_EXTENSION.get(extension(base), "unknown")


def fits_inline(kind: str, size: int) -> bool:
    """Whether the browser may be handed the whole file to render (images, PDF, HTML)."""
    return size <= INLINE_LIMITS.get(kind, 0)


def table_delimiter(name: str) -> str:
    return "\t" if extension(name) == ".tsv" else ","


# --- Bounded reads ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prefix:
    data: bytes
    truncated: bool  # the file goes on past `data`


def read_prefix(handle: BinaryIO, limit: int = PREVIEW_BYTES) -> Prefix:
    """At most `limit` bytes from the start of `handle`, and whether there was more."""
    chunks, remaining = [], limit + 1
    while remaining > 0:
        chunk = handle.read(min(remaining, 64 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    data = b"".join(chunks)
    return Prefix(data[:limit], len(data) > limit)


def decode_text(prefix: Prefix, *, textual: bool = False) -> str | None:
    """The prefix as text, or None when it looks binary.

    A NUL byte in the first SNIFF_BYTES means binary. Otherwise UTF-8 (a BOM is dropped); a
    character cut in two by the end of a truncated prefix is left out. Bytes that are not UTF-8
    make the file binary, unless its name said text (`textual`), when they show as U+FFFD.
    """
    data = prefix.data
    if b"\x00" in data[:SNIFF_BYTES]:
        return None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        return decoder.decode(data, final=not prefix.truncated)
    except UnicodeDecodeError:
        if not textual:
            return None
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return decoder.decode(data, final=not prefix.truncated)


# --- Pretty printing -------------------------------------------------------------------------


def pretty_json(text: str) -> str | None:
    """The JSON document indented, or None when the text is not one (or is nested absurdly deep)."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not _within_budget(document):
        return None
    try:
        return json.dumps(document, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return None


def pretty_yaml(text: str) -> str | None:
    """The YAML document re-emitted in block style, or None when it is not a mapping or a list.

    `safe_load` builds no Python objects; an alias bomb stays small because aliases are shared
    values, and the dump writes them back as aliases; the node budget refuses the rest.
    """
    try:
        document = safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError, TypeError, OverflowError):
        return None
    if not isinstance(document, dict | list) or not _within_budget(document):
        return None
    try:
        return yaml.safe_dump(
            document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
        ).rstrip("\n")
    except (yaml.YAMLError, RecursionError):
        return None


def _within_budget(document: Any) -> bool:
    """Whether the document has at most MAX_PRETTY_NODES values, counting repeats (aliases, cycles)."""
    budget, pending = MAX_PRETTY_NODES, [document]
    while pending:
        value = pending.pop()
        budget -= 1
        if budget < 0:
            return False
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return True


# --- Tables ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    more_rows: bool  # rows were left out (past TABLE_ROWS, or past the end of the prefix)
    more_columns: bool  # columns were left out (past TABLE_COLUMNS)


def parse_table(
    text: str, *, delimiter: str = ",", truncated: bool = False, max_rows: int = TABLE_ROWS
) -> Table | None:
    """The first rows of a CSV/TSV text: a header and up to `max_rows` rows, or None if it is not CSV.

    When the text is a truncated prefix its last line may be cut short, so it is dropped. Long
    cells are cut to CELL_CHARS characters and rows are padded to the header's width.
    """
    lines = io.StringIO(text, newline="")
    reader = csv.reader(lines, delimiter=delimiter)
    rows: list[list[str]] = []
    stopped = False
    try:
        for row in reader:
            if len(rows) > max_rows:  # the header and max_rows rows are in, and there is another
                stopped = True
                break
            rows.append(row)
    except csv.Error:
        return None
    if truncated and not stopped and rows:
        rows.pop()  # the line the prefix cut through
    more_rows = truncated or stopped
    rows = [row for row in rows if row]
    if not rows:
        return None
    width = max(len(row) for row in rows)
    more_columns = width > TABLE_COLUMNS
    width = min(width, TABLE_COLUMNS)
    shaped = [[cut_cell(cell) for cell in row[:width]] + [""] * (width - len(row[:width])) for row in rows]
    return Table(shaped[0], shaped[1 : max_rows + 1], more_rows, more_columns)


def cut_cell(value: str) -> str:
    return value if len(value) <= CELL_CHARS else value[:CELL_CHARS] + "…"


# --- The MLmodel card ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchemaRow:
    name: str
    type: str
    required: bool
    default: str = ""  # params only


@dataclass(slots=True)
class ModelCard:
    """What the studio shows of a model: from an MLmodel file, or from what the registry kept of one."""

    flavors: list[tuple[str, list[tuple[str, str]]]]
    inputs: list[SchemaRow] | None
    outputs: list[SchemaRow] | None
    params: list[SchemaRow] | None
    input_example: str = ""
    input_example_table: Table | None = None  # a pandas example ("columns" and "data"), as a table
    mlflow_version: str = ""
    model_uuid: str = ""
    created: str = ""
    run_id: str = ""
    model_id: str = ""
    # (file name, its text) of conda.yaml, python_env.yaml and requirements.txt, those present.
    environment: list[tuple[str, str]] = field(default_factory=list)
    load_uri: str = ""  # what `mlflow.pyfunc.load_model` takes, when known

    @property
    def has_signature(self) -> bool:
        return self.inputs is not None or self.outputs is not None

    @property
    def load_literal(self) -> str:
        """The load URI as a Python string literal, for the snippet."""
        return json.dumps(self.load_uri, ensure_ascii=False)


def model_card(
    mlmodel: MLmodel,
    *,
    environment: list[tuple[str, str]] = (),
    input_example: str = "",
    load_uri: str = "",
) -> ModelCard:
    return ModelCard(
        flavors=flavor_rows(mlmodel.flavors),
        inputs=schema_rows(mlmodel.signature_inputs),
        outputs=schema_rows(mlmodel.signature_outputs),
        params=schema_rows(mlmodel.signature_params, params=True),
        input_example=pretty_json(input_example) or input_example,
        input_example_table=example_table(input_example),
        mlflow_version=mlmodel.mlflow_version,
        model_uuid=mlmodel.model_uuid,
        created=mlmodel.utc_time_created.partition(".")[0],
        run_id=mlmodel.run_id,
        model_id=mlmodel.model_id,
        environment=[(name, text) for name, text in environment if text],
        load_uri=load_uri,
    )


def example_table(text: str, max_rows: int = 20) -> Table | None:
    """A pandas input example as MLflow saves it (`{"columns": [...], "data": [[...], ...]}`) as a table."""
    if not text:
        return None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(document, dict) and isinstance(document.get("dataframe_split"), dict):
        document = document["dataframe_split"]
    if not isinstance(document, dict):
        return None
    columns, data = document.get("columns"), document.get("data")
    if (
        not isinstance(columns, list)
        or not isinstance(data, list)
        or not all(isinstance(r, list) for r in data)
    ):
        return None
    width = min(len(columns), TABLE_COLUMNS)
    rows = [[cut_cell(_example_value(value)) for value in row[:width]] for row in data[:max_rows]]
    header = [cut_cell(str(column)) for column in columns[:width]]
    return Table(header, rows, len(data) > max_rows, len(columns) > width)


def _example_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def side_files(mlmodel: MLmodel) -> list[str]:
    """The files next to an MLmodel a card shows, in order: environment files, then the input example."""
    env = mlmodel.env_files()
    names = [env["conda"], env["virtualenv"], "requirements.txt"]
    example = (mlmodel.saved_input_example_info or {}).get("artifact_path")
    if isinstance(example, str) and example:
        names.append(example)
    # Only plain names of files in the same folder: an MLmodel cannot point the card elsewhere.
    return [name for name in dict.fromkeys(names) if name and "/" not in name and name not in (".", "..")]


def flavor_rows(flavors: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each flavor with its settings as (key, text) pairs; nested values are written as compact JSON."""
    rows = []
    for name, settings in flavors.items():
        items = settings.items() if isinstance(settings, dict) else []
        rows.append((str(name), [(str(key), _setting(value)) for key, value in items]))
    return rows


def _setting(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_setting(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_setting(item) for item in value)
    return "" if value is None else str(value)


def schema_rows(schema: list | None, *, params: bool = False) -> list[SchemaRow] | None:
    """An MLflow signature part (column, tensor or param specs) as table rows; None when absent."""
    if schema is None:
        return None
    rows = []
    for index, spec in enumerate(schema):
        if not isinstance(spec, dict):
            rows.append(SchemaRow(str(index), str(spec), True))
            continue
        name = spec.get("name")
        default = ""
        if params:
            default = "" if spec.get("default") is None else json.dumps(spec.get("default"))
        rows.append(
            SchemaRow(
                name=str(name) if name is not None else "",
                type=type_text(spec),
                required=spec.get("required", True) is not False and not spec.get("optional", False),
                default=default,
            )
        )
    return rows


def type_text(spec: Any, depth: int = 0) -> str:
    """A column type as a person reads it: `double`, `array<string>`, `tensor float64 (-1, 4)`."""
    if not isinstance(spec, dict):
        return str(spec)
    if depth > 4:
        return "…"
    kind = spec.get("type", "")
    if kind == "tensor":
        tensor = spec.get("tensor-spec") or {}
        shape = tensor.get("shape")
        shape_text = f" ({', '.join(str(n) for n in shape)})" if isinstance(shape, list) else ""
        return f"tensor {tensor.get('dtype', '?')}{shape_text}"
    if kind == "array":
        return f"array<{type_text(spec.get('items'), depth + 1)}>"
    if kind == "map":
        return f"map<string, {type_text(spec.get('values'), depth + 1)}>"
    if kind == "object":
        properties = spec.get("properties") or {}
        inner = ", ".join(f"{key}: {type_text(value, depth + 1)}" for key, value in properties.items())
        return f"object{{{inner}}}"
    shape = spec.get("shape")
    if isinstance(shape, list) and shape:
        return f"{kind} ({', '.join(str(n) for n in shape)})"
    return str(kind)


# --- Serving raw bytes -----------------------------------------------------------------------


def raw_headers(name: str, *, download: bool) -> tuple[str, bool, str]:
    """(Content-Type, as an attachment?, Content-Security-Policy) for serving a file from the raw URL.

    Downloads are octet streams. Images, PDF, audio and video are what they are (SVG too: the
    sandbox policy keeps its scripts from running even when opened directly). Everything
    text-like, HTML included, is text/plain, so the browser shows its source; anything else (a
    pickled model, a Parquet file, a file of unknown kind) is a download.
    """
    if download:
        return "application/octet-stream", True, SANDBOX_CSP
    kind = preview_kind(name)
    if kind == "image":
        return _IMAGE_TYPES[extension(name)], False, SANDBOX_CSP
    if kind == "pdf":
        return "application/pdf", False, PDF_CSP
    if kind in MEDIA_KINDS:
        return MEDIA_TYPES[extension(name)], False, SANDBOX_CSP
    if kind in TEXT_KINDS or kind == "html":
        return "text/plain; charset=utf-8", False, SANDBOX_CSP
    return "application/octet-stream", True, SANDBOX_CSP
