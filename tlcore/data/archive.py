"""Image domains from a ZIP archive or a folder of class folders.

Expected layout: ``class_name/image.jpg``, optionally under one wrapping folder
(``dataset/class_name/image.jpg``), which is unwrapped. A single top-level folder is
always taken as such a wrapper, so a one-class upload reads as unlabeled. Images in sub-folders deeper
than the class folder take the first-level folder as their class. If no file sits in
a folder at all, the images form an unlabeled domain (how an unlabeled target is
uploaded).

ZIP members are read in memory and never extracted, and the whole central directory
is validated first: one unsafe member (path escape, symlink, encryption, bomb) refuses
the archive with :class:`~tlcore.errors.UnsafeArchive`.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from pathlib import Path

from tlcore.data.domain import Domain, Skipped
from tlcore.data.image import EXTENSIONS, NOT_AN_IMAGE, ImageRejected, bomb_guard, decode_image
from tlcore.data.limits import check_classes, limit
from tlcore.data.members import ArchiveLimits, Entry, folder_entries, junk_reason, zip_entries
from tlcore.errors import DataError, UnsafeArchive

EXPECTED_LAYOUT = "class_name/image.jpg (one folder per class, optionally inside one top folder)"


def read_images(path, name: str | None = None, max_side: int = 256, limits: ArchiveLimits = ArchiveLimits(),
                sink=None) -> Domain:
    """Read an image domain from a ``.zip`` file or a directory.

    Args:
        path: A ``.zip`` archive or a directory laid out as ``class_name/image.jpg``.
        name: Domain name; defaults to the file stem or directory name.
        max_side: Images are downscaled so their longest side is at most this.
        limits: Archive and image size limits.
        sink: Where decoded images go instead of a list: an object with ``append(array)``, ``len()`` and
            ``finish()`` returning the samples sequence (:class:`~tlcore.data.mapped.ImageWriter`: one image in
            memory at a time, the domain's samples read from disk on access).

    Returns:
        An image Domain; ``labels`` is None when there are no class folders.

    Raises:
        UnsafeArchive: A member is unsafe (path escape, symlink, encrypted, bomb, limits).
        DataError: Not a ZIP, corrupt, empty, no usable images, or not found.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    path = Path(path)
    label = path.name
    domain_name = name or (path.stem if path.is_file() else path.name)
    if path.is_dir():
        entries, skipped = folder_entries(path, limits)
        return _build(label, domain_name, entries, skipped, max_side, limits, sink)
    if not path.is_file():
        raise DataError(f"{label}: file not found")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(
            f"{label}: not a valid ZIP archive ({exc}); the file may be truncated or another format"
        ) from exc
    with archive:
        entries = zip_entries(label, archive, limits)
        return _build(label, domain_name, entries, [], max_side, limits, sink)



def _build(
    label: str, name: str, entries: list[Entry], skipped: list[Skipped], max_side: int, limits: ArchiveLimits,
    sink=None,
) -> Domain:
    """Apply the layout rules to the entries and decode the images."""
    if not any(not e.is_dir for e in entries):
        raise DataError(f"{label}: the archive is empty; expected layout: {EXPECTED_LAYOUT}")
    kept = _without_junk(entries, skipped)
    tops = {e.parts[0] for e in kept}
    kept = _unwrap(kept)
    files = [e for e in kept if not e.is_dir]
    note = _wrapper_note(tops, files)
    labeled = any(len(e.parts) >= 2 and e.parts[-1].lower().endswith(EXTENSIONS) for e in files)
    if labeled:  # before any decode: a class per folder, at most TL_MAX_CLASSES
        check_classes(label, len({e.parts[0] for e in files if len(e.parts) >= 2
                                  and e.parts[-1].lower().endswith(EXTENSIONS)}))
    check_image_budget(label, files, max_side)
    samples, labels, sources, sizes = _decode_files(files, labeled, max_side, limits, skipped,
                                                    [] if sink is None else sink)
    if labeled:
        _check_class_collisions(label, set(labels))
        _report_empty_classes(kept, set(labels), skipped)
    if not samples:
        reasons = dict(Counter(s.reason for s in skipped))
        raise DataError(
            f"{label}: no images found ({len(skipped)} files skipped: {reasons}); "
            f"supported formats: {', '.join(EXTENSIONS)}; expected layout: {EXPECTED_LAYOUT}"
        )
    return Domain(
        name=name,
        modality="image",
        samples=samples if sink is None else sink.finish(),
        labels=labels if labeled else None,
        sources=sources,
        skipped=skipped,
        original_sizes=sizes,
        description=note,
    )


def check_image_budget(label: str, files: list[Entry], max_side: int) -> int:
    """Refuse, before the first decode, an archive or folder with more than ``TL_MAX_IMAGES`` image files or
    whose images would decode to more than ``TL_MAX_DECODED_MPIXELS`` million pixels at the stored size (each
    downscaled to ``max_side``). Sizes come from the image headers (Pillow opens lazily: ``size`` without
    ``load``). Returns the pixel total; unreadable headers count nothing here (decoding skips them later).
    """
    from PIL import Image

    images = [e for e in files if not e.is_dir and e.parts[-1].lower().endswith(EXTENSIONS)]
    cap = limit("TL_MAX_IMAGES")
    if len(images) > cap:
        raise UnsafeArchive(f"{label}: {len(images):,} image files, more than the limit of {cap:,} (TL_MAX_IMAGES)")
    budget = limit("TL_MAX_DECODED_MPIXELS") * 1_000_000
    total = 0
    with bomb_guard():
        for n, entry in enumerate(images, start=1):
            try:
                with Image.open(io.BytesIO(entry.load())) as im:
                    width, height = im.size
            except Exception:  # noqa: BLE001 - not an image, or a bad one: the decoder names it later
                continue
            scale = min(1.0, max_side / max(width, height, 1))
            total += max(1, round(width * scale)) * max(1, round(height * scale))
            if total > budget:
                raise UnsafeArchive(f"{label}: the images decode to more than {budget // 1_000_000:,} million "
                                    f"pixels at {max_side} px (reached at image {n:,} of {len(images):,}, "
                                    f"{entry.name!r}); the limit is TL_MAX_DECODED_MPIXELS")
    return total


def _without_junk(entries: list[Entry], skipped: list[Skipped]) -> list[Entry]:
    """The entries in name order without known junk; junk files (not folders) are recorded as skipped."""
    kept = []
    for entry in sorted(entries, key=lambda e: e.name):
        reason = junk_reason(entry.parts)
        if reason is None:
            kept.append(entry)
        elif not entry.is_dir:
            skipped.append(Skipped(entry.name, reason))
    return kept


def _wrapper_note(tops: set[str], files: list[Entry]) -> str:
    """The domain's note when one top folder held every image directly (read as unlabeled), else ``""``."""
    if len(tops) == 1 and files and all(len(e.parts) == 1 for e in files):
        top = next(iter(tops))
        return (f"Unlabeled: the single folder {top!r} holds every image, so it is read as a wrapper around an "
                f"unlabeled domain, not as a class. A labeled domain needs one folder per class (at least two).")
    return ""


def _decode_files(files: list[Entry], labeled: bool, max_side: int, limits: ArchiveLimits,
                  skipped: list[Skipped], samples) -> tuple[list, list[str], list[str], list]:
    """Decode the image files (in a bomb guard): samples, class folders, member names and original sizes;
    non-images, images outside a class folder (in a labeled layout) and rejected images are recorded as
    skipped. Decoded arrays are appended to ``samples`` (a list, or a sink that writes them to disk)."""
    labels, sources, sizes = [], [], []
    with bomb_guard():
        for entry in files:
            if not entry.parts[-1].lower().endswith(EXTENSIONS):
                skipped.append(Skipped(entry.name, NOT_AN_IMAGE))
                continue
            if labeled and len(entry.parts) < 2:
                skipped.append(Skipped(entry.name, "not in a class folder"))
                continue
            try:
                array, size = decode_image(entry.load(), max_side, limits.max_pixels)
            except ImageRejected as exc:
                skipped.append(Skipped(entry.name, str(exc)))
                continue
            samples.append(array)
            labels.append(entry.parts[0])
            sources.append(entry.name)
            sizes.append(size)
    return samples, labels, sources, sizes


def _unwrap(entries: list[Entry]) -> list[Entry]:
    """Strip one wrapping top-level folder when everything sits inside it."""
    tops = {e.parts[0] for e in entries}
    if len(tops) != 1 or any(len(e.parts) < 2 and not e.is_dir for e in entries):
        return entries
    prefix_len = 1
    return [
        Entry(e.name, e.parts[prefix_len:], e.is_dir, e.load)
        for e in entries
        if len(e.parts) > prefix_len
    ]


def _check_class_collisions(label: str, classes: set[str]) -> None:
    """Refuse class folders that differ only by case or Unicode normal form (``Cat``/``cat``, ``café`` NFC/NFD):
    on another file system, or to a reader, they are one class split in two."""
    import unicodedata

    groups: dict[str, list[str]] = {}
    for c in sorted(classes):
        groups.setdefault(unicodedata.normalize("NFC", c).casefold().strip(), []).append(c)
    clashes = [g for g in groups.values() if len(g) > 1]
    if clashes:
        def show(c):
            form = "NFC" if unicodedata.is_normalized("NFC", c) else "NFD"
            return f"{c!r} ({form})" if any(ord(ch) > 127 for ch in c) else repr(c)

        text = "; ".join(" vs ".join(show(c) for c in g) for g in clashes)
        raise DataError(f"{label}: class folders differ only by case or Unicode form: {text}; rename them so each "
                        "class has exactly one folder")


def _report_empty_classes(entries: list[Entry], used: set[str], skipped: list[Skipped]) -> None:
    """Record a Skipped entry, named by its path in the input, for each class folder left empty."""
    folders: dict[str, str] = {}
    for e in entries:
        if len(e.parts) >= 2 or e.is_dir:
            original = [p for p in re.split(r"[\\/]", e.name) if p]
            depth = len(original) - len(e.parts) + 1
            folders.setdefault(e.parts[0], "/".join(original[:depth]) + "/")
    for cls in sorted(set(folders) - used):
        skipped.append(Skipped(folders[cls], "class folder has no valid images"))
