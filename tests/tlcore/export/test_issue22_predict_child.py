"""Issue 22 items 1 and 3 (batch prediction): ``predict`` reads its CSV/Parquet/ZIP input in the limited parse child
(``tlcore.export.input_child`` through ``tlcore.data.sandbox``: RLIMIT_AS/CPU, one line when over), with the same
results and messages as before; a huge cell is refused by the cell limit or, when the limit allows it, cut in the
output's input column instead of copied whole."""
from __future__ import annotations

import csv
import io
import resource
import time
import zipfile

import pytest
from PIL import Image

from tests.tlcore.data.test_issue22_child import _expanding_parquet
from tests.tlcore.export.artifacts import artifact_run
from tlcore.data import sandbox
from tlcore.errors import DataError, TLError
from tlcore.export.inputs import MAX_NAME_CHARS
from tlcore.export.predict import Predictor, predict_to_csv


@pytest.fixture
def text_run(store):
    return artifact_run(store, "tiny_text", "reviews")[0]


@pytest.fixture
def children(monkeypatch):
    """The modules of every parse child started (the real children run)."""
    started = []
    real = sandbox.run

    def spy(op, path, display, module="tlcore.data.sandbox_child", **kw):
        started.append(module)
        return real(op, path, display, module=module, **kw)

    monkeypatch.setattr(sandbox, "run", spy)
    return started


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_item3_predict_input_is_parsed_in_the_limited_child(store, text_run, tmp_path, children):
    (tmp_path / "t.csv").write_text("id,body\n1,a great knife\n2,it broke on day one\n3,fine\n")
    out = predict_to_csv(store, text_run, str(tmp_path / "t.csv"), tmp_path / "a.csv", text_column="body")
    assert children == ["tlcore.export.input_child"] and out["n"] == 3
    assert sandbox.last_child_peak_mb and sandbox.last_child_peak_mb < 1500
    pred = Predictor.from_run(store, text_run)
    here = pred.read(str(tmp_path / "t.csv"), "body")  # the same file read in this process
    rows = _rows(tmp_path / "a.csv")
    assert [r["input"] for r in rows] == here.names
    top = pred.top(pred.predict_proba(here.samples), 3)
    assert [r["predicted"] for r in rows] == [t[0][0] for t in top]
    assert not list((store.root / "cache" / "inputs").iterdir())  # the child's folder is removed
    predict_to_csv(store, text_run, "a sentence, not a file", tmp_path / "s.csv")  # nothing to parse: no child
    assert children == ["tlcore.export.input_child"]


def test_item3_predict_images_from_a_zip_come_back_mapped_and_agree(store, tmp_path, children):
    image_run = artifact_run(store, "tiny_cnn", "digits", bottleneck=8)[0]
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as z:
        for i, color in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
            buf = io.BytesIO()
            Image.new("RGB", (20, 14), color).save(buf, "PNG")
            z.writestr(f"x/{i}.png", buf.getvalue())
    predict_to_csv(store, image_run, str(tmp_path / "imgs.zip"), tmp_path / "z.csv", top_k=4)
    assert children == ["tlcore.export.input_child"]
    pred = Predictor.from_run(store, image_run)
    here = pred.read(str(tmp_path / "imgs.zip"))
    rows = _rows(tmp_path / "z.csv")
    assert [r["input"] for r in rows] == ["x/0.png", "x/1.png", "x/2.png"]
    probs = pred.predict_proba(here.samples)
    assert [float(r["probability"]) for r in rows] == [round(float(t[0][1]), 6) for t in pred.top(probs, 4)]


def test_item3_predict_input_over_the_memory_limit_is_refused_in_one_line(store, text_run, tmp_path, monkeypatch):
    _expanding_parquet(tmp_path / "in.parquet")
    monkeypatch.setenv("TL_MAX_ROWS", "10000000")  # the row limit lets it through: only the child's limit stops it
    monkeypatch.setenv("TL_PARSE_MEMORY_MB", "700")
    before, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.monotonic()
    with pytest.raises(DataError) as err:
        predict_to_csv(store, text_run, str(tmp_path / "in.parquet"), tmp_path / "o.csv")
    assert str(err.value) == "parsing in.parquet used more than 700 MB of memory; limit TL_PARSE_MEMORY_MB"
    assert time.monotonic() - t0 < 60
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before < 100, "parsed in the caller"
    assert not (tmp_path / "o.csv").exists()


def test_item3_predict_csv_with_a_10_mb_cell_is_refused_in_the_child(store, text_run, tmp_path, children):
    (tmp_path / "in.csv").write_text("text\nshort\n\"" + "z" * 10_000_000 + "\"\n")
    with pytest.raises(TLError, match=r"in.csv: line 3: a cell is longer than the limit .*TL_MAX_CELL_BYTES"):
        predict_to_csv(store, text_run, str(tmp_path / "in.csv"), tmp_path / "o.csv")
    assert children == ["tlcore.export.input_child"] and not (tmp_path / "o.csv").exists()


def test_item3_predict_10_mb_cell_allowed_by_the_limit_is_not_copied_whole(store, text_run, tmp_path, monkeypatch):
    monkeypatch.setenv("TL_MAX_CELL_BYTES", str(16 * 2**20))
    (tmp_path / "in.csv").write_text("text\nshort\n\"" + "z" * 10_000_000 + "\"\n")
    predict_to_csv(store, text_run, str(tmp_path / "in.csv"), tmp_path / "o.csv")
    assert (tmp_path / "o.csv").stat().st_size < 10_000
    rows = _rows(tmp_path / "o.csv")
    assert rows[0]["input"] == "short"
    assert rows[1]["input"] == "z" * MAX_NAME_CHARS + "… (10,000,000 characters)"
