"""The Python interpreters of this machine, and the one an environment asks for.

Only interpreters already here are used (environments never download one): `python3.N` and
`python3` on the worker's PATH and in the usual folders, each asked for its version and its real
executable (a pyenv shim or a virtualenv's python resolves to its base interpreter, which is what
a new environment links to). Does not import Django.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from tracking.jobs.specs import SpecError

FOLDERS = ("/usr/local/bin", "/usr/bin", "/bin")
NAMES = ("python3", *(f"python3.{minor}" for minor in range(20, 7, -1)))
_ASK = "import sys, os; print('%d.%d.%d' % sys.version_info[:3]); print(os.path.realpath(getattr(sys, '_base_executable', '') or sys.executable)); print(os.path.realpath(sys.base_prefix))"


@dataclass(frozen=True)
class Interpreter:
    version: str  # "3.11.2"
    executable: str  # its real path
    prefix: str  # its installation (sys.base_prefix)

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def _candidates(path_env: str) -> Iterable[str]:
    folders = [*path_env.split(os.pathsep), *FOLDERS]
    for name in NAMES:
        for folder in folders:
            if folder:
                found = shutil.which(name, path=folder)
                if found:
                    yield found


def _ask(executable: str) -> Interpreter | None:
    try:
        done = subprocess.run(
            [executable, "-I", "-c", _ASK],
            capture_output=True,
            text=True,
            timeout=10,
            env={"PATH": "/usr/bin:/bin"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 3:
        return None
    return Interpreter(version=lines[0], executable=lines[1], prefix=lines[2])


@functools.lru_cache(maxsize=4)
def available_pythons(path_env: str | None = None) -> tuple[Interpreter, ...]:
    """Every distinct interpreter found, newest first."""
    found: dict[str, Interpreter] = {}
    for candidate in _candidates(os.environ.get("PATH", "") if path_env is None else path_env):
        interpreter = _ask(candidate)
        if interpreter is not None and interpreter.executable not in found:
            found[interpreter.executable] = interpreter
    return tuple(sorted(found.values(), key=lambda i: Version(i.version), reverse=True))


def _matches(asked: str, version: str) -> bool:
    if asked[0].isdigit():
        return version == asked or version.startswith(asked + ".")
    return Version(version) in SpecifierSet(asked)


def select_python(
    asked: str,
    interpreters: Iterable[Interpreter],
    *,
    default: str = "",
    usable: Callable[[Interpreter], bool] = lambda interpreter: True,
) -> Interpreter:
    """The interpreter for a specification asking for `asked`.

    "3.11" is any 3.11.x (the newest); "3.11.4" is 3.11.4, else another 3.11.x (an MLflow
    python_env.yaml names the patch release of the machine it was written on); a specifier
    (">=3.9,<3.12") is the newest that satisfies it; "" is `default` (the worker's own minor
    version) if present, else the newest. Raises SpecError naming the versions there are.
    """
    candidates = [interpreter for interpreter in interpreters if usable(interpreter)]
    try:
        if asked and not asked[0].isdigit():
            SpecifierSet(asked)
        elif asked:
            Version(asked)
    except (InvalidSpecifier, InvalidVersion):
        raise SpecError(f"'{asked}' is not a Python version.") from None
    if not asked:
        preferred = [i for i in candidates if default and _matches(default, i.version)]
        if preferred or candidates:
            return (preferred or candidates)[0]
    else:
        exact = [i for i in candidates if _matches(asked, i.version)]
        if exact:
            return exact[0]
        if asked[0].isdigit() and asked.count(".") >= 2:
            minor = ".".join(asked.split(".")[:2])
            same_minor = [i for i in candidates if _matches(minor, i.version)]
            if same_minor:
                return same_minor[0]
    versions = ", ".join(sorted({i.version for i in candidates}, key=Version)) or "none"
    raise SpecError(
        f"The environment asks for Python {asked or 'of any version'}, which this worker does not have "
        f"(available: {versions}); it does not download interpreters."
    )


def reachable_by_others(interpreter: Interpreter) -> bool:
    """Whether a user other than the files' owner can run it: every folder on the way to its
    installation searchable by others, the executable readable and runnable (a sandbox running
    as an unprivileged user cannot use an interpreter under /root)."""
    for path in (Path(interpreter.executable), Path(interpreter.prefix)):
        for folder in [*reversed(path.parents), path]:
            try:
                mode = folder.stat().st_mode
            except OSError:
                return False
            if folder.is_dir() and not mode & 0o001:
                return False
    return bool(Path(interpreter.executable).stat().st_mode & 0o005 == 0o005)
