"""Zipping a source folder into a job's snapshot, leaving out what `.gitignore` files exclude.

Runs on the submitting side (the SDK, the MLflow backend plugin, `manage.py submit_job`), so it
imports nothing but the standard library. The rules are git's: each folder's `.gitignore` applies
below it, the last matching pattern wins, `!` re-includes, a trailing `/` matches folders only, a
pattern with a `/` in it is anchored to its `.gitignore`'s folder, `**` spans folders. A folder
that is excluded is not entered (as in git, nothing below it can be re-included). Version control,
caches and virtual environments (ALWAYS_EXCLUDED) are always left out. Links to files inside the
folder are stored as the files; links leading outside it are left out.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

# Left out whatever .gitignore says: version control, caches, virtual environments, MLflow's own
# local store and notebook checkpoints (a ! rule in a .gitignore cannot bring them back).
ALWAYS_EXCLUDED = (
    ".git/", ".hg/", ".svn/", "__pycache__/", ".venv/", "venv/", "node_modules/", "mlruns/",
    ".ipynb_checkpoints/",
)  # fmt: skip


class SnapshotTooLarge(Exception):
    """The folder's files (after exclusions) add up to more than the limit."""


@dataclass(frozen=True)
class Rule:
    base: str  # the folder of the .gitignore, relative to the top ("" for the top)
    pattern: re.Pattern[str]
    negated: bool
    folders_only: bool

    def matches(self, path: str, is_dir: bool) -> bool:
        if self.folders_only and not is_dir:
            return False
        if self.base:
            if not path.startswith(self.base + "/"):
                return False
            path = path[len(self.base) + 1 :]
        return bool(self.pattern.fullmatch(path))


def _translate(glob: str) -> str:
    """A gitignore glob (without its leading '/' or trailing '/') as a regular expression."""
    out, index = [], 0
    while index < len(glob):
        char = glob[index]
        if glob.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif glob.startswith("/**", index) and index + 3 == len(glob):
            out.append("/.*")
            index += 3
        elif glob.startswith("**", index):
            out.append(".*")
            index += 2
        elif char == "*":
            out.append("[^/]*")
            index += 1
        elif char == "?":
            out.append("[^/]")
            index += 1
        elif char == "[":
            end = glob.find("]", index + 2)
            if end == -1:
                out.append(re.escape(char))
                index += 1
            else:
                inner = glob[index + 1 : end]
                if inner.startswith("!"):
                    inner = "^" + inner[1:]
                out.append(f"[{inner.replace(chr(92), chr(92) * 2)}]")
                index = end + 1
        elif char == "\\" and index + 1 < len(glob):
            out.append(re.escape(glob[index + 1]))
            index += 2
        else:
            out.append(re.escape(char))
            index += 1
    return "".join(out)


def parse_rules(text: str, base: str = "") -> list[Rule]:
    """The rules of one .gitignore file whose folder is `base` (relative to the top)."""
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if not line.endswith("\\ "):
            line = line.rstrip(" ")
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if negated or line.startswith(("\\!", "\\#")):
            line = line[1:]
        folders_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        line = line.lstrip("/")
        regex = _translate(line)
        if not anchored:
            regex = "(?:.*/)?" + regex
        rules.append(Rule(base, re.compile(regex, re.DOTALL), negated, folders_only))
    return rules


@dataclass
class Ignores:
    rules: list[Rule] = field(default_factory=lambda: parse_rules("\n".join(ALWAYS_EXCLUDED)))

    def excluded(self, path: str, is_dir: bool) -> bool:
        verdict = False
        for rule in self.rules:
            if rule.matches(path, is_dir):
                verdict = not rule.negated
        return verdict


@dataclass(frozen=True)
class SnapshotFile:
    path: str  # relative, POSIX
    source: Path
    size: int


def collect(folder: Path) -> tuple[list[SnapshotFile], list[str]]:
    """The files a snapshot of `folder` holds, and the links it leaves out (they lead outside)."""
    top = Path(os.path.realpath(folder))
    if not top.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder.")
    ignores = Ignores()
    files: list[SnapshotFile] = []
    skipped: list[str] = []
    for current, dirnames, filenames in os.walk(top):
        relative = Path(current).relative_to(top).as_posix()
        relative = "" if relative == "." else relative
        gitignore = Path(current) / ".gitignore"
        if gitignore.is_file():
            ignores.rules.extend(parse_rules(gitignore.read_text(errors="replace"), relative))
        kept = []
        for name in sorted(dirnames):
            path = f"{relative}/{name}" if relative else name
            if os.path.islink(os.path.join(current, name)):
                skipped.append(path)  # a linked folder could lead anywhere, or loop
            elif not ignores.excluded(path, True):
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = f"{relative}/{name}" if relative else name
            if ignores.excluded(path, False):
                continue
            real = Path(os.path.realpath(os.path.join(current, name)))
            if not real.is_relative_to(top) or not real.is_file():
                skipped.append(path)
                continue
            files.append(SnapshotFile(path, real, real.stat().st_size))
    return sorted(files, key=lambda item: item.path), skipped


def zip_folder(folder: Path, out: BinaryIO | Path, *, max_bytes: int | None = None) -> list[SnapshotFile]:
    """Writes the snapshot of `folder` as a zip to `out`; SnapshotTooLarge past `max_bytes` of files."""
    files, _ = collect(folder)
    total = sum(item.size for item in files)
    if max_bytes is not None and total > max_bytes:
        largest = sorted(files, key=lambda item: -item.size)[:3]
        names = ", ".join(f"{item.path} ({item.size} bytes)" for item in largest)
        raise SnapshotTooLarge(
            f"The folder {folder} holds {total} bytes of files after exclusions; at most {max_bytes} "
            f"are accepted. Leave data and outputs out with a .gitignore. Largest: {names}."
        )
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for item in files:
            archive.write(item.source, item.path)
    return files
