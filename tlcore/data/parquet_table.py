"""Parquet tables: the schema's column names, and rows of strings with the footer and decoded sizes checked
against the limits before any value is expanded (issue 22 item 1)."""
from __future__ import annotations

from pathlib import Path

from tlcore.data import limits
from tlcore.data.table_cells import check_header, to_str
from tlcore.errors import DataError


def parquet_schema(path: Path) -> list[str]:
    """Read only the column names of a Parquet file."""
    import pyarrow.parquet as pq

    _check_parquet_magic(path)
    try:
        return list(pq.read_schema(path).names)
    except MemoryError:
        raise
    except Exception as exc:
        raise DataError(f"{path.name}: not a valid Parquet file ({exc})") from exc


def parse_parquet(path: Path, max_rows: int) -> tuple[list[str], list[list]]:
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
    check_header(path, header)
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
            columns = [[to_str(v) for v in column.to_pylist()] for column in batch.columns]
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
