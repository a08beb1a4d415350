"""A job's environment as specified: a pip requirements file, an MLflow `python_env.yaml` or a
`conda.yaml`, read into one normal form whose hash names the environment built from it.

The normal form is the Python version asked for (may be empty: the worker's own) and the sorted
list of requirements, each written the same way whatever its spelling (`Six >= 1.0` and
`six>=1.0` are one requirement), with `mlflow-skinny` added when neither `mlflow` nor
`mlflow-skinny` is listed, so that `mlflow.start_run()` works in every job.

Environments are built by the worker outside the sandbox, so a specification may only name
packages of the configured index (or an http(s) URL): options (`--index-url`, `-e`, `-f`,
`--hash`, ...) and local paths are refused. `-r other.txt` is followed within the snapshot when
the specification came from it. Does not import Django.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from tracking.safe_yaml import safe_load

PIP = "pip"
CONDA = "conda"
PYTHON_ENV = "python_env"
DEFAULT = "default"
KINDS = (PIP, CONDA, PYTHON_ENV)
MLFLOW = "mlflow-skinny"
MAX_SPEC_BYTES = 256 * 1024
MAX_INCLUDES = 20
# conda packages that a virtualenv has anyway (the interpreter, and pip's own tools).
CONDA_PROVIDED = {"python", "pip", "setuptools", "wheel"}
_CONDA_PYTHON = re.compile(r"^python\s*(?:(==|=|\s)\s*([\d.*]+)|([<>!=~][^#]*))?\s*$")


class SpecError(Exception):
    """The specification cannot be used: not parseable, a refused line, a conda-only package."""


@dataclass(frozen=True)
class Spec:
    kind: str
    python: str  # the version asked for: "3.11", "3.11.4", ">=3.9,<3.12", or "" (the worker's own)
    requirements: tuple[str, ...]
    text: str = ""  # the file as given

    @property
    def normalized(self) -> str:
        return f"python: {self.python}\n" + "".join(f"{line}\n" for line in self.requirements)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.normalized.encode()).hexdigest()


def default_spec() -> Spec:
    return Spec(kind=DEFAULT, python="", requirements=(MLFLOW,))


def normalize_requirement(line: str, where: str) -> str:
    try:
        requirement = Requirement(line)
    except InvalidRequirement as error:
        raise SpecError(f"{where}: {line!r} is not a requirement ({error}).") from None
    name = canonicalize_name(requirement.name)
    if requirement.extras:
        name += "[" + ",".join(sorted(canonicalize_name(e) for e in requirement.extras)) + "]"
    if requirement.url:
        if not requirement.url.startswith(("https://", "http://")):
            raise SpecError(f"{where}: {line!r} points at {requirement.url}; only http(s) URLs are accepted.")
        text = f"{name} @ {requirement.url}"
    else:
        text = name + ",".join(sorted(str(s) for s in requirement.specifier))
    if requirement.marker is not None:
        text += f"; {requirement.marker}"
    return text


def _requirement_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) without comments, blank lines or continuations."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            lines.append((start, line))
    return lines


def parse_requirements(
    text: str, *, source: str, folder: Path | None = None, _seen: tuple[str, ...] = ()
) -> list[str]:
    """The requirements of a pip requirements file, normalized; `-r file` within `folder` only."""
    found: list[str] = []
    for number, line in _requirement_lines(text):
        where = f"{source}, line {number}"
        found += _requirement_or_include(line, where, folder, _seen)
    return found


def _requirement_or_include(line: str, where: str, folder: Path | None, seen: tuple[str, ...]) -> list[str]:
    if not line.startswith("-"):
        return [normalize_requirement(line, where)]
    option, _, value = line.partition(" ")
    if option.startswith("--requirement="):
        option, value = "--requirement", option.split("=", 1)[1]
    if option not in ("-r", "--requirement"):
        raise SpecError(
            f"{where}: {line!r}: options are not accepted; environments install packages by name "
            "from the server's package index."
        )
    return _include(value.strip(), where, folder, seen)


def _include(name: str, where: str, folder: Path | None, seen: tuple[str, ...]) -> list[str]:
    if folder is None:
        raise SpecError(
            f"{where}: '-r {name}' names a file; list its requirements in the specification itself."
        )
    if len(seen) >= MAX_INCLUDES or name in seen:
        raise SpecError(f"{where}: '-r {name}' includes files in a loop, or too deeply.")
    root = folder.resolve()
    path = (folder / name).resolve()
    if root != path and root not in path.parents:
        raise SpecError(f"{where}: '-r {name}' is outside the snapshot.")
    if not path.is_file():
        raise SpecError(f"{where}: '-r {name}': the snapshot has no such file.")
    return parse_requirements(
        _read(path), source=path.relative_to(root).as_posix(), folder=path.parent, _seen=(*seen, name)
    )


def _read(path: Path) -> str:
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise SpecError(f"{path.name} is larger than {MAX_SPEC_BYTES} bytes.")
    return path.read_text(errors="replace")


def _with_mlflow(requirements: list[str]) -> tuple[str, ...]:
    names = {re.split(r"[\[<>=!~;@ ]", line, maxsplit=1)[0] for line in requirements}
    if not names & {"mlflow", "mlflow-skinny"}:
        requirements = [*requirements, MLFLOW]
    return tuple(sorted(set(requirements)))


def _yaml(text: str, source: str) -> dict:
    try:
        data = safe_load(text) or {}
    except yaml.YAMLError as error:
        raise SpecError(f"{source} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{source} must be a mapping.")
    return data


def _string_list(value, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise SpecError(f"{what} must be a list.")
    return value


def _python_version(value, source: str) -> str:
    if value is None:
        return ""
    version = str(value).strip()
    if not re.fullmatch(r"[\d.*<>=!~, ]+", version):
        raise SpecError(f"{source}: 'python: {version}' is not a Python version.")
    return version


def parse_python_env(text: str, *, source: str = "python_env.yaml", folder: Path | None = None) -> Spec:
    data = _yaml(text, source)
    python = _python_version(data.get("python"), source)
    requirements: list[str] = []
    for key in ("build_dependencies", "dependencies"):
        for number, item in enumerate(_string_list(data.get(key), f"'{key}' in {source}"), 1):
            requirements += _requirement_or_include(
                str(item).strip(), f"{source}, {key} #{number}", folder, ()
            )
    return Spec(kind=PYTHON_ENV, python=python, requirements=_with_mlflow(requirements), text=text)


def _conda_python(item: str) -> str | None:
    """The Python version of a conda `python...` dependency (PEP 440 form), None if not one."""
    match = _CONDA_PYTHON.match(item.strip())
    if match is None:
        return None
    exact, comparison = match.group(2), match.group(3)
    if exact:
        return exact.rstrip(".*")
    return comparison.strip().replace(" ", "") if comparison else ""


def parse_conda(text: str, *, source: str = "conda.yaml", folder: Path | None = None) -> Spec:
    data = _yaml(text, source)
    python = ""
    requirements: list[str] = []
    conda_only: list[str] = []
    for number, item in enumerate(_string_list(data.get("dependencies"), f"'dependencies' in {source}"), 1):
        if isinstance(item, dict) and set(item) == {"pip"}:
            for index, line in enumerate(_string_list(item["pip"], f"'pip' in {source}"), 1):
                requirements += _requirement_or_include(
                    str(line).strip(), f"{source}, pip #{index}", folder, ()
                )
            continue
        if not isinstance(item, str):
            raise SpecError(f"{source}: dependency #{number} must be a package or a 'pip:' list.")
        version = _conda_python(item)
        if version is not None:
            python = version
            continue
        name = re.split(r"[\s=<>!~]", item.strip().split("::")[-1], maxsplit=1)[0].lower()
        if name not in CONDA_PROVIDED:
            conda_only.append(item.strip())
    if conda_only:
        raise SpecError(
            f"{source} asks for conda packages ({', '.join(conda_only)}); this worker builds environments "
            "with uv from a Python package index and has no conda. List them under the 'pip:' section "
            "(with their PyPI names), or use a requirements.txt."
        )
    return Spec(kind=CONDA, python=python, requirements=_with_mlflow(requirements), text=text)


def parse_pip(text: str, *, source: str = "requirements.txt", folder: Path | None = None) -> Spec:
    requirements = parse_requirements(text, source=source, folder=folder)
    return Spec(kind=PIP, python="", requirements=_with_mlflow(requirements), text=text)


def parse_spec(kind: str, text: str, *, source: str = "", folder: Path | None = None) -> Spec:
    """The normal form of a specification of `kind` (pip, conda, python_env)."""
    if len(text.encode()) > MAX_SPEC_BYTES:
        raise SpecError(f"The environment's specification is larger than {MAX_SPEC_BYTES} bytes.")
    if "\x00" in text:
        raise SpecError("The environment's specification must be text.")
    parsers = {PIP: parse_pip, CONDA: parse_conda, PYTHON_ENV: parse_python_env}
    if kind not in parsers:
        raise SpecError(f"An environment's kind is one of {', '.join(KINDS)}; not {kind!r}.")
    return parsers[kind](text, source=source or _SOURCE[kind], folder=folder)


_SOURCE = {PIP: "requirements.txt", CONDA: "conda.yaml", PYTHON_ENV: "python_env.yaml"}


def find_spec(folder: Path) -> tuple[str, Path] | None:
    """The specification a snapshot brings, as MLflow looks for it: the MLproject's `python_env:`
    file, else python_env.yaml; the MLproject's `conda_env:`, else conda.yaml; else requirements.txt.
    None when it brings none."""
    from tracking.jobs.projects import find_mlproject

    declared: dict[str, str] = {}
    mlproject = find_mlproject(folder)
    if mlproject is not None:
        try:
            data = safe_load(mlproject.read_text(errors="replace")) or {}
        except yaml.YAMLError:
            data = {}
        if isinstance(data, dict):
            declared = {key: str(data[key]) for key in ("python_env", "conda_env") if data.get(key)}
    candidates = [
        (PYTHON_ENV, declared.get("python_env")),
        (PYTHON_ENV, "python_env.yaml"),
        (CONDA, declared.get("conda_env")),
        (CONDA, "conda.yaml"),
        (PIP, "requirements.txt"),
    ]
    root = folder.resolve()
    for kind, name in candidates:
        if not name:
            continue
        path = (folder / name).resolve()
        if (root in path.parents) and path.is_file():
            return kind, path
    return None


def read_spec(folder: Path) -> Spec | None:
    """The snapshot's specification (`find_spec`), parsed; None when it brings none."""
    found = find_spec(folder)
    if found is None:
        return None
    kind, path = found
    source = path.relative_to(folder.resolve()).as_posix()
    return parse_spec(kind, _read(path), source=source, folder=path.parent)
