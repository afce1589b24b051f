"""Raw table parsing: bytes to a header and rows of strings, with errors naming the line.

Supported by extension: ``.csv`` (comma, or semicolon when the header has no comma),
``.tsv`` (tab), ``.jsonl``/``.json`` (JSON Lines, or one JSON array of objects) and
``.parquet``. Files are sniffed by their first bytes so that an Excel workbook or a
Parquet file saved under the wrong name gets a clear message.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from pathlib import Path

from tlcore.data import limits
from tlcore.data.parquet_table import parquet_schema, parse_parquet
from tlcore.data.table_cells import check_header, to_str
from tlcore.errors import DataError

EXTENSIONS = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
FIELD_SIZE_LIMIT = 64 * 1024**2
HEADER_PROBE_BYTES = 1024**2

_MAGIC = (
    (b"PK\x03\x04", "an Excel/ZIP file; export it as CSV (UTF-8)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) file; export it as CSV (UTF-8)"),
    (b"PAR1", "a Parquet file; rename it with the .parquet extension"),
    (b"%PDF", "a PDF document, not a table"),
    (b"\x1f\x8b", "a gzip file; decompress it first"),
)


def read_header(path: Path) -> list[str]:
    """Return the column names of a table file."""
    kind = _kind(path)
    if kind == "parquet":
        return [str(c) for c in parquet_schema(path)]
    if kind == "json":
        header, _ = _parse_json(path, _decode(path, _probe(path)), max_rows=1000)
        return header
    text = _decode(path, _probe(path))
    return _parse_csv(path, text, kind, max_rows=0)[0]


def read_rows(path: Path, max_rows: int | None = None) -> tuple[list[str], list[list]]:
    """Read a whole table.

    Args:
        path: The table file.
        max_rows: Most data rows accepted (default ``TL_MAX_ROWS``, :mod:`tlcore.data.limits`).

    Returns:
        ``(header, rows)`` where each row is a list of ``str`` or ``None`` (missing).

    Raises:
        DataError: Missing file, unsupported format, bad encoding, parse error,
            duplicate column names, or more than ``max_rows`` rows.
    """
    kind = _kind(path)
    max_rows = max_rows or limits.max_rows()
    if kind == "parquet":
        header, rows = parse_parquet(path, max_rows)
    else:
        head = _probe(path)
        if kind == "json" and _decode(path, head).lstrip().startswith("["):
            with open(path, "rb") as handle:  # one JSON array: parsed whole (its rows cannot be streamed)
                header, rows = _parse_json(path, _decode(path, handle.read()), max_rows)
        else:  # streamed: rows and cells are checked as they are read, the file is never held whole
            with _open_text(path, head) as handle:
                try:
                    if kind == "json":
                        header, rows = _parse_json(path, handle, max_rows)
                    else:
                        header, rows = _parse_csv(path, handle, kind, max_rows, first_line=_first_line(path, head))
                except UnicodeDecodeError:
                    _find_bad_encoding(path)
                    raise
    if len(rows) > max_rows:
        raise DataError(f"{path.name}: more than {max_rows:,} rows (the limit); use a smaller file")
    return header, rows


def _kind(path: Path) -> str:
    """Map the extension to a parser name, checking that the file exists."""
    if not path.is_file():
        raise DataError(f"{path.name}: file not found")
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise DataError(f"{path.name}: unsupported table format {suffix!r}; supported: {', '.join(EXTENSIONS)}")
    return {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}.get(suffix, "json")


def _probe(path: Path) -> bytes:
    """Read the beginning of a file, cut at the last complete line."""
    with open(path, "rb") as handle:
        data = handle.read(HEADER_PROBE_BYTES + 1)
    _sniff(path, data[:8])
    if len(data) > HEADER_PROBE_BYTES:
        data = data[: data.rfind(b"\n", 0, HEADER_PROBE_BYTES) + 1] or data[:HEADER_PROBE_BYTES]
    return data


def _sniff(path: Path, head: bytes) -> None:
    """Refuse binary formats saved under a text extension."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise DataError(f"{path.name}: this looks like {what}")
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DataError(f"{path.name}: this looks like a binary file (NUL bytes), not a UTF-8 text table")


def _decode(path: Path, data: bytes) -> str:
    """Decode UTF-8 (BOM allowed) or BOM-marked UTF-16; report the line of the first bad byte."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path.name}: invalid UTF-16 at byte offset {exc.start}; re-save as UTF-8") from exc
    offset = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        position = exc.start + offset
        line = data.count(b"\n", 0, position) + 1
        raise DataError(
            f"{path.name}: invalid UTF-8 at line {line} (byte offset {position}); re-save as UTF-8"
        ) from exc


def _open_text(path: Path, head: bytes):
    """The file as a text stream in its encoding (UTF-8, UTF-8 with BOM, BOM-marked UTF-16), for the csv module."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    return open(path, encoding=encoding, errors="strict", newline="")


def _first_line(path: Path, head: bytes) -> str:
    return _decode(path, head).split("\n", 1)[0]


def _find_bad_encoding(path: Path) -> None:
    """Raise the line and byte offset of the first invalid byte, reading the file in chunks."""
    with open(path, "rb") as handle:
        first = handle.read(2)
        if first in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise DataError(f"{path.name}: invalid UTF-16; re-save as UTF-8")
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset, line = 0, 1
        while True:
            chunk = handle.read(1024 * 1024)
            pending = len(decoder.getstate()[0])  # bytes of a character cut at the previous chunk's end
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                position = max(0, offset - pending + exc.start)
                line += chunk.count(b"\n", 0, max(0, position - offset))
                raise DataError(f"{path.name}: invalid UTF-8 at line {line} (byte offset {position}); "
                                "re-save as UTF-8") from None
            if not chunk:
                return
            line += chunk.count(b"\n")
            offset += len(chunk)


def _parse_csv(path: Path, text, kind: str, max_rows: int, first_line: str | None = None) -> tuple[list[str], list[list]]:
    """Parse delimited text strictly (a string, or a text stream read row by row); ``max_rows=0`` reads the
    header only."""
    cell_cap = min(FIELD_SIZE_LIMIT, limits.max_cell_bytes())
    csv.field_size_limit(cell_cap)
    if isinstance(text, str):
        first_line = text.split("\n", 1)[0]
        text = io.StringIO(text, newline="")
    first_line = first_line or ""
    delimiter = "\t" if kind == "tsv" else ("," if "," in first_line or ";" not in first_line else ";")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    rows: list[list] = []
    header: list[str] | None = None
    while True:
        start_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise DataError(f"{path.name}: line {start_line}: a cell is longer than the limit of {cell_cap:,} "
                                "characters (TL_MAX_CELL_BYTES)") from None
            problem = "unbalanced quote" if "end of data" in str(exc) else str(exc)
            raise DataError(f"{path.name}: cannot parse line {start_line}: {problem}") from exc
        if not row:
            continue
        if header is None:
            header = check_header(path, row)
            if max_rows == 0:
                break
            continue
        if len(row) > len(header):
            raise DataError(
                f"{path.name}: line {start_line} has {len(row)} fields but the header has {len(header)}"
            )
        rows.append(row)
        if len(rows) > max_rows:
            break
    if header is None:
        raise DataError(f"{path.name}: the file is empty (no header row)")
    return header, rows


def _parse_json(path: Path, text, max_rows: int) -> tuple[list[str], list[list]]:
    """Parse JSON Lines (a string, or a text stream read line by line) or a JSON array (a string) of objects
    into a header and string rows."""
    stripped = text.lstrip() if isinstance(text, str) else ""
    cell_cap = limits.max_cell_bytes()
    if stripped.startswith("["):
        try:
            loaded = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path.name}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
        records = list(enumerate(loaded, start=1))
    else:
        records = _json_lines(path, text.splitlines() if isinstance(text, str) else text, max_rows, cell_cap)
    header: list[str] = []
    for lineno, record in records:
        if not isinstance(record, dict):
            raise DataError(f"{path.name}: line {lineno} is not a JSON object")
        header.extend(k for k in record if k not in header)
        long = next((k for k, v in record.items() if isinstance(v, str) and len(v) > cell_cap), None)
        if long is not None:
            raise DataError(f"{path.name}: line {lineno}: value {long!r} is longer than the limit of "
                            f"{cell_cap:,} characters (TL_MAX_CELL_BYTES)")
    if not header:
        raise DataError(f"{path.name}: the file holds no records")
    rows = [[to_str(record.get(k)) for k in header] for _, record in records]
    return header, rows


def _json_lines(path: Path, lines, max_rows: int, cell_cap: int) -> list[tuple[int, object]]:
    """``(line number, parsed record)`` of JSON Lines, blank lines skipped, at most ``max_rows + 1`` records."""
    records: list[tuple[int, object]] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > 64 * cell_cap:  # one record far over any cell: refused before it is parsed
            raise DataError(f"{path.name}: line {lineno} is {len(line):,} characters long, more than the "
                            f"limit of {cell_cap:,} per value (TL_MAX_CELL_BYTES)")
        try:
            records.append((lineno, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path.name}: invalid JSON at line {lineno}: {exc.msg}") from exc
        if len(records) > max_rows:
            break
    return records
