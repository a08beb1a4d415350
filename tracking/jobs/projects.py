"""MLflow projects: the command an `MLproject` entry point stands for, with its parameters.

As `mlflow run` does: declared parameters are substituted into the entry point's command (shell
quoted), a declared one without a value takes its default (none: an error), `float` and `int`
ones must parse, and parameters the entry point does not declare are appended as `--name value`.
An entry point the file does not name, but that is a `.py` or `.sh` file of the project, runs
with `python` or `bash`. Does not import Django.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from tracking.safe_yaml import safe_load


class ProjectError(Exception):
    """The MLproject file is missing or malformed, or the entry point or a parameter is wrong."""


@dataclass(frozen=True)
class Project:
    name: str
    entry_points: dict[str, dict]


def find_mlproject(folder: Path) -> Path | None:
    for child in folder.iterdir():
        if child.is_file() and child.name.lower() in ("mlproject", "mlproject.yaml", "mlproject.yml"):
            return child
    return None


def load_project(folder: Path) -> Project:
    found = find_mlproject(folder)
    if found is None:
        return Project(folder.name, {})
    try:
        spec = safe_load(found.read_text(errors="replace")) or {}
    except yaml.YAMLError as error:
        raise ProjectError(f"{found.name} is not valid YAML: {error}") from None
    if not isinstance(spec, dict):
        raise ProjectError(f"{found.name} must be a mapping with 'entry_points'.")
    entry_points = spec.get("entry_points") or {}
    if not isinstance(entry_points, dict):
        raise ProjectError(f"'entry_points' in {found.name} must be a mapping.")
    for name, entry in entry_points.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
            raise ProjectError(f"The entry point {name!r} in {found.name} has no 'command'.")
    return Project(str(spec.get("name") or folder.name), {str(k): v for k, v in entry_points.items()})


def _declared(entry: dict) -> dict[str, dict]:
    declared = {}
    for name, spec in (entry.get("parameters") or {}).items():
        declared[str(name)] = spec if isinstance(spec, dict) else {"type": str(spec)}
    return declared


def _checked(name: str, kind: str, value: str) -> str:
    try:
        if kind == "float":
            float(value)
        elif kind == "int":
            int(value)
    except ValueError:
        raise ProjectError(f"The parameter {name!r} must be a {kind}; got {value!r}.") from None
    return value


def project_command(folder: Path, entry_point: str, parameters: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The shell command the entry point runs, and every parameter's value (defaults included)."""
    entry_point = entry_point or "main"
    project = load_project(folder)
    parameters = {str(key): str(value) for key, value in parameters.items()}
    entry = project.entry_points.get(entry_point)
    if entry is None:
        script = folder / entry_point
        if entry_point.endswith((".py", ".sh")) and script.is_file():
            runner = "python" if entry_point.endswith(".py") else "bash"
            command = f"{runner} {shlex.quote(entry_point)}"
            extra = " ".join(f"--{key} {shlex.quote(value)}" for key, value in parameters.items())
            return (f"{command} {extra}".strip(), parameters)
        known = ", ".join(sorted(project.entry_points)) or "none"
        raise ProjectError(
            f"The project has no entry point {entry_point!r} (its entry points: {known}), "
            "and no .py or .sh file of that name."
        )
    declared = _declared(entry)
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in parameters:
            values[name] = _checked(name, str(spec.get("type", "string")), parameters[name])
        elif spec.get("default") is not None:
            values[name] = str(spec["default"])
        else:
            raise ProjectError(
                f"The entry point {entry_point!r} needs the parameter {name!r}, which has no default."
            )
    try:
        command = entry["command"].format(**{name: shlex.quote(value) for name, value in values.items()})
    except (KeyError, IndexError, ValueError) as error:
        raise ProjectError(
            f"The command of entry point {entry_point!r} names an undeclared parameter: {error}."
        ) from None
    extra = {key: value for key, value in parameters.items() if key not in declared}
    if extra:
        command += " " + " ".join(f"--{key} {shlex.quote(value)}" for key, value in extra.items())
    return command, {**values, **extra}
