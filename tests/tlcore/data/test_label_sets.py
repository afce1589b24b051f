"""Label sets (tlcore/data/label_sets.py): storage, validation, and what a run gets from one."""
from __future__ import annotations

import stat

import numpy as np
import pytest

from tlcore.config import RunConfig
from tlcore.data.domain import Domain
from tlcore.data.label_sets import LabelSets, apply_label_set, domain_key, read_pairs_csv
from tlcore.data.split import make_split
from tlcore.errors import ConfigError, DataError


def _domain(labels=True, n=20):
    return Domain(name="t", modality="text", samples=[f"text {i}" for i in range(n)],
                  labels=[("a", "b")[i % 2] for i in range(n)] if labels else None,
                  sources=[f"row {i + 2}" for i in range(n)])


SPEC = {"path": "/data/target.csv"}


def test_round_trip_versions_owner_and_private_file(tmp_path):
    sets = LabelSets(tmp_path)
    dom = _domain()
    one = sets.add(SPEC, [("row 2", "b"), ("row 3", "a")], domain=dom, owner="ann")
    two = sets.add(SPEC, [("row 3", "b"), ("row 4", "a")], domain=dom, owner="bob", base=one["id"])
    assert (one["version"], two["version"]) == (1, 2) and one["owner"] == "ann" and two["base"] == one["id"]
    assert sets.get(one["id"])["labels"] == [["row 2", "b"], ["row 3", "a"]]
    assert dict(map(tuple, sets.get(two["id"])["labels"])) == {"row 2": "b", "row 3": "b", "row 4": "a"}
    listed = sets.list(domain_key(SPEC))
    assert [d["id"] for d in listed] == [two["id"], one["id"]] and listed[0]["n"] == 3 and "labels" not in listed[0]
    mode = stat.S_IMODE(sets.path(one["id"]).stat().st_mode)
    assert mode == 0o600 and stat.S_IMODE(sets.dir.stat().st_mode) == 0o700
    assert dom.labels[0] == "a"  # the domain itself is never modified


def test_errors_name_the_row(tmp_path):
    sets = LabelSets(tmp_path)
    with pytest.raises(DataError, match=r"row 3: label 'c' of 'row 3' is not a class"):
        sets.add(SPEC, [("row 2", "a"), ("row 3", "c")], domain=_domain())
    with pytest.raises(DataError, match=r"row 2: sample id 'row 99' is not in domain"):
        sets.add(SPEC, [("row 99", "a")], domain=_domain())
    with pytest.raises(DataError, match="unlabelled; give the classes"):
        sets.add(SPEC, [("row 2", "a")], domain=_domain(labels=False))
    assert sets.add(SPEC, [("row 2", "x")], domain=_domain(labels=False), classes=["x", "y"])["classes"] == ["x", "y"]
    with pytest.raises(ConfigError, match="not found"):
        sets.get("ls-00000000")
    with pytest.raises(ConfigError, match="expected an id"):
        sets.get("../../etc/passwd")


def test_csv_reader_names_the_row():
    assert read_pairs_csv("id,label\nrow 2,a\n") == [("row 2", "a")]
    with pytest.raises(DataError, match="columns 'id' and 'label'"):
        read_pairs_csv("sample,class\nx,y\n")
    with pytest.raises(DataError, match="row 3"):
        read_pairs_csv("id,label\nrow 2,a\nrow 3,\n")


def test_config_takes_a_label_set_on_the_target_only():
    cfg = RunConfig.from_dict({"source": "digits", "target": {"demo": "digits", "label_set": "ls-0123abcd"},
                               "strategy": "fine_tuning"})
    assert cfg.target.label_set == "ls-0123abcd"
    assert RunConfig.from_dict(cfg.to_dict()).target.label_set == "ls-0123abcd"
    with pytest.raises(ConfigError, match="source.label_set"):
        RunConfig.from_dict({"source": {"demo": "digits", "label_set": "ls-0123abcd"}, "target": "digits"})
    with pytest.raises(ConfigError, match="target.label_set: expected an id"):
        RunConfig.from_dict({"source": "digits", "target": {"demo": "digits", "label_set": "../x"}})


def test_no_test_split_sample_is_labelled_through_a_label_set(tmp_path):
    source, target = _domain(n=40), _domain(n=40)
    split = make_split(source, target, test_fraction=0.5, seed=0)
    test_ids = [target.sources[i] for i in split.target_test]
    train_ids = [target.sources[i] for i in split.target_train]
    every = [(s, "b") for s in test_ids + train_ids[:5]]  # every test sample and 5 training samples, all "b"
    ls = LabelSets(tmp_path).add(SPEC, every, domain=target)
    new_target, new_split, note = apply_label_set(ls, SPEC, target, split, ["a", "b"])
    assert new_split.target_labeled == tuple(sorted(split.target_train[:5]))
    assert new_split.target_test == split.target_test and new_split.target_train == split.target_train
    assert note == {"label_set": ls["id"], "used": 5, "in_test": len(test_ids), "not_in_run": 0}
    assert all(new_target.labels[i] == target.labels[i] for i in split.target_test)  # test labels untouched
    assert all(new_target.labels[i] == "b" for i in split.target_train[:5])
    assert target.labels == _domain(n=40).labels  # the original object is not modified


def test_an_unlabelled_target_gets_labels_only_where_the_set_gives_them(tmp_path):
    source, target = _domain(n=40), _domain(labels=False, n=40)
    split = make_split(source, target, seed=0)
    pick = [target.sources[i] for i in split.target_train[:3]]
    ls = LabelSets(tmp_path).add(SPEC, [(s, "a") for s in pick], domain=target, classes=["a", "b"])
    new_target, new_split, _ = apply_label_set(ls, SPEC, target, split, ["a", "b"])
    assert new_split.target_labeled == tuple(split.target_train[:3])
    assert [i for i, y in enumerate(new_target.labels) if y] == list(split.target_train[:3])


def test_a_label_set_of_another_domain_or_class_is_refused(tmp_path):
    source, target = _domain(), _domain()
    split = make_split(source, target, seed=0)
    ls = LabelSets(tmp_path).add(SPEC, [("row 2", "a")], domain=target)
    with pytest.raises(ConfigError, match="labels path:.*but the target is demo:digits"):
        apply_label_set(ls, {"demo": "digits"}, target, split, ["a", "b"])
    with pytest.raises(ConfigError, match="not one of the run's classes"):
        apply_label_set(ls, SPEC, target, split, ["x", "y"])
    assert np.array_equal(split.target_labeled, ())
