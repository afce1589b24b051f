"""Issue 22 item 1 (the child process): column peeking, upload validation and server-folder registration parse the
user's file in ``tlcore.data.sandbox``, a child with an address-space and a CPU-time limit, reported in one line
when it goes over; CSV/JSONL rows are streamed, so the row and cell limits hold before the file is held whole."""
from __future__ import annotations

import io
import resource
import time
import tracemalloc

import pytest

from tlcore.data import formats, sandbox
from tlcore.data.library import DomainLibrary
from tlcore.errors import DataError


@pytest.fixture
def lib(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_HOME", str(tmp_path / "home"))
    return DomainLibrary(tmp_path / "home")


def _expanding_parquet(path, n=3_000_000, width=200) -> bytes:
    """A ~100 KB Parquet file of ``n`` dictionary-encoded rows: ~``n * width`` bytes once expanded."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    texts = pa.DictionaryArray.from_arrays(pa.array(range(n), type=pa.int32()).to_numpy() % 2,
                                           pa.array(["x" * width, "y" * width]))
    labels = pa.DictionaryArray.from_arrays(pa.array([0, 1] * (n // 2), type=pa.int32()), pa.array(["pos", "neg"]))
    pq.write_table(pa.table({"text": texts, "label": labels}), path)
    return path.read_bytes()


def test_item1_child_parquet_upload_over_the_memory_limit_is_refused_in_one_line(lib, tmp_path, monkeypatch):
    data = _expanding_parquet(tmp_path / "src.parquet")
    assert len(data) < 1_000_000
    monkeypatch.setenv("TL_MAX_ROWS", "10000000")  # the row limit lets it through: only the memory limit stops it
    monkeypatch.setenv("TL_PARSE_MEMORY_MB", "700")
    before, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.monotonic()
    with pytest.raises(DataError) as err:
        lib.ingest_upload("bomb", "reviews.parquet", io.BytesIO(data))
    assert str(err.value) == "parsing reviews.parquet used more than 700 MB of memory; limit TL_PARSE_MEMORY_MB"
    assert time.monotonic() - t0 < 30
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before < 100, "parsed in the caller"
    assert lib.list() == [] and [p for p in lib.dir.iterdir()] == []


def test_item1_child_small_uploads_pass_through_the_child_and_report_its_peak(lib, tmp_path, monkeypatch):
    data = _expanding_parquet(tmp_path / "src.parquet", n=2000, width=10)
    entry = lib.ingest_upload("small", "small.parquet", io.BytesIO(data))
    assert entry["n"] == 2000 and sorted(entry["classes"]) == ["neg", "pos"]
    assert sandbox.last_child_peak_mb and 20 < sandbox.last_child_peak_mb < 1500


def test_item1_child_cpu_limit_stops_a_long_parse_in_one_line(tmp_path, monkeypatch):
    path = tmp_path / "slow.parquet"
    _expanding_parquet(path, n=6_000_000, width=4)
    monkeypatch.setenv("TL_MAX_ROWS", "10000000")
    monkeypatch.setenv("TL_PARSE_CPU_S", "1")
    with pytest.raises(DataError, match=r"^parsing slow.parquet used more than 1 s of CPU time; limit TL_PARSE_CPU_S$"):
        sandbox.run("inspect", path, "slow.parquet", name="slow")


def test_item1_child_column_peek_runs_under_the_limit(lib, monkeypatch):
    csv = b"text,label\nhello,pos\n"
    assert lib.upload_columns("a.csv", io.BytesIO(csv)) == ["text", "label"]
    monkeypatch.setenv("TL_PARSE_MEMORY_MB", "40")  # too small for the child to even import its readers
    with pytest.raises(DataError, match=r"^parsing b.csv used more than 40 MB of memory; limit TL_PARSE_MEMORY_MB$"):
        lib.upload_columns("b.csv", io.BytesIO(csv + b"other,neg\n"))


def test_item1_child_server_folder_registration_runs_under_the_limit(lib, tmp_path, monkeypatch):
    imports = tmp_path / "imports"
    imports.mkdir()
    (imports / "t.csv").write_text("text,label\nhello,pos\nbye,neg\n")
    monkeypatch.setenv("TL_PARSE_MEMORY_MB", "40")
    with pytest.raises(DataError, match=r"^parsing t.csv used more than 40 MB of memory"):
        lib.register_folder("t", imports / "t.csv", allowed=[imports])
    monkeypatch.delenv("TL_PARSE_MEMORY_MB")
    assert lib.register_folder("t", imports / "t.csv", allowed=[imports])["n"] == 2


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_item1_child_csv_and_jsonl_rows_are_streamed_not_read_whole(tmp_path, monkeypatch, kind):
    path = tmp_path / f"big.{kind}"
    with open(path, "w") as fh:
        fh.write("text,label\n" if kind == "csv" else "")
        for i in range(200_000):  # ~20 MB
            fh.write(f"review number {i} {'w' * 70},pos\n" if kind == "csv"
                     else f'{{"text": "review number {i} {"w" * 60}", "label": "pos"}}\n')
    monkeypatch.setenv("TL_MAX_ROWS", "10")
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="more than 10 rows"):
            formats.read_rows(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"{peak / 2**20:.0f} MB traced: the file was held whole"


def test_item1_child_streamed_csv_names_the_line_of_a_bad_byte_past_the_first_megabyte(tmp_path):
    path = tmp_path / "bad.csv"
    rows = b"".join(f"row {i} {'x' * 90},pos\n".encode() for i in range(30_000))  # ~3 MB
    path.write_bytes(b"text,label\n" + rows + b"caf\xe9,neg\n")
    with pytest.raises(DataError, match=r"bad.csv: invalid UTF-8 at line 30002 \(byte offset \d+\)"):
        formats.read_rows(path)
    path.write_bytes(b"\xef\xbb\xbftext,label\nhello,pos\n")  # a UTF-8 BOM is still accepted
    assert formats.read_rows(path) == (["text", "label"], [["hello", "pos"]])
