"""Prediction inputs: one image, a ZIP or folder of images, a CSV/TSV/JSONL/JSON/Parquet table of texts, or a
literal string. Everything is read (and every image decoded) before anything is predicted or written, so a bad
input fails with a message naming it and leaves no half-written output.

Batch prediction (``predict`` and its job) reads a file or folder in the limited parse child
(:func:`read_inputs_limited`, issue 22 item 1): the same checks, under ``TL_PARSE_MEMORY_MB``/``TL_PARSE_CPU_S``,
one clear line when it goes over. A text shown in the output's ``input`` column is cut to
:data:`MAX_NAME_CHARS` characters (the cell itself is limited by ``TL_MAX_CELL_BYTES``)."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tlcore.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
TEXT_GUESSES = ("text", "review", "sentence", "content", "body", "comment", "review_text", "document")
MAX_IMAGE_BYTES = 64 * 1024**2
MAX_PIXELS = 40_000_000
MAX_NAME_CHARS = 1000  # a text input as shown in the output's input column


@dataclass(frozen=True)
class Inputs:
    """What to predict: ``names`` (shown in the ``input`` column) and ``samples`` (RGB uint8 arrays or str)."""

    modality: str
    names: list
    samples: list

    def __len__(self) -> int:
        return len(self.samples)


def read_inputs(spec: str, modality: str, text_column: str | None = None, decode_max_side: int = 256,
                image_file: Path | None = None) -> Inputs:
    """Resolve ``spec`` for a model of ``modality``. ``image_file``: decoded images are written there one at a time
    (:class:`~tlcore.data.mapped.ImageWriter`) instead of being kept in a list.

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
        return _images(path, decode_max_side, _sink(image_file))
    if suffix in IMAGE_SUFFIXES:
        _need(modality, "image", path.name)
        samples = _sink(image_file)
        samples.append(decode_bytes(path.read_bytes(), path.name, decode_max_side))
        return Inputs("image", [path.name], _finish(samples))
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


def _sink(image_file: Path | None):
    from tlcore.data.mapped import ImageWriter

    return [] if image_file is None else ImageWriter(image_file)


def _finish(samples):
    return samples if isinstance(samples, list) else samples.finish()


def _images(path: Path, decode_max_side: int, sink) -> Inputs:
    """Every image file of a folder or ZIP (any depth, class folders or not), in sorted path order. The ZIP's
    whole central directory is validated first (path escapes, links, bombs) by the domain reader's checks."""
    import zipfile

    from tlcore.data.archive import check_image_budget
    from tlcore.data.members import ArchiveLimits, folder_entries, zip_entries

    limits = ArchiveLimits()
    if path.is_dir():
        entries, _ = folder_entries(path, limits)
        check_image_budget(path.name, entries, decode_max_side)
        names, samples = _decode_entries(path.name, entries, decode_max_side, sink)
    else:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            raise DataError(f"{path.name}: not a valid ZIP archive ({exc})") from None
        with archive:
            entries = zip_entries(path.name, archive, limits)
            check_image_budget(path.name, entries, decode_max_side)  # TL_MAX_IMAGES, TL_MAX_DECODED_MPIXELS
            names, samples = _decode_entries(path.name, entries, decode_max_side, sink)
    if not len(samples):
        raise DataError(f"{path.name}: no images found (supported: {', '.join(IMAGE_SUFFIXES)})")
    return Inputs("image", names, _finish(samples))


def _decode_entries(label: str, entries, decode_max_side: int, samples):
    from tlcore.data.members import junk_reason
    from tlcore.data.image import ImageRejected

    names, bad = [], []
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
    return Inputs("text", [_shown(t) for t in texts], texts)


def _shown(text: str) -> str:
    """A text as the output's input column shows it: at most :data:`MAX_NAME_CHARS` characters."""
    return text if len(text) <= MAX_NAME_CHARS else f"{text[:MAX_NAME_CHARS]}… ({len(text):,} characters)"


def save_inputs(inputs: Inputs, folder: Path) -> dict:
    """Write what the child read into ``folder`` (``inputs.json``; images are already in ``inputs.npy``)."""
    from tlcore.runs.files import FILE_MODE

    meta = {"modality": inputs.modality, "names": inputs.names}
    if inputs.modality == "text":
        meta["texts"] = inputs.samples
    else:
        meta["shapes"] = inputs.samples.shapes.tolist()
    fd = os.open(folder / "inputs.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, ensure_ascii=False)
    return {"n": len(inputs)}


def read_inputs_limited(spec: str, modality: str, text_column: str | None, decode_max_side: int,
                        work_root: Path) -> Inputs:
    """:func:`read_inputs` for batch prediction: a file or folder is read in the limited parse child
    (:mod:`tlcore.data.sandbox`, module :mod:`tlcore.export.input_child`) into a private temporary folder under
    ``work_root/cache/inputs``; images come back mapped from disk, texts as a list. A literal text is read here.
    Raises :class:`DataError` with the child's one line (the same messages as :func:`read_inputs`), or the limit
    it went over."""
    from tlcore.data import sandbox
    from tlcore.data.mapped import MappedImages
    from tlcore.runs.files import private_dir

    path = Path(spec).expanduser()
    if not _exists(path):
        return read_inputs(spec, modality, text_column, decode_max_side)
    folder = Path(tempfile.mkdtemp(prefix="batch-", dir=private_dir(Path(work_root) / "cache" / "inputs")))
    try:
        sandbox.run("inputs", str(path), path.name, module="tlcore.export.input_child", modality=modality,
                    text_column=text_column, decode_max_side=int(decode_max_side), out=str(folder))
        meta = json.loads((folder / "inputs.json").read_text(encoding="utf-8"))
        if meta["modality"] == "text":
            return Inputs("text", meta["names"], meta["texts"])
        return Inputs("image", meta["names"], MappedImages(folder / "inputs.npy", meta["shapes"]).open())
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # a mapping stays valid after its file is removed


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
