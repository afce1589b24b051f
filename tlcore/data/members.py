"""Reading the members of a ZIP archive or a folder safely, before any layout rule applies.

The whole central directory of a ZIP is validated first (path escapes, links, devices, encryption, unsupported
compression, size and ratio limits, overlapping members); one unsafe member refuses the archive with
:class:`~tlcore.errors.UnsafeArchive`. Members are read in memory, never extracted, with a cap on the bytes a
member actually produces. In a folder, linked folders are skipped, never followed. Used by the domain reader
(``tlcore.data.archive``) and by prediction inputs (``tlcore.export.inputs``).
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tlcore.data.domain import Skipped
from tlcore.data.image import ImageRejected
from tlcore.errors import DataError, UnsafeArchive

_JUNK_NAMES = {".DS_Store": "junk (.DS_Store)", "Thumbs.db": "junk (Thumbs.db)", "desktop.ini": "junk (desktop.ini)"}
_SUPPORTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
_SPECIAL_FILE_TYPES = (stat.S_IFLNK, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK)
_MAX_COMPONENT = 255
_MAX_NAME = 1024
_RATIO_FLOOR = 1024**2


@dataclass(frozen=True)
class ArchiveLimits:
    """Limits checked before any member is read.

    Attributes:
        max_members: Most entries (files and folders) in one archive or folder.
        max_total_bytes: Most declared uncompressed bytes in total.
        max_member_bytes: Most uncompressed bytes in one member.
        max_ratio: Highest compression ratio for members larger than 1 MiB.
        max_depth: Most path components in a member name.
        max_pixels: Most pixels in one image (larger ones are skipped).
    """

    max_members: int = 200_000
    max_total_bytes: int = 4 * 1024**3
    max_member_bytes: int = 256 * 1024**2
    max_ratio: float = 200.0
    max_depth: int = 8
    max_pixels: int = 40_000_000



@dataclass(frozen=True)
class Entry:
    """One file or folder inside the input, with a callable returning its bytes."""

    name: str
    parts: tuple[str, ...]
    is_dir: bool
    load: Callable[[], bytes] | None = None



def zip_entries(label: str, archive: zipfile.ZipFile, limits: ArchiveLimits) -> list[Entry]:
    """Validate the whole central directory, then describe each member."""
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise UnsafeArchive(
            f"{label}: archive has {len(infos):,} members, more than the limit of {limits.max_members:,}"
        )
    total = 0
    seen: set[str] = set()
    for info in infos:
        name = info.orig_filename
        _check_member_name(label, name, limits)
        if name in seen:
            raise UnsafeArchive(f"{label}: member {name!r} appears twice in the archive")
        seen.add(name)
        file_type = stat.S_IFMT(info.external_attr >> 16)
        if file_type in _SPECIAL_FILE_TYPES:
            kind = "symlink" if file_type == stat.S_IFLNK else "special file"
            raise UnsafeArchive(f"{label}: member {name!r} is a {kind}; links and devices are not allowed")
        if info.flag_bits & 0x1:
            raise UnsafeArchive(f"{label}: member {name!r} is encrypted. Password-protected ZIPs are not supported")
        if info.compress_type not in _SUPPORTED_COMPRESSION:
            raise DataError(
                f"{label}: member {name!r} uses unsupported compression method {info.compress_type}; "
                "re-create the ZIP with standard Deflate"
            )
        if info.file_size > limits.max_member_bytes:
            raise UnsafeArchive(
                f"{label}: member {name!r} expands to {info.file_size:,} bytes, "
                f"more than the limit of {limits.max_member_bytes:,}"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FLOOR and ratio > limits.max_ratio:
            raise UnsafeArchive(f"{label}: member {name!r} has compression ratio {ratio:.0f}:1 (possible zip bomb)")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchive(
                f"{label}: archive expands to more than {limits.max_total_bytes / 1024**3:.2f} GB "
                f"(limit reached at member {name!r})"
            )
    _check_no_overlap(label, infos, archive)
    entries = []
    for info in infos:
        parts = tuple(p for p in re.split(r"[\\/]", info.filename) if p)
        if parts:
            entries.append(Entry(info.filename, parts, info.is_dir(), _zip_loader(label, archive, info, limits)))
    return entries


def _check_no_overlap(label: str, infos: list[zipfile.ZipInfo], archive: zipfile.ZipFile) -> None:
    """Refuse members whose data overlap (the overlapping-entry zip bomb, CVE-2024-0450; CPython only checks this
    from 3.11.8/3.12.2): each member's local header (30 bytes at least) and compressed data must end before the
    next member starts, and the last before the central directory. A valid ZIP always satisfies this."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    ends = [i.header_offset for i in ordered[1:]] + [getattr(archive, "start_dir", None)]
    for info, limit in zip(ordered, ends):
        if limit is not None and info.header_offset + 30 + info.compress_size > limit:
            raise UnsafeArchive(f"{label}: member {info.orig_filename!r} overlaps another member's data "
                                "(possible zip bomb); this archive is corrupt or malicious")


def _check_member_name(label: str, name: str, limits: ArchiveLimits) -> None:
    """Refuse absolute, drive-letter, UNC and ``..`` member names, and over-long or deep ones."""
    parts = [p for p in re.split(r"[\\/]", name) if p]
    unsafe = (
        name.startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", name) is not None
        or ".." in parts
        or "\x00" in name
    )
    if unsafe:
        raise UnsafeArchive(f"{label}: unsafe path in archive: {name!r}")
    if len(name) > _MAX_NAME or any(len(p) > _MAX_COMPONENT for p in parts):
        raise UnsafeArchive(f"{label}: member name too long: {name[:80]!r}...")
    if len(parts) > limits.max_depth:
        raise UnsafeArchive(f"{label}: member {name!r} is nested {len(parts)} levels deep (limit {limits.max_depth})")


def _zip_loader(label: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits):
    """Return a callable reading one member in memory, with a cap on the bytes actually produced."""

    def load() -> bytes:
        try:
            with archive.open(info) as handle:
                data = handle.read(limits.max_member_bytes + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise DataError(f"{label}: member {info.filename!r} is corrupt ({exc}); the archive is damaged") from exc
        except NotImplementedError as exc:
            raise DataError(
                f"{label}: member {info.filename!r}: {exc}; re-create the ZIP with standard Deflate"
            ) from exc
        except RuntimeError as exc:
            raise UnsafeArchive(
                f"{label}: member {info.filename!r}: Password-protected ZIPs are not supported"
            ) from exc
        if len(data) > limits.max_member_bytes:
            raise UnsafeArchive(f"{label}: member {info.filename!r} expands beyond {limits.max_member_bytes:,} bytes")
        return data

    return load


def folder_entries(root: Path, limits: ArchiveLimits) -> tuple[list[Entry], list[Skipped]]:
    """Describe the files and folders under ``root``; linked folders are skipped, never followed."""
    entries: list[Entry] = []
    skipped: list[Skipped] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root).parts
        for d in list(dirnames):
            member = "/".join((*rel, d)) + "/"
            if Path(dirpath, d).is_symlink():
                skipped.append(Skipped(member, "symlink (not followed)"))
                dirnames.remove(d)
                continue
            entries.append(Entry(member, (*rel, d), True))
            if len(rel) + 1 >= limits.max_depth:
                dirnames.remove(d)
        for f in sorted(filenames):
            entries.append(Entry("/".join((*rel, f)), (*rel, f), False, _file_loader(Path(dirpath, f), limits)))
        if len(entries) > limits.max_members:
            raise DataError(f"{root.name}: folder has more than {limits.max_members:,} entries (the limit)")
    return entries, skipped


def _file_loader(file: Path, limits: ArchiveLimits):
    """Return a callable reading one regular file, refusing links and over-size files."""

    def load() -> bytes:
        if file.is_symlink() or not file.is_file():
            raise ImageRejected("symlink (not followed)")
        if file.stat().st_size > limits.max_member_bytes:
            raise ImageRejected(f"file larger than {limits.max_member_bytes:,} bytes")
        return file.read_bytes()

    return load



def junk_reason(parts: tuple[str, ...]) -> str | None:
    """Return why a path is known junk (OS metadata, hidden files), or None."""
    if "__MACOSX" in parts:
        return "junk (__MACOSX)"
    if parts[-1] in _JUNK_NAMES:
        return _JUNK_NAMES[parts[-1]]
    if any(p.startswith(".") for p in parts):
        return "junk (hidden file)"
    return None

