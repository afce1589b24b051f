"""CSV formula-injection neutralisation for every exported CSV (OWASP "CSV Injection").

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula by
spreadsheets (``=HYPERLINK("http://evil","click")``). Such cells get a leading apostrophe, which spreadsheets
show as text; plain numbers (``-0.5``, ``+3``) are left alone. Files stored in run folders keep the original
text (the engine reads them back); the neutralised copy is what users download or export.
"""
from __future__ import annotations

import csv
import io
import re

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value):
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _NUMBER.match(value):
        return "'" + value
    return value


def safe_frame(df):
    """A copy of a pandas DataFrame with every text cell (and column name) neutralised."""
    out = df.map(safe_cell) if hasattr(df, "map") else df.applymap(safe_cell)
    out.columns = [safe_cell(c) for c in out.columns]
    return out


def safe_csv_bytes(data: bytes, encoding: str = "utf-8") -> bytes:
    """Rewrite CSV bytes with every cell neutralised (quoting kept valid)."""
    text = data.decode(encoding, errors="replace")
    buf = io.StringIO()
    writer = csv.writer(buf)  # RFC 4180 line ends: a cell holding CR or LF is quoted
    for row in csv.reader(io.StringIO(text, newline="")):
        writer.writerow([safe_cell(c) for c in row])
    return buf.getvalue().encode(encoding)
