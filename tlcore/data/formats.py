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
        return [str(c) for c in _parquet_schema(path)]
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
        header, rows = _parse_parquet(path, max_rows)
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
            header = _check_header(path, row)
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


def _check_header(path: Path, header: list[str]) -> list[str]:
    """Strip a stray BOM from the first name and refuse duplicate column names."""
    header = [h.lstrip("\ufeff") if i == 0 else h for i, h in enumerate(header)]
    seen: dict[str, int] = {}
    for column in header:
        key = column.strip()
        if key and key in seen:
            raise DataError(f"{path.name}: duplicate column name {column!r} in the header: {header}")
        seen[key] = 1
    return header


def _parse_json(path: Path, text, max_rows: int) -> tuple[list[str], list[list]]:
    """Parse JSON Lines (a string, or a text stream read line by line) or a JSON array (a string) of objects
    into a header and string rows."""
    records: list[tuple[int, object]] = []
    stripped = text.lstrip() if isinstance(text, str) else ""
    lines = text.splitlines() if isinstance(text, str) else text
    cell_cap = limits.max_cell_bytes()
    if stripped.startswith("["):
        try:
            loaded = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path.name}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
        records = [(i, r) for i, r in enumerate(loaded, start=1)]
    else:
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
    header: list[str] = []
    for lineno, record in records:
        if not isinstance(record, dict):
            raise DataError(f"{path.name}: line {lineno} is not a JSON object")
        header.extend(k for k in record if k not in header)
        for key, value in record.items():
            if isinstance(value, str) and len(value) > cell_cap:
                raise DataError(f"{path.name}: line {lineno}: value {key!r} is longer than the limit of "
                                f"{cell_cap:,} characters (TL_MAX_CELL_BYTES)")
    if not header:
        raise DataError(f"{path.name}: the file holds no records")
    rows = [[_to_str(record.get(k)) for k in header] for _, record in records]
    return header, rows


def _to_str(value) -> str | None:
    """Turn a JSON or Parquet value into a string, keeping missing values as None."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _parquet_schema(path: Path) -> list[str]:
    """Read only the column names of a Parquet file."""
    import pyarrow.parquet as pq

    _check_parquet_magic(path)
    try:
        return list(pq.read_schema(path).names)
    except MemoryError:
        raise
    except Exception as exc:
        raise DataError(f"{path.name}: not a valid Parquet file ({exc})") from exc


def _parse_parquet(path: Path, max_rows: int) -> tuple[list[str], list[list]]:
    """Read a Parquet file with every value as a string or None.

    The footer is checked first (row count, uncompressed size), then each batch's decoded cell sizes from the
    dictionary/offsets before any value becomes a Python string: a small file of millions of dictionary-encoded
    rows is refused without being expanded (issue 22 item 1).
    """
    import pyarrow.parquet as pq

    _check_parquet_magic(path)
    try:
        pf = pq.ParquetFile(path)
    except MemoryError:
        raise
    except Exception as exc:
        raise DataError(f"{path.name}: not a valid Parquet file ({exc})") from exc
    meta = pf.metadata
    if meta.num_rows > max_rows:
        raise DataError(f"{path.name}: {meta.num_rows:,} rows, more than {max_rows:,} rows (the limit, "
                        "TL_MAX_ROWS); use a smaller file")
    cap_mb = limits.limit("TL_MAX_TABLE_MB")
    stored = sum(meta.row_group(i).column(j).total_uncompressed_size
                 for i in range(meta.num_row_groups) for j in range(meta.num_columns))
    if stored > cap_mb * 1e6:
        raise DataError(f"{path.name}: {stored / 1e6:,.0f} MB uncompressed, more than the limit of {cap_mb:,} MB "
                        "(TL_MAX_TABLE_MB)")
    header = [str(c) for c in pf.schema_arrow.names]
    _check_header(path, header)
    cell_cap, decoded = limits.max_cell_bytes(), 0
    rows: list[list] = []
    try:
        for batch in pf.iter_batches(batch_size=16_384):
            for j, column in enumerate(batch.columns):
                longest, total = _string_sizes(column)
                if longest > cell_cap:
                    raise DataError(f"{path.name}: column {header[j]!r} holds a value of {longest:,} bytes, more "
                                    f"than the limit of {cell_cap:,} (TL_MAX_CELL_BYTES)")
                decoded += total
            if decoded > cap_mb * 1e6:
                raise DataError(f"{path.name}: more than {cap_mb:,} MB of text once decoded (TL_MAX_TABLE_MB)")
            columns = [[_to_str(v) for v in column.to_pylist()] for column in batch.columns]
            rows.extend(list(row) for row in zip(*columns))
    except (DataError, MemoryError):  # over the parse child's memory limit: its parent names the limit
        raise
    except Exception as exc:
        raise DataError(f"{path.name}: not a valid Parquet file ({exc})") from exc
    return header, rows


def _string_sizes(column) -> tuple[int, int]:
    """Longest and total decoded byte length of a string/binary column (dictionary-encoded ones measured from
    the dictionary, without expanding it); ``(0, 0)`` for other types."""
    import pyarrow as pa
    import pyarrow.compute as pc

    typ = column.type
    if pa.types.is_dictionary(typ):
        if not (pa.types.is_string(typ.value_type) or pa.types.is_binary(typ.value_type)
                or pa.types.is_large_string(typ.value_type)):
            return 0, 0
        lengths = pc.take(pc.binary_length(column.dictionary), column.indices)
    elif pa.types.is_string(typ) or pa.types.is_binary(typ) or pa.types.is_large_string(typ):
        lengths = pc.binary_length(column)
    else:
        return 0, 0
    longest, total = pc.max(lengths).as_py(), pc.sum(lengths).as_py()
    return int(longest or 0), int(total or 0)


def _check_parquet_magic(path: Path) -> None:
    """Give a clear message for a non-Parquet file named ``.parquet``."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head != b"PAR1":
        raise DataError(f"{path.name}: not a valid Parquet file (it does not start with PAR1)")
