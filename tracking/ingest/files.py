"""Reading files of a source folder safely: nothing outside it, nothing huge, problems reported.

Every file an import reads goes through `SourceFolder`. A path whose real location (after
symlinks) is outside the folder is refused, a small metadata file over MAX_TEXT_BYTES is refused
from its size, and YAML is read with the safe loader. A file that cannot be read is not an
error of the whole import: the folder calls `on_problem(file, message)` and the caller skips it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from tracking.safe_yaml import safe_load

# meta.yaml, params and tags are small; a larger one is not what MLflow writes.
MAX_TEXT_BYTES = 4 * 1024 * 1024

ProblemSink = Callable[[str, str], None]


class SourceFolder:
    """A folder to import from; paths given to it are inside it, or refused."""

    def __init__(self, root: Path, on_problem: ProblemSink) -> None:
        self.root = Path(os.path.realpath(root))
        self.on_problem = on_problem

    def relative(self, path: Path) -> str:
        """The path as the report shows it: relative to the folder, with '/'."""
        try:
            return Path(os.path.abspath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def problem(self, path: Path, message: str) -> None:
        self.on_problem(self.relative(path), message)

    def is_inside(self, path: Path) -> bool:
        return Path(os.path.realpath(path)).is_relative_to(self.root)

    def check_link(self, path: Path) -> bool:
        """False (and a problem) for a symlink that leads out of the folder; True otherwise."""
        if os.path.islink(path) and not self.is_inside(path):
            self.problem(path, "a symlink that points outside the imported folder; not followed")
            return False
        return True

    def subfolders(self, folder: Path) -> list[Path]:
        """The folders directly in `folder`, by name; linked ones are left out (and reported)."""
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as error:
            self.problem(folder, f"cannot list the folder: {error.strerror or error}")
            return []
        found = []
        for entry in entries:
            if entry.is_symlink():
                if entry.is_dir():
                    self._skip_linked_folder(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False):
                found.append(Path(entry.path))
        return found

    def _skip_linked_folder(self, path: Path) -> None:
        if self.check_link(path):  # a link out of the folder is reported by check_link
            self.problem(path, "a linked folder; not followed")

    def files(self, folder: Path) -> Iterator[tuple[str, Path]]:
        """(path relative to `folder` with '/', path) of every file under `folder`, sorted.

        Keys of params, tags and metrics with '/' are nested folders, so this is how they are listed.
        Links to files inside the folder are followed; links out of it, and linked folders, are not.
        """
        if os.path.islink(folder):
            self._skip_linked_folder(folder)
            return
        if not os.path.isdir(folder):
            return
        for current, dirnames, filenames in os.walk(folder, onerror=self._walk_error):
            dirnames.sort()
            for name in list(dirnames):
                if os.path.islink(os.path.join(current, name)):
                    dirnames.remove(name)
                    self._skip_linked_folder(Path(current, name))
            for name in sorted(filenames):
                path = Path(current, name)
                if not self.check_link(path):
                    continue
                try:
                    mode = os.stat(path).st_mode
                except OSError:
                    self.problem(path, "a broken link or an unreadable entry")
                    continue
                if not stat.S_ISREG(mode):
                    self.problem(path, "not a regular file")
                    continue
                yield Path(os.path.relpath(path, folder)).as_posix(), path

    def _walk_error(self, error: OSError) -> None:
        self.problem(Path(error.filename or self.root), f"cannot list the folder: {error.strerror or error}")

    def read_text(self, path: Path, *, limit: int = MAX_TEXT_BYTES) -> str | None:
        """The file's text (UTF-8), or None with a problem recorded."""
        if not self.check_link(path):
            return None
        try:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except FileNotFoundError:
            self.problem(path, "missing")
            return None
        except OSError as error:
            self.problem(path, f"cannot read the file: {error.strerror or error}")
            return None
        if len(data) > limit:
            self.problem(path, f"larger than {limit} bytes; not what MLflow writes here")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            self.problem(path, f"not UTF-8 text ({error.reason} at byte {error.start})")
            return None

    def read_yaml(self, path: Path) -> dict[str, Any] | None:
        """A YAML mapping (meta.yaml), or None with a problem recorded."""
        text = self.read_text(path)
        if text is None:
            return None
        try:
            document = safe_load(text)
        except yaml.YAMLError as error:
            where = getattr(error, "problem_mark", None)
            at = f" (line {where.line + 1})" if where is not None else ""
            self.problem(path, f"malformed YAML{at}: {getattr(error, 'problem', None) or error}")
            return None
        if not isinstance(document, dict):
            self.problem(path, "malformed: expected a mapping of fields")
            return None
        return document

    def open_binary(self, path: Path):
        """An open file to stream (artifacts, metric files), or None with a problem recorded."""
        if not self.check_link(path):
            return None
        try:
            return open(path, "rb")
        except OSError as error:
            self.problem(path, f"cannot read the file: {error.strerror or error}")
            return None


def text_field(document: dict[str, Any], name: str, default: str = "") -> str:
    """A scalar field as text; anything else (lists, mappings: odd or hostile YAML) gives the default."""
    value = document.get(name)
    if value is None or isinstance(value, list | dict):
        return default
    return str(value)


def int_field(document: dict[str, Any], name: str) -> int | None:
    value = document.get(name)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str | float):
        try:
            return int(value)
        except (ValueError, OverflowError):
            return None
    return None
