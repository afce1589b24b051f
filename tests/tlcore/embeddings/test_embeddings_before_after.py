"""Before/after features: gap figures (CORAL, centroids), the stratified cap, a tiny pipeline run storing both,
and the ``embeddings`` CLI (last stdout line is JSON)."""
from __future__ import annotations

import json

import numpy as np

from tlcore.config import RunConfig
from tlcore.embeddings.extract import stratified_cap
from tlcore.embeddings.gap import centroid_distances, coral_distance, gap_figures, run_gap
from tlcore.embeddings.project import load_features_npz, run_projection
from tlcore.pipeline import run_experiment

TINY = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
        "image_size": 16, "batch_size": 32, "max_samples_per_domain": 200}


def gaussians(shift, n=300, d=8, seed=0):
    rng = np.random.default_rng(seed)
    y_s, y_t = rng.integers(0, 3, n), rng.integers(0, 3, n)
    centers = np.eye(3, d) * 4
    return centers[y_s] + rng.normal(size=(n, d)), y_s, centers[y_t] + rng.normal(size=(n, d)) * (1 + shift) + shift, y_t


def test_coral_and_centroid_near_zero_for_one_distribution_and_large_when_shifted():
    fs, ys, ft, yt = gaussians(0.0)
    same_coral, same_cd = coral_distance(fs, ft), centroid_distances(fs, ys, ft, yt)["mean"]
    fs, ys, ft, yt = gaussians(2.0)
    assert coral_distance(fs, ft) > 20 * same_coral
    cd = centroid_distances(fs, ys, ft, yt, ["a", "b", "c"])
    assert same_cd < 0.2 and cd["mean"] > 4 * same_cd and set(cd["per_class"]) == {"a", "b", "c"}


def test_gap_figures_all_measures():
    fs, ys, ft, yt = gaussians(0.0)
    same = gap_figures(fs, ft, ys, yt)
    fs, ys, ft, yt = gaussians(2.0)
    far = gap_figures(fs, ft, ys, yt)
    assert {"mmd", "a_distance", "coral", "centroid", "centroid_per_class"} <= set(same)
    for k in ("mmd", "a_distance", "coral", "centroid"):
        assert far[k] > same[k], k
    assert same["a_distance"] < 0.35 and far["a_distance"] > 1.5
    json.dumps(far)  # plain data


def test_item_72_stratified_cap_keeps_class_proportions_and_is_seeded():
    labels = np.r_[np.zeros(900), np.ones(90), np.full(10, 2)].astype(int)
    idx = stratified_cap(labels, 100, seed=1)
    assert len(idx) == 100 and np.all(np.diff(idx) > 0)
    counts = np.bincount(labels[idx])
    assert counts[0] == 90 and counts[1] == 9 and counts[2] == 1
    np.testing.assert_array_equal(idx, stratified_cap(labels, 100, seed=1))
    np.testing.assert_array_equal(stratified_cap(labels[:50], 100, seed=1), np.arange(50))


def test_pipeline_stores_before_and_after_on_the_same_samples(store, capsys, monkeypatch):
    rec = run_experiment(RunConfig.from_dict({**TINY, "strategy": "fine_tuning"}), store)
    rid = rec.run_id
    before, after = load_features_npz(store, rid, "before"), load_features_npz(store, rid, "after")
    for key in ("source_val", "target_test"):
        np.testing.assert_array_equal(before[f"{key}.index"], after[f"{key}.index"])
        np.testing.assert_array_equal(before[f"{key}.labels"], after[f"{key}.labels"])
        assert before[f"{key}.features"].shape == after[f"{key}.features"].shape
    assert not np.allclose(before["source_val.features"], after["source_val.features"])
    gap = store.metrics(rid)["embeddings"]["gap"]
    for which in ("before", "after"):
        assert {"mmd", "a_distance", "coral", "centroid"} <= set(gap[which])
    assert run_gap(store, rid) == gap
    # projections of before and after are cached separately
    a = run_projection(store, rid, "pca", 2, which="after")
    b = run_projection(store, rid, "pca", 2, which="before")
    assert not a["cached"] and not b["cached"] and not np.allclose(a["coords"], b["coords"])
    assert run_projection(store, rid, "pca", 2, which="before")["cached"]

    # the CLI recomputes missing before-features for an older run and prints one JSON line last
    from tlcore.__main__ import main

    store.path(rid, "features_before.npz").unlink()
    assert main(["embeddings", rid, "--method", "pca"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["run_id"] == rid and out["method"] == "pca"
    assert set(out["gap"]["before"]) >= {"mmd", "a_distance", "coral"} and out["gap"]["after"]["mmd"] >= 0
    again = load_features_npz(store, rid, "before")
    np.testing.assert_array_equal(again["target_test.index"], after["target_test.index"])
    np.testing.assert_allclose(again["target_test.features"], before["target_test.features"], atol=2e-2)
    assert store.read_json(rid, "extract_progress.json")["status"] == "done"


def test_frozen_backbone_before_equals_after(store):
    rec = run_experiment(RunConfig.from_dict({**TINY, "strategy": "linear_probe"}), store)
    before, after = load_features_npz(store, rec.run_id, "before"), load_features_npz(store, rec.run_id, "after")
    np.testing.assert_array_equal(before["target_test.features"], after["target_test.features"])
    assert store.metrics(rec.run_id)["embeddings"]["frozen_backbone"] is True


def test_cli_unknown_method_is_an_error(store, capsys):
    from tlcore.__main__ import main
    from tests.app.fake_runs import make_run

    rid = make_run(store)
    assert main(["embeddings", rid, "--method", "nope"]) == 2
    assert "unknown projection" in capsys.readouterr().err


def test_shift_report_of_a_pair_without_training(tl_home, capsys):
    from tlcore.__main__ import main
    from tlcore.jobs.light import read_shift_report

    src, tgt = {"demo": "digits"}, {"demo": "digits"}
    assert main(["shift", "--source", json.dumps(src), "--target", json.dumps(tgt), "--backbone", "tiny_cnn",
                 "--cap", "60"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["status"] == "done" and out["backbone"] == "tiny_cnn"
    assert {"mmd", "a_distance", "coral", "centroid"} <= set(out["gap"]) and out["gap"]["n_source"] == 60
    assert read_shift_report(tl_home, src, tgt, "tiny_cnn", 60) == out
