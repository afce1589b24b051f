"""Text domains from CSV, TSV, JSON Lines or Parquet tables.

Every value is read as a string (``"01"`` and ``"1"`` stay distinct, NaN never becomes
``"nan"``). Rows with empty text or a missing label are dropped and reported as
:class:`~tlcore.data.domain.Skipped` entries named ``"row N"`` (1-based data rows).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from tlcore.data.domain import Domain, Skipped
from tlcore.data.formats import EXTENSIONS, read_header, read_rows
from tlcore.data.limits import check_classes
from tlcore.errors import DataError

TEXT_GUESSES = ("text", "sentence", "review", "content", "body")
LABEL_GUESSES = ("label", "class", "target", "sentiment", "category")
MISSING_TOKENS = frozenset({"nan", "NaN", "NAN", "<NA>", "null", "NULL", "#N/A", "N/A"})
FREE_TEXT_MIN_CLASSES = 100

__all__ = ["TEXT_GUESSES", "LABEL_GUESSES", "EXTENSIONS", "read_text", "table_columns"]


def table_columns(path) -> list[str]:
    """Return the column names of a table without reading its rows.

    Args:
        path: A ``.csv``, ``.tsv``, ``.jsonl``/``.json`` or ``.parquet`` file.

    Returns:
        The column names in file order.

    Raises:
        DataError: The file is missing, unsupported or unreadable.
    """
    return read_header(Path(path))


def read_text(
    path,
    text_column: str | None = None,
    label_column: str | None = None,
    name: str | None = None,
    max_rows: int | None = None,
) -> Domain:
    """Read a text domain from a table.

    Args:
        path: A ``.csv``, ``.tsv``, ``.jsonl``/``.json`` or ``.parquet`` file.
        text_column: Column holding the text; guessed from ``TEXT_GUESSES`` if None.
        label_column: Column holding the label; guessed from ``LABEL_GUESSES`` if None.
            When it is None and no column matches, the domain is unlabeled.
        name: Domain name; defaults to the file stem.
        max_rows: Most data rows accepted (default ``TL_MAX_ROWS``); more is an error.

    Returns:
        A text Domain whose sources are ``"row N"``.

    Raises:
        DataError: Unreadable file, missing or duplicate columns, too many rows,
            a label column that looks like free text, or no usable row.
    """
    path = Path(path)
    label = path.name
    header, rows = read_rows(path, max_rows)
    text_idx = _resolve(label, header, text_column, TEXT_GUESSES, "text")
    label_idx = _resolve(label, header, label_column, LABEL_GUESSES, "label", optional=label_column is None)
    if label_idx is not None and label_idx == text_idx:
        raise DataError(f"{label}: text and label columns are the same column {header[text_idx]!r}")
    texts, labels, sources, skipped = [], [], [], []
    for number, row in enumerate(rows, start=1):
        text = _clean(row[text_idx] if text_idx < len(row) else None)
        if text is None:
            skipped.append(Skipped(f"row {number}", "empty text"))
            continue
        if label_idx is not None:
            value = _clean(row[label_idx] if label_idx < len(row) else None)
            if value is None:
                skipped.append(Skipped(f"row {number}", "missing label"))
                continue
            labels.append(value.strip())
        texts.append(text)
        sources.append(f"row {number}")
    if not texts:
        reasons = dict(Counter(s.reason for s in skipped))
        raise DataError(f"{label}: no usable rows ({len(rows)} data rows, all skipped: {reasons})")
    if label_idx is not None:
        _check_labels(label, header[label_idx], labels)
        check_classes(label, len(set(labels)))
    return Domain(
        name=name or path.stem,
        modality="text",
        samples=texts,
        labels=labels if label_idx is not None else None,
        sources=sources,
        skipped=skipped,
    )


def _resolve(
    label: str, header: list[str], wanted: str | None, guesses, role: str, optional: bool = False
) -> int | None:
    """Find a column: exact name, then trimmed case-insensitive, else the first matching guess."""
    if wanted is not None:
        if wanted in header:
            return header.index(wanted)
        key = wanted.strip().casefold()
        for i, column in enumerate(header):
            if column.strip().casefold() == key:
                return i
        raise DataError(f"{label}: column {wanted!r} not found; found: {header}")
    folded = [c.strip().casefold() for c in header]
    for guess in guesses:
        if guess in folded:
            return folded.index(guess)
    if optional:
        return None
    raise DataError(
        f"{label}: no {role} column found (tried {list(guesses)}); found: {header}; choose the {role} column"
    )


def _clean(value) -> str | None:
    """Return the value as a string, or None when it is empty, whitespace or a missing marker."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    value = str(value)
    stripped = value.strip()
    if not stripped or stripped in MISSING_TOKENS:
        return None
    return value


def _check_labels(label: str, column: str, labels: list[str]) -> None:
    """Refuse a label column that holds free text rather than a few classes."""
    distinct = len(set(labels))
    if distinct > FREE_TEXT_MIN_CLASSES and distinct > 0.5 * len(labels):
        raise DataError(
            f"{label}: column {column!r} looks like free text, not labels "
            f"({distinct:,} distinct values in {len(labels):,} rows); choose another label column"
        )
