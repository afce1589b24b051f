"""Reliability catalogue item 32 (duplicates and leakage): tlcore/data/duplicates.py, the run flag, the CLI.

The design flags instead of removing: a run on a pair with duplicates keeps its split and results and records a
``duplicate_leakage`` flag (Compare shows it); the Domains page and ``python -m tlcore shift`` report the counts.
"""
from __future__ import annotations

import json

import pandas as pd

from tlcore.config import RunConfig
from tlcore.data import Domain, make_split, read_text
from tlcore.data.duplicates import (FLAG_KIND, content_hashes, describe_domain_duplicates, describe_pair_duplicates,
                                    domain_duplicates, leakage_flag, pair_duplicates, split_leakage)


def _csv(path, rows):
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, index=False)
    return path


def test_item_32_text_duplicates_ignore_whitespace_and_case(tmp_path):
    rows = [("Great  pan!", "pos"), ("great pan!\n", "pos"), ("GREAT PAN!", "neg"), ("bad lid", "neg"),
            ("Bad lid ", "neg"), ("fine", "pos"), ("fine.", "pos")]
    domain = read_text(_csv(tmp_path / "k.csv", rows))
    d = domain.summary()["duplicates"]
    assert d["method"].startswith("text")
    assert d["groups"] == 2 and d["extra_copies"] == 3  # "fine" and "fine." differ
    assert d["label_conflicts"] == {"groups": 1, "samples": 3, "examples": [
        {"files": ["row 1", "row 2", "row 3"], "labels": ["pos", "pos", "neg"]}]}
    assert d["same_label"] == {"groups": 1, "extra_copies": 1, "examples": [["row 4", "row 5"]]}
    said = describe_domain_duplicates(d)
    assert len(said) == 2 and "different labels" in said[0] and "row 1 (pos) = row 2 (pos) = row 3 (neg)" in said[0]


def test_item_32_unlabeled_and_clean_domains():
    clean = Domain("c", "text", ["a", "b"], ["x", "y"], ["row 1", "row 2"])
    assert domain_duplicates(clean)["groups"] == 0 and describe_domain_duplicates(domain_duplicates(clean)) == []
    unlabeled = Domain("u", "text", ["a", "A", "b"], None, ["row 1", "row 2", "row 3"])
    d = domain_duplicates(unlabeled)
    assert d["same_label"]["groups"] == 1 and d["label_conflicts"]["groups"] == 0


def test_item_32_hashes_are_memoised_and_carried_by_subset():
    dom = Domain("d", "text", ["a", "b", "a"], ["x", "y", "x"], ["row 1", "row 2", "row 3"])
    first = content_hashes(dom)
    assert content_hashes(dom) is first
    sub = dom.subset([2, 0])
    assert sub.__dict__["_content_hashes"] == [first[2], first[0]] and content_hashes(sub)[0] == first[0]


def test_item_32_pair_and_split_leakage_are_counted():
    s_texts = [f"source {i}" for i in range(10)] + ["shared a", "shared b"]
    t_texts = [f"target {i}" for i in range(10)] + ["Shared A", "shared b"]
    labels = ["x", "y"] * 6
    source = Domain("s", "text", s_texts, labels, [f"row {i + 1}" for i in range(12)])
    target = Domain("t", "text", t_texts, labels[:11] + ["x"], [f"row {i + 1}" for i in range(12)])
    pair = pair_duplicates(source, target)
    assert pair["shared"] == 2 and pair["source_samples"] == 2 and pair["target_samples"] == 2
    assert pair["target_fraction"] == round(2 / 12, 4) and pair["label_mismatch"] == 1  # "shared b": y vs x
    assert pair["examples"] == [{"source": ["row 11"], "target": ["row 11"]},
                                {"source": ["row 12"], "target": ["row 12"]}]
    assert "target test accuracy is inflated" in describe_pair_duplicates(pair)
    assert describe_pair_duplicates(pair_duplicates(source, target.subset(range(10)))) == ""
    split = make_split(source, target, test_fraction=0.5, seed=0)
    leak = split_leakage(source, target, split)
    in_test = [i for i in (10, 11) if i in split.target_test]
    assert leak["from_source"] == leak["leaked"] == len(in_test) and leak["target_test"] == len(split.target_test)
    flag = leakage_flag(source, target, split)
    assert flag["kind"] == FLAG_KIND and flag["shared"] == 2 and flag["leaked"] == len(in_test)
    clean = target.subset(range(10))
    assert leakage_flag(source, clean, make_split(source, clean)) is None


def test_item_32_labeled_target_copies_in_the_target_test_are_leakage():
    texts = [f"t{i}" for i in range(20)]
    texts[1] = texts[0]  # two copies of one target sample, same label
    labels = ["x", "y"] * 10
    labels[1] = "x"
    target = Domain("t", "text", texts, labels, [f"row {i + 1}" for i in range(20)])
    source = Domain("s", "text", [f"s{i}" for i in range(20)], ["x", "y"] * 10, [f"row {i + 1}" for i in range(20)])
    split = make_split(source, target, labeled_fraction=1.0, seed=0)
    assert 0 in split.target_test and 1 in split.target_labeled  # one copy labeled in training, one in the test
    leak = split_leakage(source, target, split)
    assert leak["from_target_labeled"] == 1 and leak["from_source"] == 0 and leak["in_target_train"] == 1
    flag = leakage_flag(source, target, split)
    assert flag["leaked"] == 1 and flag["shared"] == 0 and flag["examples"] == ["row 1"]
    assert "1 of 10 target test samples are copies of labeled training samples" in flag["message"]
    assert leakage_flag(source, target, make_split(source, target, seed=0)) is None  # no labeled target: no leak


def test_item_32_a_run_on_a_pair_with_duplicates_records_a_flag_and_keeps_its_split(store, tmp_path):
    from tlcore.evaluation.sanity import store_flags
    from tlcore.pipeline import prepare_data, run_experiment

    src_rows = [(f"good thing {i}", "pos") for i in range(12)] + [(f"bad thing {i}", "neg") for i in range(12)]
    tgt_rows = [(f"good pan {i}", "pos") for i in range(10)] + [(f"bad pan {i}", "neg") for i in range(10)]
    tgt_rows += src_rows[:2] + src_rows[12:14]  # four target rows are copies of source rows
    cfg = RunConfig.from_dict({"source": {"path": str(_csv(tmp_path / "a.csv", src_rows))},
                               "target": {"path": str(_csv(tmp_path / "b.csv", tgt_rows))},
                               "backbone": "tiny_text", "strategy": "scratch", "epochs": 1, "batch_size": 16})
    events = []
    rec = run_experiment(cfg, store, callbacks=[events.append])
    assert rec.status == "completed"
    flags = store.metrics(rec.run_id)["flags"]
    assert [f["kind"] for f in flags] == [FLAG_KIND]
    assert flags[0]["shared"] == 4 and flags[0]["target_samples"] == 4
    assert "4 target sample(s) are identical to source samples" in flags[0]["message"]
    assert store_flags(store, rec.run_id) == flags  # what Compare shows
    assert any(e["type"] == "warning" and "duplicates" in e["message"] for e in events)
    source, target, _, split = prepare_data(cfg)  # nothing removed: the recorded split is the usual one
    assert json.loads(store.path(rec.run_id, "split.json").read_text()) == split.to_dict()
    assert len(target) == 24


def test_item_32_shift_cli_json_lists_the_duplicates(tl_home, tmp_path, capsys):
    from tlcore.__main__ import main

    a = _csv(tmp_path / "a.csv", [("good", "pos"), ("Good", "neg"), ("bad", "neg"), ("ok", "pos")])
    b = _csv(tmp_path / "b.csv", [("bad", "neg"), ("meh", "pos"), ("nice", "pos"), ("awful", "neg")])
    assert main(["shift", "--source", json.dumps({"path": str(a)}), "--target", json.dumps({"path": str(b)}),
                 "--backbone", "tiny_text", "--cap", "4"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    dups = out["duplicates"]
    assert dups["source"]["label_conflicts"]["groups"] == 1 and dups["target"]["groups"] == 0
    assert dups["pair"]["shared"] == 1 and dups["pair"]["examples"] == [{"source": ["row 3"], "target": ["row 1"]}]
