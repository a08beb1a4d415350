"""Unpacking an uploaded archive (.zip, .tar.gz, .tar) into a folder, refusing what is unsafe.

Every entry is checked before anything is written: a name that is absolute, has a drive
letter or a '..' segment (zip-slip), a link that leads out of the archive, a device or a pipe,
more than IMPORT_MAX_ARCHIVE_FILES entries, more than IMPORT_MAX_EXTRACTED_BYTES in all, or more
than the disk has room for refuse the whole archive, with the reason. Bytes are counted again while writing (a zip may lie about
sizes). Links inside the archive are not created: MLflow writes none, and a link written now
could be used by a later entry to write through it. The folder is written under a temporary
name and renamed when complete, so an interrupted unpacking is started again from scratch.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import stat
import tarfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

_DRIVE = re.compile(r"^[A-Za-z]:")
_COPY_CHUNK = 1024 * 1024
BEAT_EVERY_SECONDS = 5.0


class ArchiveRefused(Exception):
    """The archive is corrupt, unsafe or too large; the message says which entry and why."""


@dataclass(frozen=True)
class Member:
    name: str  # the cleaned relative path
    size: int
    kind: str  # "file", "dir", "link" (skipped), "other" (refused)
    link_target: str = ""  # as written in the archive
    resolved: str | None = None  # what a link leads to, relative to the archive; None: outside


def unpack(archive: Path, target: Path, *, beat: Callable[[], None] = lambda: None) -> list[str]:
    """Unpacks `archive` into the folder `target` (replaced if it exists), or raises ArchiveRefused.

    Returns the names of the links it left out (they lead somewhere inside the archive).
    """
    if not archive.is_file():
        raise ArchiveRefused(f"The archive {archive.name} is missing.")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with open(archive, "rb") as handle:
            magic = handle.read(4)
        if magic[:2] == b"PK":
            links = _unpack_zip(archive, partial, beat)
        else:
            links = _unpack_tar(archive, partial, beat)
    except ArchiveRefused:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise ArchiveRefused(f"The archive is corrupt or not a .zip/.tar.gz: {error}") from None
    os.replace(partial, target)
    return links


def _check_all(members: list[Member], folder: Path) -> list[str]:
    """Refuses the archive for any unsafe entry, or one the disk has no room for; returns the
    links to leave out."""
    if len(members) > settings.IMPORT_MAX_ARCHIVE_FILES:
        raise ArchiveRefused(
            f"The archive has {len(members)} entries; at most {settings.IMPORT_MAX_ARCHIVE_FILES} are accepted."
        )
    total = sum(member.size for member in members if member.kind == "file")
    if total > settings.IMPORT_MAX_EXTRACTED_BYTES:
        raise ArchiveRefused(
            f"The archive unpacks to {total} bytes; at most {settings.IMPORT_MAX_EXTRACTED_BYTES} are accepted."
        )
    free = shutil.disk_usage(folder.parent).free - settings.IMPORT_DISK_RESERVE_BYTES
    if total > free:
        raise ArchiveRefused(
            f"The archive unpacks to {total} bytes; the disk has room for {max(free, 0)} "
            f"(keeping STUDIO_IMPORT_DISK_RESERVE_BYTES={settings.IMPORT_DISK_RESERVE_BYTES} free)."
        )
    for member in members:
        if member.kind == "other":
            raise ArchiveRefused(f"The archive entry {member.name!r} is a device or a pipe; refused.")
        if member.kind == "link" and member.resolved is None:
            raise ArchiveRefused(
                f"The archive entry {member.name!r} is a link to {member.link_target!r}, outside the archive; refused."
            )
    return [member.name for member in members if member.kind == "link"]


def clean_name(raw: str) -> str:
    """The entry's relative path, or ArchiveRefused for an absolute path or a '..' (zip-slip)."""
    name = raw.replace("\\", "/")
    if "\x00" in name:
        raise ArchiveRefused(f"The archive entry {raw!r} has a NUL character in its name; refused.")
    if name.startswith("/") or _DRIVE.match(name):
        raise ArchiveRefused(f"The archive entry {raw!r} has an absolute path; refused.")
    if ".." in name.split("/"):
        raise ArchiveRefused(f"The archive entry {raw!r} leads outside the folder ('..'); refused.")
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def _resolve_link(base: str, target: str) -> str | None:
    """Where a link's target leads, relative to the archive's top; None if it leads outside."""
    target = target.replace("\\", "/")
    if not target or target.startswith("/") or _DRIVE.match(target):
        return None
    resolved = posixpath.normpath(posixpath.join(base, target))
    return None if resolved == ".." or resolved.startswith("../") else resolved


class _Writer:
    """Writes entries under the folder, counting bytes and beating the heartbeat."""

    def __init__(self, folder: Path, beat: Callable[[], None]) -> None:
        self.folder, self.beat = folder, beat
        self.written = 0
        self.last_beat = time.monotonic()

    def directory(self, name: str) -> None:
        if name:
            self._path(name).mkdir(parents=True, exist_ok=True)

    def file(self, name: str, stream: BinaryIO) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise ArchiveRefused(f"The archive entry {name!r} is both a folder and a file; refused.")
        with open(path, "wb") as out:
            while chunk := stream.read(_COPY_CHUNK):
                self.written += len(chunk)
                if self.written > settings.IMPORT_MAX_EXTRACTED_BYTES:
                    raise ArchiveRefused(
                        f"The archive unpacks to more than {settings.IMPORT_MAX_EXTRACTED_BYTES} bytes; refused."
                    )
                out.write(chunk)
                if time.monotonic() - self.last_beat > BEAT_EVERY_SECONDS:
                    self.beat()
                    self.last_beat = time.monotonic()

    def _path(self, name: str) -> Path:
        path = self.folder / name
        # Nothing here creates links, but check anyway that the parent is where it should be.
        if not Path(os.path.realpath(path.parent)).is_relative_to(os.path.realpath(self.folder)):
            raise ArchiveRefused(f"The archive entry {name!r} leads outside the folder; refused.")
        return path


# --- zip -------------------------------------------------------------------------------------------


def _zip_members(archive: zipfile.ZipFile) -> Iterator[tuple[zipfile.ZipInfo, Member]]:
    for info in archive.infolist():
        name = clean_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            if info.file_size > 4096:
                raise ArchiveRefused(
                    f"The archive entry {info.filename!r} is a link with a huge target; refused."
                )
            target = archive.read(info).decode("utf-8", "replace")
            yield info, Member(name, 0, "link", target, _resolve_link(posixpath.dirname(name), target))
        elif info.is_dir() or stat.S_ISDIR(mode):
            yield info, Member(name, 0, "dir")
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            yield info, Member(name, info.file_size, "other")
        else:
            yield info, Member(name, info.file_size, "file")


def _unpack_zip(path: Path, folder: Path, beat: Callable[[], None]) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        members = list(_zip_members(archive))
        links = _check_all([member for _, member in members], folder)
        writer = _Writer(folder, beat)
        for info, member in members:
            if member.kind == "dir":
                writer.directory(member.name)
            elif member.kind == "file" and member.name:
                with archive.open(info) as stream:
                    writer.file(member.name, stream)
    return links


# --- tar (.tar, .tar.gz, .tgz, .tar.bz2, .tar.xz) ----------------------------------------------------


def _tar_member(info: tarfile.TarInfo) -> Member:
    name = clean_name(info.name)
    if info.issym():  # relative to the link's folder
        return Member(name, 0, "link", info.linkname, _resolve_link(posixpath.dirname(name), info.linkname))
    if info.islnk():  # a hard link names another entry, relative to the top
        return Member(name, 0, "link", info.linkname, _resolve_link("", info.linkname))
    if info.isdir():
        return Member(name, 0, "dir")
    if info.isfile():
        return Member(name, info.size, "file")
    return Member(name, 0, "other")


def _unpack_tar(path: Path, folder: Path, beat: Callable[[], None]) -> list[str]:
    # Two passes over a compressed stream: the first checks every entry, the second writes.
    with tarfile.open(path, mode="r:*") as archive:
        links = _check_all([_tar_member(info) for info in archive], folder)
    writer = _Writer(folder, beat)
    with tarfile.open(path, mode="r|*") as archive:
        for info in archive:
            member = _tar_member(info)
            if member.kind == "dir":
                writer.directory(member.name)
            elif member.kind == "file" and member.name:
                stream = archive.extractfile(info)
                if stream is not None:
                    writer.file(member.name, stream)
    return links
