"""Artifacts in a folder on the local disk.

Every path is resolved as `os.path.realpath` resolves it (following symlinks) and refused unless
it stays under the root, so a symlink inside the root that points elsewhere cannot be read, listed
or written through; listings leave such links out. Deleting never follows a link: a link is
removed as a link, and a folder goes with `shutil.rmtree`, which does not descend into linked
folders.

Uploads are written to ".<name>.<16 hex digits>.part" beside the final name and renamed over it at
the end, so readers see the old file or the new one, never half of one. Those names are reserved:
hidden from listings and refused as paths.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Self
from urllib.parse import unquote, urlsplit

from tracking.artifacts.base import ArtifactIsADirectory, ArtifactNotFound, ArtifactStore, FileInfo
from tracking.errors import InvalidParameterValue

_TEMPORARY = re.compile(r"\..*\.[0-9a-f]{16}\.part", re.DOTALL)


class LocalArtifactStore(ArtifactStore):
    def __init__(self, root: Path | str):
        self.root = Path(os.path.realpath(root))
        self._root_text = str(self.root).rstrip("/")  # "" for "/": paths below it are "/" + path

    @classmethod
    def from_uri(cls, uri: str) -> Self:
        """A plain path, or a file URI ("file:///srv/artifacts", "file://localhost/srv/artifacts")."""
        parts = urlsplit(uri)
        if parts.scheme != "file":
            return cls(uri)
        if parts.netloc not in ("", "localhost"):
            raise InvalidParameterValue(f"Artifact URI {uri!r} names another host; only local files work.")
        return cls(unquote(parts.path))

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    def _within(self, prefix: str) -> LocalArtifactStore:
        return LocalArtifactStore(self.root / prefix)

    def _list(self, prefix: str) -> list[FileInfo]:
        folder = self._resolve(prefix)
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except (FileNotFoundError, NotADirectoryError):
            return []
        infos = [info for entry in entries if (info := self._describe(prefix, entry)) is not None]
        return sorted(infos, key=lambda info: info.path)

    def _open_sized(self, path: str) -> tuple[BinaryIO, int]:
        real = self._resolve(path)
        try:
            handle = open(real, "rb")  # noqa: SIM115 - the caller owns the file and closes it
        except (FileNotFoundError, NotADirectoryError):
            raise ArtifactNotFound(f"No such artifact: '{path}'") from None
        except IsADirectoryError:
            raise ArtifactIsADirectory(f"Artifact '{path}' is a directory, not a file.") from None
        return handle, os.fstat(handle.fileno()).st_size  # saves replace the file, never rewrite it

    def _size(self, path: str) -> int:
        try:
            status = self._resolve(path).stat()
        except (FileNotFoundError, NotADirectoryError):
            raise ArtifactNotFound(f"No such artifact: '{path}'") from None
        if stat.S_ISDIR(status.st_mode):
            raise ArtifactIsADirectory(f"Artifact '{path}' is a directory, not a file.")
        return status.st_size

    def _is_dir(self, path: str) -> bool:
        return self._resolve(path).is_dir()

    def _exists(self, path: str) -> bool:
        return self._resolve(path).exists()

    def _save(self, path: str, chunks: Iterator[bytes]) -> int:
        target = self._resolve(path)
        if target.is_dir():
            raise ArtifactIsADirectory(f"Cannot save artifact '{path}': it is a directory.")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidParameterValue(
                f"Cannot save artifact '{path}': a folder on its path is a file."
            ) from None
        # The name is cut short so the temporary name stays within the file system's limit.
        temporary = target.parent / f".{target.name[:40]}.{secrets.token_hex(8)}.part"
        written = 0
        try:
            with open(temporary, "xb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    written += len(chunk)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return written

    def _delete(self, path: str) -> int:
        parent, _, name = path.rpartition("/")
        # The parent is resolved, the entry itself is not: a link is deleted, never what it points to.
        entry = self._resolve(parent) / name
        _refuse_temporary(path)
        try:
            status = entry.lstat()
        except (FileNotFoundError, NotADirectoryError):
            return 0
        if not stat.S_ISDIR(status.st_mode):
            entry.unlink()
            return status.st_size if stat.S_ISREG(status.st_mode) else 0
        freed = sum(
            info.st_size
            for folder, _, filenames in os.walk(entry)
            for info in (os.lstat(os.path.join(folder, filename)) for filename in filenames)
            if stat.S_ISREG(info.st_mode)
        )
        shutil.rmtree(entry)
        return freed

    def _walk(self, prefix: str) -> Iterator[FileInfo]:
        # Resolved now rather than at the first next(), so a bad prefix fails where walk() is called.
        top = self._resolve(prefix)
        if top.is_file():
            return iter([FileInfo(prefix, False, top.stat().st_size)])
        return self._walk_folder(prefix, top)

    def _walk_folder(self, prefix: str, top: Path) -> Iterator[FileInfo]:
        """Files in the order os.walk gives them (a folder's files sorted, then its folders, sorted),
        from one scandir per folder: a plain file costs one stat, a link is resolved and kept only
        if it leads to a file under the root. Linked folders are not entered, as os.walk does not:
        the walk can neither leave the root nor loop."""
        try:
            with os.scandir(top) as scan:
                entries = list(scan)
        except OSError:
            return  # gone or unreadable since it was resolved: os.walk skips it likewise
        files, folders = [], []
        for entry in entries:
            try:
                is_folder = entry.is_dir()
            except OSError:
                is_folder = False
            (folders if is_folder else files).append(entry)
        for entry in sorted(files, key=_name):
            if _TEMPORARY.fullmatch(entry.name):
                continue
            try:
                if entry.is_symlink():
                    real = os.path.realpath(entry.path)
                    if not self._inside(real) or not os.path.isfile(real):
                        continue
                    size = os.stat(real).st_size
                elif entry.is_file(follow_symlinks=False):
                    size = entry.stat(follow_symlinks=False).st_size
                else:
                    continue  # a socket, a pipe
            except FileNotFoundError:
                continue  # deleted while we walked
            yield FileInfo(_join(prefix, entry.name), False, size)
        for entry in sorted(folders, key=_name):
            if not entry.is_symlink():
                yield from self._walk_folder(_join(prefix, entry.name), Path(entry.path))

    def _local_path(self, path: str) -> Path | None:
        return self._resolve(path)

    def _resolve(self, path: str) -> Path:
        """The real path of a clean relative path, refused if it leads outside the root.

        The root is real already, so only the path's own folders are looked at (one lstat each,
        where `os.path.realpath` looks at every folder from "/"); at the first link the whole path
        is resolved as realpath does, and checked.
        """
        _refuse_temporary(path)
        if not path:
            return self.root
        current = self._root_text
        parts = path.split("/")
        for index, part in enumerate(parts):
            current = f"{current}/{part}"
            try:
                is_link = stat.S_ISLNK(os.lstat(current).st_mode)
            except OSError:
                # Missing, or under a file: nothing further can be a link (realpath's answer too).
                return Path(current, *parts[index + 1 :])
            if is_link:
                real = os.path.realpath(os.path.join(self.root, path))
                if not self._inside(real):
                    raise InvalidParameterValue("Invalid path")  # MLflow's exact words
                return Path(real)
        return Path(current)

    def _inside(self, real: str) -> bool:
        return Path(real).is_relative_to(self.root)

    def _describe(self, prefix: str, entry: os.DirEntry) -> FileInfo | None:
        """A listing entry, or None for what a listing must not show."""
        if _TEMPORARY.fullmatch(entry.name):
            return None
        if entry.is_symlink() and not self._inside(os.path.realpath(entry.path)):
            return None
        path = _join(prefix, entry.name)
        try:
            if entry.is_dir():
                return FileInfo(path, True, None)
            if entry.is_file():
                return FileInfo(path, False, entry.stat().st_size)
        except FileNotFoundError:
            pass  # deleted while we listed
        return None  # a broken link, a socket, a pipe


def _refuse_temporary(path: str) -> None:
    if _TEMPORARY.fullmatch(path.rpartition("/")[2]):
        raise InvalidParameterValue(
            f"Invalid path '{path}': names like '.name.<16 hex digits>.part' are reserved "
            "for uploads in progress."
        )


def _name(entry: os.DirEntry) -> str:
    return entry.name


def _join(*parts: str) -> str:
    return "/".join(part for part in parts if part not in ("", "."))
