"""Sweep planning and tables, the classical baseline on the built-in demos, repro cards and re-runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.app.fake_runs import make_run
from tests.conftest import ROOT
from tlcore.evaluation.baseline import classical_baseline
from tlcore.sweeps import plan_sweep, reversed_pair, sweep_ids, sweep_table

BASE = {"source": {"demo": "reviews"}, "target": {"demo": "reviews", "labeled_fraction": 0.1},
        "backbone": "tiny_text", "epochs": 1, "max_samples_per_domain": 200, "seed": 0}


def test_plan_sweep_pairs_seeds_and_classical():
    pairs = [(BASE["source"], BASE["target"]), reversed_pair(BASE["source"], BASE["target"])]
    plan = plan_sweep(pairs, ["scratch", "fine_tuning"], [0, 1], BASE, sweep_id="abc")
    assert len(plan) == 2 * 2 * 3            # pairs x seeds x (2 strategies + classical)
    assert {c["name"] for c in plan} == {"sweep:abc"}
    assert sum(c["strategy"] == "classical" for c in plan) == 4
    assert {c["seed"] for c in plan} == {0, 1}
    assert all(c["target"].get("labeled_fraction") == 0.1 and not c["source"].get("labeled_fraction") for c in plan)
    with pytest.raises(Exception, match="strategy"):
        plan_sweep(pairs, ["no_such_strategy"], [0], BASE)


@pytest.mark.parametrize("demo,backbone", [("reviews", "tfidf_logreg"), ("digits", "pixels_logreg")])
def test_classical_baseline_is_a_comparable_run(store, demo, backbone):
    cfg = {**BASE, "source": {"demo": demo}, "target": {"demo": demo}, "strategy": "classical"}
    rec = classical_baseline(cfg, store)
    assert rec.status == "completed" and rec.strategy == "classical" and rec.backbone == backbone
    m = store.metrics(rec.run_id)
    assert len(m["target_test"]["accuracy_ci"]) == 2 and len(m["target_test"]["f1_macro_ci"]) == 2
    if demo == "reviews":
        assert m["source_val"]["accuracy"] > 0.8       # TF-IDF separates the source sentiment well
    preds = pd.read_csv(store.path(rec.run_id, "predictions_target_test.csv"))
    assert {"index", "source", "true", "pred", "confidence"} <= set(preds.columns)
    card = store.read_json(rec.run_id, "repro.json")
    assert card["data"]["target_fingerprint"] and card["packages"]["scikit-learn"] and card["test_fingerprint"]
    from tlcore.evaluation.error_analysis import sample_preview

    shown = sample_preview(store, rec.run_id, preds["index"][:2].tolist())
    if demo == "reviews":
        assert preds["text"][0].startswith(shown[0][:50])       # the index column points at the same sample
    else:
        assert shown[0].dtype.name == "uint8" and shown[0].shape[2] == 3


def test_sweep_table_gains_and_best(store):
    ids = {}
    for strat, seed in (("scratch", 0), ("fine_tuning", 1), ("linear_probe", 3)):
        for tgt in ("sketches", "paintings"):
            ids[strat, tgt] = make_run(store, name="sweep:s1", strategy=strat, seed=seed, target=tgt)
    make_run(store, name="unrelated", strategy="dann", seed=2)
    records = store.list()
    assert sweep_ids(records) == ["s1"]
    t = sweep_table(records, store.metrics, "s1")
    assert set(t["value"].index) == {"scratch", "fine_tuning", "linear_probe"}
    assert set(t["value"].columns) == {"photos -> sketches", "photos -> paintings"}
    pair = "photos -> sketches"
    acc = {s: store.metrics(ids[s, "sketches"])["target_test"]["accuracy"] for s in ("scratch", "linear_probe")}
    assert t["gain_scratch"].at["linear_probe", pair] == pytest.approx(acc["linear_probe"] - acc["scratch"])
    assert t["gain_scratch"].at["scratch", pair] == 0
    assert t["best"][pair] == t["value"][pair].idxmax()
    from ui.run_table import sweep_frames

    cells, gains = sweep_frames(t)
    assert "[" in cells.at["scratch", pair] and gains.shape[1] == 4


def test_rerun_cli_reproduces_a_classical_run(store, tl_home):
    rec = classical_baseline({**BASE, "strategy": "classical"}, store)
    env = {**os.environ, "TL_HOME": str(tl_home)}
    res = subprocess.run([sys.executable, "-m", "tlcore", "rerun", rec.run_id, "--quiet"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["rerun_of"] == rec.run_id and out["run_id"] != rec.run_id
    assert out["metrics"]["target_test"]["accuracy"] == store.metrics(rec.run_id)["target_test"]["accuracy"]
    assert store.read_json(out["run_id"], "repro.json")["test_fingerprint"] == \
        store.read_json(rec.run_id, "repro.json")["test_fingerprint"]


def test_pipeline_metrics_carry_intervals_and_repro_card(store):
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment

    cfg = RunConfig.from_dict({"source": {"demo": "digits"}, "target": {"demo": "digits", "labeled_fraction": 0.2},
                               "backbone": "tiny_cnn", "strategy": "linear_probe", "epochs": 1, "image_size": 16,
                               "max_samples_per_domain": 200})
    rec = run_experiment(cfg, store)
    m = store.metrics(rec.run_id)
    for split in ("target_test", "source_val", "target_train"):
        for k in ("accuracy", "f1_macro", "roc_auc"):
            lo, hi = m[split][f"{k}_ci"]
            assert lo <= m[split][k] <= hi, (split, k)
        assert {"log_loss", "ece", "reliability", "roc_curve", "pr_curve", "f1_weighted"} <= set(m[split])
    card = store.read_json(rec.run_id, "repro.json")
    assert card["config"] == cfg.to_dict() and card["seed"] == 0 and card["device"]["type"] in ("cpu", "cuda")
    assert card["packages"]["torch"] and "git_commit" in card
    from tlcore.cli.common import slim as slim_metrics

    slim = slim_metrics(m["target_test"])
    assert "accuracy_ci" in slim and "roc_curve" not in slim and "per_class" not in slim
