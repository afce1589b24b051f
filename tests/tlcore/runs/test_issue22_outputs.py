"""Issue 22 item 4 / "Outputs never clobber": ``predict --out``, ``export --out`` and ``report --out`` refuse an
existing path unless ``--force``, and refuse the data root's own files always."""
from __future__ import annotations

import json
import sqlite3

import pytest

from tlcore.__main__ import main
from tlcore.runs.outputs import OutputRefused, check_output

from tests.tlcore.export.artifacts import artifact_run


@pytest.fixture
def text_run(store):
    return artifact_run(store, "tiny_text", "reviews")[0]


def _runs_count(db) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    finally:
        con.close()


def test_item3_predict_out_refuses_tl_db(store, text_run, tl_home, capsys):
    db = tl_home / "tl.db"
    before = db.read_bytes()
    for args in ([], ["--force"]):  # --force never opens the data root
        assert main(["predict", text_run, "lovely pan", "--out", str(db), *args]) == 2
        err = capsys.readouterr().err
        assert f"--out {db}: inside the data root" in err and len(err.strip().splitlines()) == 1
    assert db.read_bytes() == before and _runs_count(db) == 1


@pytest.mark.parametrize("rel", ["runs/{rid}/metrics.json", "runs/../tl.db", "domains/new.csv", "x.csv", "."])
def test_item3_predict_out_refuses_anything_inside_the_data_root(store, text_run, tl_home, rel, capsys):
    out = tl_home / rel.format(rid=text_run)
    assert main(["predict", text_run, "lovely pan", "--out", str(out), "--force"]) == 2
    assert "inside the data root" in capsys.readouterr().err


def test_item3_predict_out_refuses_a_link_into_the_data_root(store, text_run, tl_home, tmp_path, capsys):
    link = tmp_path / "innocent.csv"
    link.symlink_to(tl_home / "tl.db")
    assert main(["predict", text_run, "lovely pan", "--out", str(link), "--force"]) == 2
    assert "inside the data root" in capsys.readouterr().err
    assert _runs_count(tl_home / "tl.db") == 1


def test_item3_predict_out_existing_file_needs_force(store, text_run, tmp_path, capsys):
    out = tmp_path / "mine.csv"
    out.write_text("precious\n")
    assert main(["predict", text_run, "lovely pan", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and out.read_text() == "precious\n"
    assert main(["predict", text_run, "lovely pan", "--out", str(out), "--force"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 1
    assert out.read_text().startswith("input,predicted")


def test_item3_export_out_refuses_data_root_and_existing_export_without_force(store, tl_home, tmp_path):
    pytest.importorskip("safetensors")
    from tlcore.export.formats import ExportError, export_run

    rid = artifact_run(store, "tiny_text", "reviews")[0]
    with pytest.raises(ExportError, match="inside the data root"):
        export_run(store, rid, "safetensors", tl_home / "runs" / rid, force=True)
    with pytest.raises(ExportError, match="inside the data root"):
        export_run(store, rid, "safetensors", tl_home / "domains", force=True)
    first = export_run(store, rid, "safetensors", tmp_path / "st")
    with pytest.raises(ExportError, match="already exists.*--force"):
        export_run(store, rid, "safetensors", tmp_path / "st")
    again = export_run(store, rid, "safetensors", tmp_path / "st", force=True)
    assert again["files"] == first["files"] and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "sub" / "thesis.tex").write_text("x")
    with pytest.raises(ExportError, match="not an earlier export"):  # --force never rmtree's a user's folder
        export_run(store, rid, "safetensors", mine, force=True)
    assert (mine / "sub" / "thesis.tex").read_text() == "x"


def test_item3_report_out_refuses_existing_and_data_root(tl_home, tmp_path, capsys):
    out = tmp_path / "r.html"
    out.write_text("mine")
    assert main(["report", "nope", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_text() == "mine"
    assert main(["report", "nope", "--out", str(tl_home / "tl.db"), "--force"]) == 2
    assert "inside the data root" in capsys.readouterr().err


def test_item3_check_output_allows_new_paths_and_empty_folders(tmp_path):
    assert check_output(tmp_path / "new.csv", root=tmp_path / "home") == tmp_path / "new.csv"
    (tmp_path / "empty").mkdir()
    assert check_output(tmp_path / "empty", folder=True, root=tmp_path / "home") == tmp_path / "empty"
    with pytest.raises(OutputRefused, match="is a folder"):
        check_output(tmp_path / "empty", force=True, root=tmp_path / "home")
