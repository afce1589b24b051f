import json
import os

import pytest

from tlcore.runs.store import RunNotFound, RunStore

DB_ENGINES = ("sqlite", "postgresql")  # each test runs on both engines (tests/tlcore/conftest.py)

CFG = {"source": {"demo": "digits"}, "target": {"path": "/data/usps.zip"}, "strategy": "linear_probe",
       "backbone": "tiny_cnn", "seed": 1}


def test_create_list_finish_delete(store):
    rid = store.create(CFG)
    assert store.get(rid).status == "running"
    store.finish(rid, "completed", metrics={"target_test": {"accuracy": 0.5, "f1_macro": 0.4},
                                             "source_val": {"accuracy": 0.9}}, seconds=1.5)
    rec = store.get(rid)
    assert (rec.status, rec.target_acc, rec.target_f1, rec.source_acc) == ("completed", 0.5, 0.4, 0.9)
    assert rec.source == "demo:digits" and rec.target == "usps"
    assert [r.run_id for r in store.list()] == [rid]
    store.delete(rid)
    assert store.list() == []
    assert not store.folder(rid).exists()
    with pytest.raises(RunNotFound):
        store.get(rid)


def test_listing_survives_crash_leftovers(store):
    good = store.create(CFG)
    store.finish(good, "completed", metrics={"target_test": {"accuracy": 1.0}})
    crashed = store.create(CFG)  # a run whose process died: no metrics, a half-written tmp file, a cut event
    (store.folder(crashed) / ".tmp-abc-metrics.json").write_text('{"target_te')
    store.append_event(crashed, {"type": "epoch", "epoch": 1})
    with open(store.path(crashed, "events.jsonl"), "a") as fh:
        fh.write('{"type": "epo')
    (store.runs_dir / "orphan-folder").mkdir()
    runs = {r.run_id: r for r in RunStore(store.root).list()}
    assert set(runs) == {good, crashed}
    assert store.metrics(crashed) == {}
    assert store.events(crashed) == [{"type": "epoch", "epoch": 1}]
    assert store.metrics(good)["target_test"]["accuracy"] == 1.0


def test_writes_are_atomic(store, monkeypatch):
    rid = store.create(CFG)
    store.write_json(rid, "metrics.json", {"v": 1})

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.write_json(rid, "metrics.json", {"v": 2})
    monkeypatch.undo()
    assert json.loads(store.path(rid, "metrics.json").read_text()) == {"v": 1}


def test_run_ids_cannot_escape(store):
    for bad in ("../x", "a/b", ".hidden", ""):
        with pytest.raises(RunNotFound):
            store.folder(bad)
