"""Issue 22 items 1-3 and 8: inputs under hard limits, checked from metadata before anything is decoded.

Hidden-size fixtures are generated here: a small Parquet file of millions of dictionary-encoded rows, a ZIP of tens
of thousands of tiny PNGs, a CSV with one 10 MB cell, a CSV with thousands of labels."""
from __future__ import annotations

import io
import json
import resource
import zipfile

import pytest
from PIL import Image

from tlcore.data import archive, formats
from tlcore.data.archive import read_images
from tlcore.data.table import read_text
from tlcore.errors import DataError, UnsafeArchive


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture
def parquet_bomb(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    n = 3_000_000
    indices = pa.array([0, 1] * (n // 2), type=pa.int32())
    labels = pa.DictionaryArray.from_arrays(indices, pa.array(["pos", "neg"]))
    texts = pa.DictionaryArray.from_arrays(pa.array([0] * n, type=pa.int32()), pa.array(["x" * 200]))
    path = tmp_path / "bomb.parquet"
    pq.write_table(pa.table({"text": texts, "label": labels}), path)
    assert path.stat().st_size < 2_000_000
    return path


def test_item1_parquet_rows_refused_from_the_footer_before_reading(parquet_bomb, monkeypatch):
    import pyarrow.parquet as pq

    def no_read(*a, **k):
        raise AssertionError("the table was read before the row limit was checked")

    monkeypatch.setattr(pq, "read_table", no_read)
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", no_read)
    before = _peak_mb()
    with pytest.raises(DataError, match=r"bomb.parquet: 3,000,000 rows, more than 1,000,000 rows .*TL_MAX_ROWS"):
        read_text(parquet_bomb)
    assert _peak_mb() - before < 300  # the time (< 10 s, issue 22): bench/upload_memory.py


def test_item1_parquet_rows_limit_is_a_setting(parquet_bomb, monkeypatch):
    monkeypatch.setenv("TL_MAX_ROWS", "100")
    with pytest.raises(DataError, match="3,000,000 rows, more than 100 rows"):
        read_text(parquet_bomb)


def test_item1_parquet_dictionary_cell_is_measured_without_expanding(tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 200_000  # under the row limit, but each row is the same 2 MB value: 400 GB once expanded
    texts = pa.DictionaryArray.from_arrays(pa.array([0] * n, type=pa.int32()), pa.array(["y" * 2_000_000]))
    labels = pa.DictionaryArray.from_arrays(pa.array([0, 1] * (n // 2), type=pa.int32()), pa.array(["a", "b"]))
    path = tmp_path / "wide.parquet"
    pq.write_table(pa.table({"text": texts, "label": labels}), path)
    before = _peak_mb()
    with pytest.raises(DataError, match=r"wide.parquet: column 'text' holds a value of 2,000,000 bytes.*"
                                        r"TL_MAX_CELL_BYTES"):
        read_text(path)
    assert _peak_mb() - before < 300  # the time (< 10 s, issue 22): bench/upload_memory.py
    small = tmp_path / "ok.parquet"
    pq.write_table(pa.table({"text": ["good", "bad", "fine"], "label": ["p", "n", "p"]}), small)
    assert read_text(small).samples == ["good", "bad", "fine"]  # a normal file still reads


def test_item3_csv_cell_of_10_mb_refused_naming_the_line(tmp_path):
    path = tmp_path / "cell.csv"
    path.write_text("text,label\nshort,a\n\"" + "z" * 10_000_000 + "\",b\nok,a\n")
    with pytest.raises(DataError, match=r"cell.csv: line 3: a cell is longer than the limit of 1,048,576 "
                                        r"characters \(TL_MAX_CELL_BYTES\)"):
        read_text(path)
    js = tmp_path / "cell.jsonl"
    js.write_text(json.dumps({"text": "ok", "label": "a"}) + "\n" + json.dumps({"text": "z" * 2_000_000,
                                                                               "label": "b"}) + "\n")
    with pytest.raises(DataError, match=r"cell.jsonl: line 2: value 'text' is longer than the limit"):
        read_text(js)


def test_item3_predict_input_with_a_10_mb_cell_is_refused(tmp_path):
    from tlcore.export.inputs import read_inputs

    path = tmp_path / "in.csv"
    path.write_text("text\n\"" + "z" * 10_000_000 + "\"\n")
    with pytest.raises(DataError, match="TL_MAX_CELL_BYTES"):
        read_inputs(str(path), "text", None, 64)


def test_item8_class_count_capped_for_text(tmp_path, monkeypatch):
    rows = "\n".join(f"some words number {i},label{i // 2}" for i in range(6000))
    path = tmp_path / "many.csv"
    path.write_text("text,label\n" + rows + "\n")  # 3,000 labels in 6,000 rows: not "free text" by ratio
    monkeypatch.setenv("TL_MAX_CLASSES", "1000")
    with pytest.raises(DataError, match=r"many.csv: 3,000 distinct labels, more than the limit of 1,000 classes "
                                        r"\(TL_MAX_CLASSES\)"):
        read_text(path)
    monkeypatch.setenv("TL_MAX_CLASSES", "5000")
    assert len(set(read_text(path).labels)) == 3000


def _png(size=(256, 256)) -> bytes:
    buf = io.BytesIO()
    Image.new("1", size).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def zip_bomb(tmp_path):
    png = _png()
    path = tmp_path / "pixels.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(30_000):
            zf.writestr(f"c{i % 2}/{i}.png", png)
    return path


def test_item2_zip_of_30000_tiny_pngs_refused_from_headers_before_any_decode(zip_bomb, monkeypatch):
    def no_decode(*a, **k):
        raise AssertionError("an image was decoded before the pixel budget was checked")

    monkeypatch.setattr(archive, "decode_image", no_decode)
    before = _peak_mb()
    with pytest.raises(UnsafeArchive, match=r"pixels.zip: the images decode to more than 300 million pixels at 256 "
                                            r"px .*TL_MAX_DECODED_MPIXELS"):
        read_images(zip_bomb)
    assert _peak_mb() - before < 300  # the time (< 10 s, issue 22): bench/upload_memory.py


def test_item2_image_count_and_class_count_limits(tmp_path, monkeypatch):
    png = _png((8, 8))
    path = tmp_path / "classes.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(60):
            zf.writestr(f"class{i}/{i}.png", png)
    monkeypatch.setenv("TL_MAX_CLASSES", "50")
    with pytest.raises(DataError, match=r"classes.zip: 60 distinct labels, more than the limit of 50"):
        read_images(path)
    monkeypatch.setenv("TL_MAX_CLASSES", "100")
    monkeypatch.setenv("TL_MAX_IMAGES", "59")
    with pytest.raises(UnsafeArchive, match=r"60 image files, more than the limit of 59 \(TL_MAX_IMAGES\)"):
        read_images(path)
    monkeypatch.setenv("TL_MAX_IMAGES", "60")
    assert len(read_images(path).samples) == 60


def test_item2_predict_inputs_use_the_same_pixel_budget(zip_bomb, monkeypatch):
    from tlcore.export.inputs import read_inputs

    monkeypatch.setenv("TL_MAX_DECODED_MPIXELS", "10")
    with pytest.raises(UnsafeArchive, match="TL_MAX_DECODED_MPIXELS"):
        read_inputs(str(zip_bomb), "image", None, 256)


def test_limits_defaults_are_documented():
    from tlcore.data.limits import DEFAULTS
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in DEFAULTS:
        assert f"`{name}`" in readme, name
    assert formats.read_rows.__defaults__ == (None,)
