"""Prediction inputs: one image, a ZIP or folder of images, a CSV/TSV/JSONL/JSON/Parquet table of texts, or a
literal string. Everything is read (and every image decoded) before anything is predicted or written, so a bad
input fails with a message naming it and leaves no half-written output."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tlcore.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
TEXT_GUESSES = ("text", "review", "sentence", "content", "body", "comment", "review_text", "document")
MAX_IMAGE_BYTES = 64 * 1024**2
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class Inputs:
    """What to predict: ``names`` (shown in the ``input`` column) and ``samples`` (RGB uint8 arrays or str)."""

    modality: str
    names: list
    samples: list

    def __len__(self) -> int:
        return len(self.samples)


def read_inputs(spec: str, modality: str, text_column: str | None = None, decode_max_side: int = 256) -> Inputs:
    """Resolve ``spec`` for a model of ``modality``.

    Raises:
        DataError: unknown format, unreadable image (named), missing text column, or a modality mismatch.
    """
    path = Path(spec).expanduser()
    suffix = path.suffix.lower()
    known = suffix in IMAGE_SUFFIXES + TABLE_SUFFIXES + (".zip",)
    looks_like_file = len(spec) < 4096 and (known or re.fullmatch(r"\S+\.[A-Za-z0-9]{2,5}", spec) is not None)
    if not _exists(path):
        if looks_like_file or modality == "image":
            raise DataError(f"{spec}: file not found" + ("" if looks_like_file else
                            " (an image model needs an image file, a ZIP or a folder of images)"))
        text = spec.strip()
        if not text:
            raise DataError("the input text is empty")
        return Inputs("text", [text], [text])
    if path.is_dir() or suffix == ".zip":
        _need(modality, "image", path.name)
        return _images(path, decode_max_side)
    if suffix in IMAGE_SUFFIXES:
        _need(modality, "image", path.name)
        return Inputs("image", [path.name], [decode_bytes(path.read_bytes(), path.name, decode_max_side)])
    if suffix in TABLE_SUFFIXES:
        _need(modality, "text", path.name)
        return _table(path, text_column)
    raise DataError(f"{path.name}: unknown input format {suffix or '(no extension)'!r}; give an image "
                    f"({', '.join(IMAGE_SUFFIXES)}), a .zip or folder of images, a table of texts "
                    f"({', '.join(TABLE_SUFFIXES)}) or a sentence")


def decode_bytes(data: bytes, name: str, decode_max_side: int = 256):
    """One image's bytes -> RGB uint8 array, as the training readers decode it."""
    from tlcore.data.image import ImageRejected, bomb_guard, decode_image

    if len(data) > MAX_IMAGE_BYTES:
        raise DataError(f"{name}: image file larger than {MAX_IMAGE_BYTES:,} bytes")
    try:
        with bomb_guard():
            return decode_image(data, decode_max_side, MAX_PIXELS)[0]
    except ImageRejected as exc:
        raise DataError(f"{name}: cannot read this image ({exc})") from None


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a long sentence is not a valid path on some systems
        return False


def _need(modality: str, wanted: str, name: str) -> None:
    if modality != wanted:
        raise DataError(f"{name}: this is {'an image' if wanted == 'image' else 'a text'} input but the model is "
                        f"a {modality} model")


def _images(path: Path, decode_max_side: int) -> Inputs:
    """Every image file of a folder or ZIP (any depth, class folders or not), in sorted path order. The ZIP's
    whole central directory is validated first (path escapes, links, bombs) by the domain reader's checks."""
    import zipfile

    from tlcore.data.archive import check_image_budget
    from tlcore.data.members import ArchiveLimits, folder_entries, zip_entries

    limits = ArchiveLimits()
    if path.is_dir():
        entries, _ = folder_entries(path, limits)
        check_image_budget(path.name, entries, decode_max_side)
        names, samples = _decode_entries(path.name, entries, decode_max_side)
    else:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise DataError(f"{path.name}: not a valid ZIP archive ({exc})") from None
        with archive:
            entries = zip_entries(path.name, archive, limits)
            check_image_budget(path.name, entries, decode_max_side)  # TL_MAX_IMAGES, TL_MAX_DECODED_MPIXELS
            names, samples = _decode_entries(path.name, entries, decode_max_side)
    if not samples:
        raise DataError(f"{path.name}: no images found (supported: {', '.join(IMAGE_SUFFIXES)})")
    return Inputs("image", names, samples)


def _decode_entries(label: str, entries, decode_max_side: int):
    from tlcore.data.members import junk_reason
    from tlcore.data.image import ImageRejected

    names, samples, bad = [], [], []
    for e in sorted(entries, key=lambda e: e.name):
        if e.is_dir or junk_reason(e.parts) or not e.name.lower().endswith(IMAGE_SUFFIXES):
            continue
        try:
            samples.append(decode_bytes(e.load(), e.name, decode_max_side))
            names.append(e.name)
        except (DataError, ImageRejected) as exc:
            bad.append(str(exc))
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise DataError(f"{label}: {len(bad)} image(s) cannot be read: {'; '.join(bad[:5])}{more}")
    return names, samples


def _table(path: Path, text_column: str | None) -> Inputs:
    from tlcore.data.formats import read_rows

    header, rows = read_rows(path)  # TL_MAX_ROWS, TL_MAX_CELL_BYTES (tlcore/data/limits.py)
    idx = _column(path.name, header, text_column)
    texts = [("" if idx >= len(r) or r[idx] is None else str(r[idx])) for r in rows]
    if not texts:
        raise DataError(f"{path.name}: the table has no rows")
    return Inputs("text", texts, texts)


def _column(name: str, header: list[str], wanted: str | None) -> int:
    folded = [c.strip().casefold() for c in header]
    if wanted is not None:
        if wanted in header:
            return header.index(wanted)
        if wanted.strip().casefold() in folded:
            return folded.index(wanted.strip().casefold())
        raise DataError(f"{name}: text column {wanted!r} not found; columns: {header}")
    for guess in TEXT_GUESSES:
        if guess in folded:
            return folded.index(guess)
    if len(header) == 1:
        return 0
    raise DataError(f"{name}: no text column found (tried {list(TEXT_GUESSES)}); columns: {header}; "
                    "choose one with --text-column")
