"""A full run through the engine on an unlabelled target with a label set (issue 27): the target folder has no
class folders; a label set gives a few of its training samples a class (``labels add --classes``), and
``python -m tlcore train --set target.label_set=ID`` trains with exactly those as labelled target samples; the set's
test-split samples stay unlabelled, the domain itself is untouched."""
from __future__ import annotations

import json

from tlcore.__main__ import main
from tlcore.config import RunConfig
from tlcore.data.loading import load_domain
from tlcore.data.prepare import prepare_data

from tests.tlcore.active.image_pair import CLASSES, make_image_pair


def test_train_with_a_label_set_on_an_unlabelled_target(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TL_HOME", str(tmp_path / "home"))
    src, tgt, truth = make_image_pair(tmp_path / "data")
    assert load_domain({"path": str(tgt)}, "target").labels is None  # the target says no class
    base = {"source": {"path": str(src)}, "target": {"path": str(tgt)}, "backbone": "tiny_cnn", "epochs": 1,
            "strategy": "multitask"}
    split = prepare_data(RunConfig.from_dict(base))[3]
    target = prepare_data(RunConfig.from_dict(base))[1]
    train_ids = [target.sources[i] for i in split.target_train[:6]]
    test_ids = [target.sources[i] for i in split.target_test[:2]]
    csv = tmp_path / "answers.csv"
    csv.write_text("id,label\n" + "".join(f"{i},{truth[i]}\n" for i in train_ids + test_ids))
    capsys.readouterr()
    assert main(["labels", "add", str(tgt), "--from", str(csv), "--classes", ",".join(CLASSES)]) == 0
    ls = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ls["n"] == 8 and ls["classes"] == list(CLASSES)

    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps(base))
    assert main(["train", str(cfg), "--quiet", "--set", f"target.label_set={ls['id']}"]) == 0
    run = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert run["status"] == "completed"
    folder = tmp_path / "home" / "runs" / run["run_id"]
    rec_split = json.loads((folder / "split.json").read_text())
    assert {target.sources[i] for i in rec_split["target_labeled"]} == set(train_ids)  # exactly the set's training
    assert rec_split["target_test"] == list(split.target_test)  # samples; the test split is the run's own, untouched
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["target_train"]["n"] == 6  # evaluated on its labelled training part only
    assert "accuracy" not in (metrics.get("target_test") or {})  # no target test labels: no accuracy invented
    assert json.loads((folder / "config.json").read_text())["target"]["label_set"] == ls["id"]
    assert load_domain({"path": str(tgt)}, "target").labels is None  # the domain is never modified
