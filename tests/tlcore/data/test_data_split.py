"""Label alignment and stratified splits (tlcore.data.split)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tlcore.data import Domain, Split, align_labels, make_split
from tlcore.errors import DataError


def text_domain(name, counts, labeled=True):
    labels = [cls for cls, n in counts.items() for _ in range(n)]
    samples = [f"{name} sample {i}" for i in range(len(labels))]
    return Domain(name, "text", samples, labels if labeled else None, [f"row {i + 1}" for i in range(len(labels))])


def test_disjoint_stratified_deterministic():
    source = text_domain("src", {"a": 50, "b": 30, "c": 20})
    target = text_domain("tgt", {"a": 40, "b": 40, "c": 20})
    split = make_split(source, target, val_fraction=0.2, test_fraction=0.5, labeled_fraction=0.1, seed=7)
    assert set(split.source_train).isdisjoint(split.source_val)
    assert set(split.source_train) | set(split.source_val) == set(range(100))
    assert set(split.target_train).isdisjoint(split.target_test)
    assert set(split.target_train) | set(split.target_test) == set(range(100))
    assert set(split.target_labeled) <= set(split.target_train)
    assert Counter(source.labels[i] for i in split.source_val) == {"a": 10, "b": 6, "c": 4}
    assert Counter(target.labels[i] for i in split.target_test) == {"a": 20, "b": 20, "c": 10}
    assert len(split.target_labeled) == round(0.1 * len(split.target_train))
    assert set(target.labels[i] for i in split.target_labeled) == {"a", "b", "c"}
    assert split == make_split(source, target, 0.2, 0.5, 0.1, seed=7)
    assert split != make_split(source, target, 0.2, 0.5, 0.1, seed=8)


def test_round_trip_through_json():
    source = text_domain("src", {"a": 5, "b": 5})
    split = make_split(source, source, seed=3)
    assert Split.from_dict(json.loads(json.dumps(split.to_dict()))) == split
    with pytest.raises(DataError, match=r"missing field\(s\) \['target_test'\]"):
        Split.from_dict({k: v for k, v in split.to_dict().items() if k != "target_test"})


def test_small_classes_keep_one_on_each_side():
    source = text_domain("src", {"a": 2, "b": 9})
    split = make_split(source, source, val_fraction=0.1, test_fraction=0.9, seed=0)
    assert Counter(source.labels[i] for i in split.source_val)["a"] == 1
    assert Counter(source.labels[i] for i in split.target_train)["a"] == 1


def test_item_39_class_with_one_sample_named():
    source = text_domain("src", {"a": 10, "rare": 1})
    with pytest.raises(DataError, match=r"source 'src': class 'rare' has only 1 sample"):
        make_split(source, text_domain("tgt", {"a": 4}, labeled=False))
    target = text_domain("tgt", {"a": 10, "lonely": 1})
    with pytest.raises(DataError, match=r"target 'tgt': class 'lonely' has only 1 sample"):
        make_split(text_domain("src", {"a": 4, "b": 4}), target)


def test_unlabeled_target_random_split():
    source = text_domain("src", {"a": 10, "b": 10})
    target = text_domain("tgt", {"?": 30}, labeled=False)
    split = make_split(source, target, test_fraction=0.3, seed=1)
    assert len(split.target_test) == 9 and len(split.target_train) == 21 and split.target_labeled == ()
    with pytest.raises(DataError, match=r"labeled_fraction: target domain 'tgt' is unlabeled"):
        make_split(source, target, labeled_fraction=0.2)


@pytest.mark.parametrize("field, value", [
    ("val_fraction", 0.0), ("val_fraction", 1.0), ("test_fraction", -0.1), ("test_fraction", 1.5),
    ("labeled_fraction", -0.01), ("labeled_fraction", 1.01), ("val_fraction", float("nan")),
])
def test_fraction_validation_names_field(field, value):
    domain = text_domain("src", {"a": 5, "b": 5})
    with pytest.raises(DataError, match=rf"^{field}: must be in"):
        make_split(domain, domain, **{field: value})


def test_item_24_align_label_mismatch_lists_both_sets():
    source = text_domain("src", {"a": 5, "b": 5, "c": 5})
    target = text_domain("tgt", {"b": 5, "c": 5, "d": 5})
    with pytest.raises(DataError) as info:
        align_labels(source, target)
    message = str(info.value)
    assert "['a', 'b', 'c']" in message and "['b', 'c', 'd']" in message
    assert "only in source: ['a']; only in target: ['d']" in message


def test_align_intersection():
    source = text_domain("src", {"a": 5, "b": 5, "c": 5})
    target = text_domain("tgt", {"b": 4, "c": 4, "d": 4})
    new_source, new_target, classes = align_labels(source, target, intersection=True)
    assert classes == ["b", "c"]
    assert len(new_source) == 10 and len(new_target) == 8 and new_target.classes == ["b", "c"]
    with pytest.raises(DataError, match=r"share 1 class\(es\) \['b'\]; need at least 2"):
        align_labels(source, text_domain("tgt", {"b": 4, "z": 4}), intersection=True)


def test_align_requires_labeled_multiclass_source():
    unlabeled = text_domain("tgt", {"?": 4}, labeled=False)
    with pytest.raises(DataError, match=r"source domain 'u' is unlabeled"):
        align_labels(text_domain("u", {"a": 3}, labeled=False), unlabeled)
    with pytest.raises(DataError, match=r"source domain 'one' has a single class 'only'"):
        align_labels(text_domain("one", {"only": 6}), unlabeled)
    source = text_domain("src", {"a": 3, "b": 3})
    assert align_labels(source, unlabeled) == (source, unlabeled, ["a", "b"])
