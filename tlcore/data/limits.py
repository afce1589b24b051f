"""Hard limits on what a domain file may hold, checked from metadata before anything is decoded (issue 22 item 1).

Each limit is a setting of :mod:`tlcore.settings` (type, default, help; the README's Configuration table). A file over
a limit is refused with one line naming the file, the number found and the variable to raise.

| variable | default | checked |
|---|---|---|
| ``TL_MAX_ROWS`` | 1,000,000 | table rows: the Parquet footer's row count before reading; CSV/JSONL while parsing |
| ``TL_MAX_CELL_BYTES`` | 1,048,576 | one table cell (CSV/TSV field, JSON value, Parquet column chunk per row) |
| ``TL_MAX_TABLE_MB`` | 2048 | a Parquet file's uncompressed size from its footer (all column chunks) |
| ``TL_MAX_CLASSES`` | 1000 | distinct labels of a domain (text and images): confusion matrices grow with its square |
| ``TL_MAX_IMAGES`` | 100,000 | image files in one archive or folder |
| ``TL_MAX_DECODED_MPIXELS`` | 300 | decoded pixels of a whole archive (millions, at the stored size: each image downscaled to
  ``max_side``), summed from the image headers before the first decode |
| ``TL_PARSE_MEMORY_MB`` | 2560 | address space of the child process that parses an upload, a server folder or a
  peeked table (``RLIMIT_AS``, :mod:`tlcore.data.sandbox`); over it the child is stopped and the file refused |
| ``TL_PARSE_CPU_S`` | 300 | CPU seconds of that child (``RLIMIT_CPU``); a wall-clock stop at twice this plus 30 s |
"""
from __future__ import annotations

from tlcore import settings

NAMES = ("TL_MAX_ROWS", "TL_MAX_CELL_BYTES", "TL_MAX_TABLE_MB", "TL_MAX_CLASSES", "TL_MAX_IMAGES",
         "TL_MAX_DECODED_MPIXELS", "TL_PARSE_MEMORY_MB", "TL_PARSE_CPU_S")
DEFAULTS = {name: settings.setting(name).default for name in NAMES}  # defaults and help: tlcore/settings.py


def limit(name: str) -> int:
    """The limit ``name`` (one of :data:`DEFAULTS`): the environment's positive integer, else the default."""
    value = settings.get_int(name)
    return value if value > 0 else DEFAULTS[name]


def max_rows() -> int:
    return limit("TL_MAX_ROWS")


def max_cell_bytes() -> int:
    return limit("TL_MAX_CELL_BYTES")


def max_classes() -> int:
    return limit("TL_MAX_CLASSES")


def check_classes(label: str, n: int) -> None:
    """Refuse a domain with more than ``TL_MAX_CLASSES`` distinct labels."""
    from tlcore.errors import DataError

    cap = max_classes()
    if n > cap:
        raise DataError(f"{label}: {n:,} distinct labels, more than the limit of {cap:,} classes "
                        "(TL_MAX_CLASSES); is the label column right?")
