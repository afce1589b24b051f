"""The labelling flow from the command line on a tiny run (tiny_cnn, digits demo): query the run's target training
pool, save a label set, train with it; the labelled samples of the new run are exactly the set's."""
from __future__ import annotations

import json

import pytest

from tlcore.__main__ import main
from tlcore.active.query import METHODS
from tlcore.config import RunConfig
from tlcore.data.label_sets import sample_name
from tlcore.data.prepare import prepare_data

TRAIN = ["train", "--demo", "digits", "--quiet", "--set", "backbone=tiny_cnn", "--set", "epochs=1",
         "--set", "max_samples_per_domain=200", "--set", "strategy=fine_tuning"]


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _split(home, run_id) -> dict:
    return json.loads((home / "runs" / run_id / "split.json").read_text())


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("tl_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("TL_HOME", str(home))
    yield home
    mp.undo()


@pytest.fixture(scope="module")
def base_run(home):
    assert main(TRAIN) == 0
    return sorted(p.name for p in (home / "runs").iterdir())[-1]


def _target(home, run_id):
    cfg = RunConfig.from_dict(json.loads((home / "runs" / run_id / "config.json").read_text()))
    return prepare_data(cfg)[1]


@pytest.mark.parametrize("method", METHODS)
def test_query_picks_from_the_target_training_pool_only(home, base_run, capsys, method):
    capsys.readouterr()
    assert main(["query", base_run, "--budget", "8", "--method", method, "--seed", "1"]) == 0
    out = _last_json(capsys)
    assert out["run_id"] == base_run and out["method"] == method and len(out["samples"]) == 8
    target, split = _target(home, base_run), _split(home, base_run)
    pool = {target.sources[i] for i in split["target_train"]} - {target.sources[i] for i in split["target_labeled"]}
    test = {target.sources[i] for i in split["target_test"]}
    ids = [s["id"] for s in out["samples"]]
    assert len(set(ids)) == 8 and set(ids) <= pool and not set(ids) & test
    assert all(set(s) == {"id", "name", "path_or_text", "predicted", "score"} for s in out["samples"])
    assert all(s["name"] == sample_name(s["id"]) for s in out["samples"])
    labels = json.loads((home / "runs" / base_run / "labels.json").read_text())["classes"]
    assert all(s["predicted"] in labels for s in out["samples"])
    assert main(["query", base_run, "--budget", "8", "--method", method, "--seed", "1"]) == 0
    assert [s["id"] for s in _last_json(capsys)["samples"]] == ids  # deterministic


def test_label_then_train_uses_exactly_the_label_set(home, base_run, capsys, tmp_path):
    capsys.readouterr()
    assert main(["query", base_run, "--budget", "6", "--method", "badge"]) == 0
    ids = [s["id"] for s in _last_json(capsys)["samples"]]
    target = _target(home, base_run)
    truth = dict(zip(target.sources, target.labels))  # the target's own labels are the oracle
    test_ids = [target.sources[i] for i in _split(home, base_run)["target_test"][:3]]
    csv = tmp_path / "labels.csv"
    csv.write_text("id,label\n" + "".join(f"{i},{truth[i]}\n" for i in ids + test_ids))
    assert main(["labels", "add", "digits", "--from", str(csv)]) == 0
    ls = _last_json(capsys)
    assert ls["n"] == 9 and ls["version"] == 1 and ls["domain"] == "demo:digits"
    assert main(["labels", "list", "digits", "--json"]) == 0
    assert [d["id"] for d in _last_json(capsys)] == [ls["id"]]

    assert main(TRAIN + ["--set", f"target.label_set={ls['id']}"]) == 0
    run = _last_json(capsys)
    split = _split(home, run["run_id"])
    labelled = {target.sources[i] for i in split["target_labeled"]}
    assert labelled == set(ids)  # exactly the set's training samples; its 3 test samples are not labelled
    assert split["target_test"] == _split(home, base_run)["target_test"]  # the test split is untouched
    metrics = json.loads((home / "runs" / run["run_id"] / "metrics.json").read_text())
    assert metrics["target_train"]["n"] == 6  # evaluated on its labelled part: the 6 samples


def test_labels_add_refuses_an_unknown_class_naming_the_row(home, tmp_path, capsys):
    csv = tmp_path / "bad.csv"
    csv.write_text("id,label\nsklearn-digits/1,3\nsklearn-digits/2,eleven\n")
    assert main(["labels", "add", "digits", "--from", str(csv)]) == 2
    assert "row 3: label 'eleven'" in capsys.readouterr().err


def test_the_labeller_sees_neutral_names_and_the_sheet_comes_back_as_a_label_set(home, base_run, capsys, tmp_path):
    capsys.readouterr()
    sheet = tmp_path / "sheet.csv"
    assert main(["query", base_run, "--budget", "5", "--method", "margin", "--sheet", str(sheet)]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out.strip().splitlines()[-1])
    ids = [s["id"] for s in out["samples"]]
    assert "sample 1 of 5" in captured.err and not any(i in captured.err for i in ids)  # no id for the labeller
    rows = sheet.read_text().splitlines()
    assert rows[0] == "id,label,predicted" and len(rows) == 6
    assert not any(i in sheet.read_text() for i in ids)
    names = [r.split(",")[0] for r in rows[1:]]
    assert names == [s["name"] for s in out["samples"]]
    assert sorted(p.name for p in (tmp_path / "sheet_images").iterdir()) == sorted(f"{n}.png" for n in names)
    target = _target(home, base_run)
    truth = dict(zip(target.sources, target.labels))
    sheet.write_text("id,label,predicted\n" + "".join(f"{s['name']},{truth[s['id']]},{s['predicted']}\n"
                                                       for s in out["samples"]))
    assert main(["labels", "add", "digits", "--from", str(sheet)]) == 0
    ls = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    from tlcore.data.label_sets import LabelSets

    assert dict(map(tuple, LabelSets(home).get(ls["id"])["labels"])) == {i: truth[i] for i in ids}  # real ids
