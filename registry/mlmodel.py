"""Reading a model folder at registration: its MLmodel, its environment files and its file list.

Everything is read through the artifact store, and nothing is read whole when it is large: an
MLmodel or an environment file over MAX_TEXT_BYTES is refused from its listed size, an input
example over MAX_INPUT_EXAMPLE_BYTES is simply not kept. YAML is read with `safe_load` (no
Python objects), and what it yields is counted before it is kept, so a YAML alias bomb or a
deeply nested document is refused instead of blowing up later.

A folder that cannot be read as a model raises `ModelFolderError`, whose message is meant for a
person: it becomes the version's `status_message` (FAILED_REGISTRATION), never a 500.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import yaml

from tracking.artifacts import ArtifactStore
from tracking.errors import MlflowError
from tracking.safe_yaml import safe_load

MLMODEL = "MLmodel"
MAX_TEXT_BYTES = 1024 * 1024
MAX_INPUT_EXAMPLE_BYTES = 64 * 1024
MAX_LISTED_FILES = 10_000
# Values (mappings, lists and scalars) a parsed MLmodel may hold, counting repeats through aliases.
MAX_YAML_NODES = 100_000
_DEFAULT_ENV_FILES = {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
REQUIREMENTS = "requirements.txt"


class ModelFolderError(Exception):
    """The folder is not a readable MLflow model; the message says why, for a person."""


@dataclass(frozen=True, slots=True)
class MLmodel:
    flavors: dict[str, Any]
    signature_inputs: list | None
    signature_outputs: list | None
    signature_params: list | None
    saved_input_example_info: dict[str, Any] | None
    model_uuid: str
    mlflow_version: str
    utc_time_created: str
    run_id: str
    model_id: str

    def env_files(self) -> dict[str, str]:
        """{"conda": file name, "virtualenv": file name}, as the python_function flavor says."""
        env = (self.flavors.get("python_function") or {}).get("env")
        if isinstance(env, str):  # MLflow 1.x wrote `env: conda.yaml`
            return {**_DEFAULT_ENV_FILES, "conda": env}
        if isinstance(env, dict):
            return {**_DEFAULT_ENV_FILES, **{k: v for k, v in env.items() if isinstance(v, str)}}
        return dict(_DEFAULT_ENV_FILES)


@dataclass(frozen=True, slots=True)
class ModelFolder:
    """What registration keeps of a model folder."""

    mlmodel: MLmodel
    files: list[tuple[str, int]]  # (path relative to the folder, size), at most MAX_LISTED_FILES
    total_size: int
    python_env: str
    conda_env: str
    requirements: str
    input_example: str  # "" when there is none or it is too large to keep


def _too_deep(label: str) -> ModelFolderError:
    return ModelFolderError(f"{label} is nested too deeply to be an MLmodel.")


def parse_mlmodel(data: bytes, label: str = MLMODEL) -> MLmodel:
    """The MLmodel in `data`; `label` names the file in error messages."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFolderError(f"{label} is not UTF-8 text.") from None
    try:
        document = safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        if "nesting depth" in problem:  # libyaml's parser stops where Python's would recurse too deep
            raise _too_deep(label) from None
        raise ModelFolderError(f"{label} is not valid YAML: {problem}{where}.") from None
    except RecursionError:
        raise _too_deep(label) from None
    except (
        ValueError,
        TypeError,
        OverflowError,
    ) as error:  # a typed value that is not one: !!int abc, 2024-13-45
        raise ModelFolderError(f"{label} is not valid YAML: {error}.") from None
    if not isinstance(document, dict):
        raise ModelFolderError(f"{label} must be a YAML mapping, not {_kind(document)}.")
    _check_node_count(document, label)
    flavors = document.get("flavors") or {}
    if not isinstance(flavors, dict):
        raise ModelFolderError(f"{label}: 'flavors' must be a mapping of flavor names, not {_kind(flavors)}.")
    signature = document.get("signature") or {}
    if not isinstance(signature, dict):
        raise ModelFolderError(f"{label}: 'signature' must be a mapping, not {_kind(signature)}.")
    example_info = document.get("saved_input_example_info")
    return MLmodel(
        flavors=_jsonable(flavors),
        signature_inputs=_schema(signature, "inputs", label),
        signature_outputs=_schema(signature, "outputs", label),
        signature_params=_schema(signature, "params", label),
        saved_input_example_info=_jsonable(example_info) if isinstance(example_info, dict) else None,
        model_uuid=_text(document.get("model_uuid")),
        mlflow_version=_text(document.get("mlflow_version")),
        utc_time_created=_text(document.get("utc_time_created")),
        run_id=_text(document.get("run_id")),
        model_id=_text(document.get("model_id")),
    )


def read_model_folder(store: ArtifactStore, folder: str, label: str) -> ModelFolder:
    """The model in `folder` (a store path); `label` is how messages name it (its URI).

    1. List every file under the folder, with sizes.
    2. Read and parse the MLmodel (refused over MAX_TEXT_BYTES).
    3. Read the environment files it names and requirements.txt, when present (same limit).
    4. Keep the input example when it is small.
    """
    listed, total_size, sizes = _list(store, folder)
    mlmodel_label = f"The MLmodel file at {label.rstrip('/')}/{MLMODEL}"
    if MLMODEL not in sizes:
        raise ModelFolderError(
            f"There is no MLmodel file at {label}: the source must be the folder of a model saved "
            "by MLflow (log_model or save_model)."
        )
    mlmodel = parse_mlmodel(_read(store, folder, MLMODEL, sizes, MAX_TEXT_BYTES, label), mlmodel_label)
    env = mlmodel.env_files()
    texts = {
        name: _read_text(store, folder, file_name, sizes, label) if file_name in sizes else ""
        for name, file_name in (
            ("virtualenv", env["virtualenv"]),
            ("conda", env["conda"]),
            ("requirements", REQUIREMENTS),
        )
    }
    return ModelFolder(
        mlmodel=mlmodel,
        files=listed,
        total_size=total_size,
        python_env=texts["virtualenv"],
        conda_env=texts["conda"],
        requirements=texts["requirements"],
        input_example=_input_example(store, folder, mlmodel, sizes),
    )


def _list(store: ArtifactStore, folder: str) -> tuple[list[tuple[str, int]], int, dict[str, int]]:
    """(the first MAX_LISTED_FILES files with sizes, the size of all, sizes by path of those and the top-level files).

    The walk is streamed, so a folder of a million files costs time but not memory.
    """
    cut = len(folder) + 1
    listed: list[tuple[str, int]] = []
    sizes: dict[str, int] = {}
    total = 0
    try:
        for info in store.walk(folder):
            path, size = info.path[cut:], info.file_size or 0
            if not path:
                continue  # the folder is a file
            total += size
            if len(listed) < MAX_LISTED_FILES:
                listed.append((path, size))
                sizes[path] = size
            elif "/" not in path:
                sizes[path] = size
    except MlflowError as error:
        raise ModelFolderError(f"The model's files cannot be listed: {error.message}") from None
    except OSError as error:
        raise ModelFolderError(f"The model's files cannot be listed: {error.strerror or error}.") from None
    return listed, total, sizes


def _read(
    store: ArtifactStore, folder: str, name: str, sizes: dict[str, int], limit: int, label: str
) -> bytes:
    if sizes[name] > limit:
        raise ModelFolderError(
            f"{name} in {label} has {sizes[name]} bytes; files the registry reads may have at most {limit}."
        )
    try:
        with store.open(f"{folder}/{name}") as handle:
            data = handle.read(limit + 1)  # the file may have grown since it was listed
    except MlflowError as error:
        raise ModelFolderError(f"{name} in {label} cannot be read: {error.message}") from None
    except OSError as error:
        raise ModelFolderError(f"{name} in {label} cannot be read: {error.strerror or error}.") from None
    if len(data) > limit:
        raise ModelFolderError(f"{name} in {label} has more than {limit} bytes; it was not read.")
    return data


def _read_text(store: ArtifactStore, folder: str, name: str, sizes: dict[str, int], label: str) -> str:
    try:
        return _read(store, folder, name, sizes, MAX_TEXT_BYTES, label).decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFolderError(f"{name} in {label} is not UTF-8 text.") from None


def _input_example(store: ArtifactStore, folder: str, mlmodel: MLmodel, sizes: dict[str, int]) -> str:
    name = (mlmodel.saved_input_example_info or {}).get("artifact_path")
    # Only a file listed under the folder is read, so the name cannot lead anywhere else.
    if not isinstance(name, str) or sizes.get(name, MAX_INPUT_EXAMPLE_BYTES + 1) > MAX_INPUT_EXAMPLE_BYTES:
        return ""
    try:
        return _read(store, folder, name, sizes, MAX_INPUT_EXAMPLE_BYTES, folder).decode("utf-8")
    except (ModelFolderError, UnicodeDecodeError):
        return ""  # an example is a convenience: a missing or odd one does not fail registration


def _schema(signature: dict, part: str, label: str) -> list | None:
    """A signature part: MLflow writes each as a JSON string inside the YAML."""
    value = signature.get(part)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ModelFolderError(f"{label}: signature '{part}' is not valid JSON ({error}).") from None
    if not isinstance(value, list):
        raise ModelFolderError(f"{label}: signature '{part}' must be a JSON list, not {_kind(value)}.")
    return _jsonable(value)


def _check_node_count(document: Any, label: str) -> None:
    """Refuse documents whose values, counted with repeats, exceed MAX_YAML_NODES (alias bombs, cycles)."""
    budget = MAX_YAML_NODES
    pending = [document]
    while pending:
        value = pending.pop()
        budget -= 1
        if budget < 0:
            raise ModelFolderError(f"{label} holds too many values (over {MAX_YAML_NODES}) to be an MLmodel.")
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def _jsonable(value: Any) -> Any:
    """YAML values as JSON can hold them: dates and other scalars become strings, as do NaN and inf."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return str(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )
