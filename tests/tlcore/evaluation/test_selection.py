"""Choosing runs by validators: ranking, rank correlation, regret, sweeps, and `tlcore select`."""
import json
import subprocess
import sys

import pytest

from tlcore.evaluation.selection import rank_runs, recommend, select, sweep_picks, validator_report

from tests.conftest import ROOT


def cands():
    # im agrees with accuracy; entropy is reversed; dev is missing on one run
    return [
        {"run_id": "a", "label": "a", "scores": {"im": 0.9, "entropy": -0.9, "dev": -1.0}, "accuracy": 0.80},
        {"run_id": "b", "label": "b", "scores": {"im": 0.5, "entropy": -0.5, "dev": -2.0}, "accuracy": 0.70},
        {"run_id": "c", "label": "c", "scores": {"im": 0.1, "entropy": -0.1, "dev": None}, "accuracy": 0.60},
        {"run_id": "d", "label": "d", "scores": {"im": 0.3, "entropy": -0.2}, "accuracy": 0.65},
    ]


def test_rank_and_recommend_by_validator():
    ranked = rank_runs(cands(), "im")
    assert [c["run_id"] for c in ranked] == ["a", "b", "d", "c"] and ranked[0]["rank"] == 1
    assert recommend(cands(), "entropy")["run_id"] == "c"
    assert [c["run_id"] for c in rank_runs(cands(), "dev")] == ["a", "b"]  # runs without the score left out
    assert recommend(cands(), "snd") is None
    with pytest.raises(ValueError, match="unknown validator"):
        rank_runs(cands(), "nope")


def test_report_correlation_and_regret():
    rows = {r["validator"]: r for r in validator_report(cands(), ["im", "entropy", "dev"])}
    assert rows["im"]["spearman"] == pytest.approx(1.0) and rows["im"]["kendall"] == pytest.approx(1.0)
    assert rows["im"]["regret"] == pytest.approx(0.0) and rows["im"]["pick"] == "a"
    assert rows["entropy"]["spearman"] == pytest.approx(-1.0)
    assert rows["entropy"]["regret"] == pytest.approx(0.20)  # picked c (0.60), best is 0.80
    assert rows["dev"]["n"] == 2 and rows["dev"]["spearman"] is None  # too few runs for a correlation
    assert rows["im"]["median_accuracy"] == pytest.approx(0.675)


class Rec:
    def __init__(self, run_id, strategy, seed, source="mnist", target="usps", name="sweep:s1"):
        self.run_id, self.strategy, self.seed, self.source, self.target = run_id, strategy, seed, source, target
        self.name, self.status = name, "completed"


def test_sweep_picks_per_pair():
    metrics = {
        "r1": {"target_test": {"accuracy": 0.7}, "target_unsupervised": {"scores": {"im": 0.2}}},
        "r2": {"target_test": {"accuracy": 0.8}, "target_unsupervised": {"scores": {"im": 0.1}}},
        "r3": {"target_test": {"accuracy": 0.5}, "target_unsupervised": {"scores": {"im": 0.9}}},
        "r4": {"target_test": {"accuracy": 0.9}},  # e.g. the classical baseline: no scores
    }
    recs = [Rec("r1", "dann", 0), Rec("r2", "coral", 0), Rec("r3", "dann", 0, "usps", "mnist"),
            Rec("r4", "classical", 0), Rec("x", "dann", 0, name="other")]
    rows = {r["pair"]: r for r in sweep_picks(recs, metrics.get, "s1", "im")}
    assert rows["mnist -> usps"]["strategy"] == "dann" and rows["mnist -> usps"]["runs"] == 3
    assert rows["mnist -> usps"]["regret"] == pytest.approx(0.2)  # best is the unscored classical run (0.9)
    assert rows["usps -> mnist"]["regret"] == pytest.approx(0.0)


def test_select_command_prints_the_pick_last(store, tl_home):
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment

    base = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
            "image_size": 16, "batch_size": 32, "max_samples_per_domain": 150}
    ids = [run_experiment(RunConfig.from_dict({**base, "strategy": s}), store).run_id
           for s in ("linear_probe", "skada_coral")]
    expected = select(store, ids, "entropy")
    env = {"TL_HOME": str(tl_home), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "tlcore", "select", *ids, "--by", "entropy"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["run_id"] == expected["run_id"] and last["by"] == "entropy"
    assert last["score"] == max(r["score"] for r in last["ranking"])
    bad = subprocess.run([sys.executable, "-m", "tlcore", "select", "no-such-run"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no-such-run" in bad.stderr


def test_sweep_table_carries_the_picks(store):
    from tlcore.evaluation.validators import DEFAULT
    from tlcore.sweeps import sweep_table

    sys.path.insert(0, str(ROOT / "tests" / "app"))
    from fake_runs import make_run

    ids = [make_run(store, name="sweep:s9", strategy=s, seed=0) for s in ("dann", "coral")]
    for rid, im in zip(ids, (0.1, 0.8)):
        m = store.metrics(rid)
        m["target_unsupervised"] = {"scores": {DEFAULT: im}}
        store.write_json(rid, "metrics.json", m)
    picks = sweep_table(store.list(), store.metrics, "s9")["picks"]
    assert len(picks) == 1 and picks[0]["pick"] == ids[1] and picks[0]["strategy"] == "coral"
    assert picks[0]["regret"] >= 0


def _gated_cands():
    # known answer: run "x" has the highest calibrated IM but fits its labeled source worse than the median run
    # (and is the worst on the target); "e" has the highest score and no source score at all
    rows = (("x", 2.0, 0.60, 0.55), ("a", 1.5, 0.90, 0.80), ("b", 1.2, 0.85, 0.75), ("c", 0.8, 0.88, 0.70),
            ("d", 1.0, 0.70, 0.65), ("e", 3.0, None, 0.60))
    return [{"run_id": rid, "label": rid, "accuracy": acc,
             "scores": {"im_calibrated": imc, "im_calibrated_gated": imc, "source_accuracy": sa}}
            for rid, imc, sa, acc in rows]


def test_gated_validator_ranks_runs_below_the_source_median_last():
    c = _gated_cands()
    assert [r["run_id"] for r in rank_runs(c, "im_calibrated")][:2] == ["e", "x"]
    gated = rank_runs(c, "im_calibrated_gated")
    # median source accuracy of the 5 runs that have one: 0.85 -> a, b, c pass; d, x fail; e has none: fails
    assert [r["run_id"] for r in gated] == ["a", "b", "c", "e", "x", "d"]
    assert [r["gated"] for r in gated] == [False] * 3 + [True] * 3
    rows = {r["validator"]: r for r in validator_report(c, ["im_calibrated", "im_calibrated_gated"])}
    assert rows["im_calibrated"]["pick"] == "e" and rows["im_calibrated"]["regret"] == pytest.approx(0.20)
    assert rows["im_calibrated_gated"]["pick"] == "a" and rows["im_calibrated_gated"]["regret"] == 0
    assert rows["im_calibrated_gated"]["spearman"] > rows["im_calibrated"]["spearman"]
    assert select.__defaults__[0] == "im_calibrated_gated"  # the default of `tlcore select`


def test_gate_needs_three_runs_with_a_gate_score():
    from tlcore.evaluation.validators import gate_passes

    c = _gated_cands()[:2]  # x and a: two source scores, so no gate; x wins on its score
    assert recommend(c, "im_calibrated_gated")["run_id"] == "x"
    assert gate_passes("im_calibrated_gated", [0.5, None, 0.7, 0.9]) == [False, False, True, True]
    assert gate_passes("im_calibrated", [0.1, 0.2, 0.3]) == [True] * 3  # no gate on this validator
