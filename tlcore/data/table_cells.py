"""Checks and conversions shared by the table parsers (``tlcore.data.formats`` for CSV/TSV/JSON,
``tlcore.data.parquet_table`` for Parquet): the header check and a cell value as a string."""
from __future__ import annotations

import json
from pathlib import Path

from tlcore.errors import DataError


def check_header(path: Path, header: list[str]) -> list[str]:
    """Strip a stray BOM from the first name and refuse duplicate column names."""
    header = [h.lstrip("\ufeff") if i == 0 else h for i, h in enumerate(header)]
    seen: dict[str, int] = {}
    for column in header:
        key = column.strip()
        if key and key in seen:
            raise DataError(f"{path.name}: duplicate column name {column!r} in the header: {header}")
        seen[key] = 1
    return header


def to_str(value) -> str | None:
    """Turn a JSON or Parquet value into a string, keeping missing values as None."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
