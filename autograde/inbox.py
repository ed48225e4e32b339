"""Read an inbox (a folder or a zip of submissions) without trusting it.

Listing never follows a symbolic link: a folder is walked with ``lstat`` (a link to a file or a
folder is listed as a link, not entered), and a zip member whose mode says link is listed as one.
Nothing is read while listing; :func:`private_copy` then copies one chosen file, opened without
following links and reading at most the size limit plus one byte, so a caller checks and collects
that copy, never the original again. A zip is opened without decompressing anything; each member's
checksum is checked as it is read.
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autograde import roster

JUNK = {"__MACOSX", ".ipynb_checkpoints", ".DS_Store", "Thumbs.db"}


class InboxError(ValueError):
    """The inbox cannot be read at all; nothing was collected."""


@dataclass(frozen=True)
class Entry:
    """One file of the input, as listed (nothing read from it yet)."""

    rel: PurePosixPath  # its path inside the input, in NFC
    shown: str  # its path as the instructor knows it (inside the zip, or on disk)
    size: int
    kind: str  # "file", "link" or "other" (a device, a pipe, ...)
    path: Path | None = None  # on disk, for a folder
    member: zipfile.ZipInfo | None = None  # in the zip


def folder_entries(root: Path) -> list[Entry]:
    """Every file under ``root``, links and special files included but never followed."""
    entries = []

    def unreadable(error: OSError) -> None:  # os.walk would skip the folder silently
        raise InboxError(f"{error.filename}: cannot read the folder ({error.strerror}); nothing was collected")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        dirnames[:] = sorted(d for d in dirnames if d not in JUNK)
        for name in sorted(filenames) + dirnames:
            path = Path(dirpath, name)
            info = path.lstat()
            if stat.S_ISDIR(info.st_mode):
                continue
            kind = "link" if stat.S_ISLNK(info.st_mode) else "file" if stat.S_ISREG(info.st_mode) else "other"
            rel = PurePosixPath(roster.normal(path.relative_to(root).as_posix()))
            entries.append(Entry(rel, f"{root}/{path.relative_to(root).as_posix()}", info.st_size, kind, path=path))
    return entries


def _member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's name; names stored in UTF-8 without the UTF-8 flag are read as UTF-8."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def zip_entries(archive: Path, zf: zipfile.ZipFile) -> list[Entry]:
    """Every file in the zip; a path that leaves the archive stops everything."""
    entries = []
    for info in zf.infolist():
        name = PurePosixPath(_member_name(info))
        if name.is_absolute() or ".." in name.parts:
            raise InboxError(f"{archive}: refusing {info.filename} (a path outside the archive); nothing was collected")
        if info.is_dir():
            continue
        mode = info.external_attr >> 16
        kind = "link" if stat.S_ISLNK(mode) else "other" if stat.S_IFMT(mode) not in (0, stat.S_IFREG) else "file"
        entries.append(Entry(PurePosixPath(roster.normal(str(name))), f"{archive}:{name}", info.file_size, kind,
                             member=info))
    return entries


def private_copy(entry: Entry, zf: zipfile.ZipFile | None, dest: Path, max_bytes: int) -> Path:
    """Copy one file into ``dest`` (reading at most ``max_bytes`` + 1 bytes, following no link)."""
    dest.mkdir(parents=True)
    target = dest / entry.rel.name
    if entry.member is not None:
        source = zf.open(entry.member)
    else:
        source = os.fdopen(os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW), "rb")
    with source, open(target, "wb") as out:
        data = source.read(max_bytes + 1)
        out.write(data)
    return target


def open_zip(archive: Path) -> zipfile.ZipFile:
    if not zipfile.is_zipfile(archive):
        raise InboxError(f"{archive}: not a readable zip file (corrupt or another format); nothing was collected")
    try:
        return zipfile.ZipFile(archive)  # each member's checksum is checked when it is read, not before
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as error:
        raise InboxError(f"{archive}: cannot read the zip ({error}); nothing was collected") from None
