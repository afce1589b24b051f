"""``strategy: auto`` as a portfolio (issue 25): the label-free rules on synthetic candidates, and the whole
portfolio run on the digits demo with tiny stand-ins for the candidates' networks (seconds)."""
from __future__ import annotations

import numpy as np
import pytest

from tlcore import portfolio, recommend
from tlcore.config import RunConfig
from tlcore.errors import Cancelled
from tlcore.pipeline import run_experiment


def _probs(n, classes, acc, conf, rng):
    """Predictions of ``n`` samples whose argmax is right with rate ``acc``, max probability about ``conf``."""
    y = rng.integers(0, classes, n)
    pred = np.where(rng.random(n) < acc, y, (y + rng.integers(1, classes, n)) % classes)
    p = np.full((n, classes), (1 - conf) / (classes - 1))
    p[np.arange(n), pred] = conf
    return p, y


def _cand(key, family, source_only, src_acc, tgt_acc, rng, n=400, classes=5, conf_t=None):
    p_s, y_s = _probs(n, classes, src_acc, 0.9, rng)
    # calibrated on the source: right predictions confident, wrong ones not; on the target the same rule
    conf = np.where(p_s.argmax(1) == y_s, 0.95, 0.5)
    p_s = np.where(np.eye(classes, dtype=bool)[p_s.argmax(1)], conf[:, None], ((1 - conf) / (classes - 1))[:, None])
    p_t, y_t = _probs(n, classes, tgt_acc, 0.9, rng)
    right = p_t.argmax(1) == y_t
    conf = np.where(right, 0.95, 0.5) if conf_t is None else np.full(n, conf_t)
    p_t = np.where(np.eye(classes, dtype=bool)[p_t.argmax(1)], conf[:, None], ((1 - conf) / (classes - 1))[:, None])
    return {"key": key, "title": key, "run_id": key, "family": family, "source_only": source_only,
            "strategy": "fine_tuning" if source_only else "mcc", "scores": {}, "p_s": p_s, "y_s": y_s, "p_t": p_t,
            "seconds": 1.0}


def test_atc_estimates_target_accuracy_of_a_calibrated_model():
    rng = np.random.default_rng(0)
    c = _cand("a", "net", True, 0.9, 0.6, rng, n=2000)
    assert portfolio.atc(c) == pytest.approx(0.6, abs=0.05)


def test_family_atc_picks_the_network_whose_source_only_run_transfers_then_its_adapted_run():
    rng = np.random.default_rng(1)
    cands = [_cand("frozen_mcc", "efficientnet_lite0", False, 0.95, 0.30, rng, conf_t=0.99),  # MCC: confident
             _cand("frozen_source", "efficientnet_lite0", True, 0.95, 0.25, rng),
             _cand("pixels_mcc", "small_cnn", False, 0.97, 0.55, rng),
             _cand("pixels_source", "small_cnn", True, 0.97, 0.40, rng)]
    out = portfolio.choose(cands, "family_atc")
    assert out["pick"] == "pixels_mcc" and "small_cnn" in out["why"]
    # the confident adapted run of the wrong network fools plain ATC: why the family rule exists
    assert portfolio.choose(cands, "atc")["pick"] == "frozen_mcc"


def test_family_atc_keeps_the_twin_when_adaptation_broke_the_source_task():
    rng = np.random.default_rng(2)
    cands = [_cand("frozen_mcc", "lite0", False, 0.70, 0.5, rng), _cand("frozen_source", "lite0", True, 0.95, 0.5, rng)]
    out = portfolio.choose(cands, "family_atc")
    assert out["pick"] == "frozen_source" and "source accuracy" in out["why"]


def _voters(accs: dict, rng, n=600, classes=10, src=None):
    """Candidates predicting the same ``n`` target samples: right with their rate in ``accs``, errors scattered."""
    y = rng.integers(0, classes, n)
    out = []
    for key, (family, source_only, acc) in accs.items():
        pred = np.where(rng.random(n) < acc, y, (y + rng.integers(1, classes, n)) % classes)
        p_t = np.full((n, classes), 0.01)
        p_t[np.arange(n), pred] = 0.91
        c = _cand(key, family, source_only, (src or {}).get(key, 0.95), 0.5, rng)
        out.append({**c, "p_t": p_t})
    return out


def test_consensus_picks_the_run_the_others_agree_with_whatever_its_confidence():
    rng = np.random.default_rng(3)
    cands = _voters({"frozen_mcc": ("lite0", False, 0.47), "frozen_source": ("lite0", True, 0.48),
                     "pixels_mcc": ("cnn", False, 0.61), "pixels_source": ("cnn", True, 0.58)}, rng)
    assert portfolio.choose(cands, "consensus")["pick"] == "pixels_mcc"
    assert portfolio.choose(cands)["pick"] == "pixels_mcc"  # every network fits the source: the gate keeps all
    assert portfolio.DEFAULT_RULE == "gated_consensus"


def test_gated_consensus_does_not_trust_a_network_that_fits_the_source_far_worse():
    """Style shift: two weak pixel-trained runs agree on the same wrong classes; they fit the source 15-25 points
    worse than the frozen network, so they are not trusted, and inside one network calibrated IM decides."""
    rng = np.random.default_rng(5)
    y = rng.integers(0, 10, 600)
    wrong = (y + 1) % 10  # the weak runs' shared mistake

    def preds(right_rate, mistakes):
        pred = np.where(rng.random(600) < right_rate, y, mistakes)
        p = np.full((600, 10), 0.01)
        p[np.arange(600), pred] = 0.91
        return p

    spec = {"frozen_mcc": ("lite0", False, 0.94, preds(0.65, (y + rng.integers(1, 10, 600)) % 10), 2.2),
            "frozen_source": ("lite0", True, 0.93, preds(0.35, wrong), 0.8),
            "pixels_source": ("cnn", True, 0.80, preds(0.18, wrong), 0.7),
            "pixels_mcc": ("cnn", False, 0.70, preds(0.14, wrong), 0.7)}
    cands = []
    for key, (fam, so, src, p_t, imcal) in spec.items():
        c = _cand(key, fam, so, src, 0.5, rng)
        cands.append({**c, "p_t": p_t, "scores": {"im_calibrated": imcal}})
    assert portfolio.choose(cands, "consensus")["pick"] != "frozen_mcc"  # the weak runs outvote it
    out = portfolio.choose(cands)
    assert out["pick"] == "frozen_mcc" and "not trusted: pixels_source" in out["why"]


def test_consensus_leaves_out_an_adapted_run_that_broke_the_source_task():
    rng = np.random.default_rng(4)
    cands = _voters({"mcc": ("lite0", False, 0.9), "source": ("lite0", True, 0.7), "other": ("cnn", True, 0.6)}, rng,
                    src={"mcc": 0.6, "source": 0.95, "other": 0.95})
    out = portfolio.choose(cands, "consensus")
    assert out["pick"] != "mcc" and "left out: mcc" in out["why"]
    assert "not trusted: mcc" in portfolio.choose(cands)["why"]
    assert portfolio.choose(cands, "agreement")["pick"] == "mcc"


def test_unknown_rule_and_no_candidates_are_errors():
    with pytest.raises(ValueError, match="unknown rule"):
        portfolio.choose([_cand("a", "n", True, 0.9, 0.5, np.random.default_rng(0))], "nope")
    with pytest.raises(ValueError):
        portfolio.choose([])


def test_candidates_of_an_auto_config():
    image = recommend.portfolio_candidates({"source": {"demo": "digits"}, "target": {"demo": "digits"}})
    assert [c["key"] for c in image] == ["frozen_mcc", "frozen_source", "pixels_source", "pixels_fixmatch_mcc"]
    assert image[1]["config"]["strategy"] == "fine_tuning" and image[1]["config"]["backbone"] == "efficientnet_lite0"
    assert image[3]["config"]["backbone"] == "small_cnn" and "feature_views" not in image[3]["config"]
    assert image[2]["config"]["strategy"] == "fine_tuning" and image[2]["config"]["backbone"] == "small_cnn"
    for c in image:
        RunConfig.from_dict(c["config"])  # every candidate is a valid, non-auto config
        assert c["config"]["strategy"] != "auto"
    text = recommend.portfolio_candidates({"source": {"demo": "reviews"}, "target": {"demo": "reviews"}})
    assert [c["key"] for c in text] == ["partial_mcc", "partial_source", "partial2_mcc"]
    # a GPU, a labelled target or a network the user chose: one recipe
    assert len(recommend.portfolio_candidates({"source": {"demo": "digits"}, "target": {"demo": "digits"}},
                                              gpu=True)) == 1
    assert len(recommend.portfolio_candidates({"source": {"demo": "digits"}, "target": {"demo": "digits",
                                                                                    "labeled_fraction": 1.0}})) == 1
    assert len(recommend.portfolio_candidates({"source": {"demo": "digits"}, "target": {"demo": "digits"},
                                               "backbone": "resnet18"})) == 1


@pytest.fixture
def tiny_portfolio(monkeypatch):
    """The image portfolio with tiny networks: same candidates and code paths, seconds instead of minutes."""
    monkeypatch.setenv("TL_PORTFOLIO_BUDGET_S", "600")
    monkeypatch.setitem(recommend.RECOMMENDED, "image", {**recommend.RECOMMENDED["image"], "backbone": "tiny_cnn",
                                                         "image_size": 16, "epochs": 1, "feature_views": 0,
                                                         "bottleneck": 16})
    monkeypatch.setattr(recommend, "PIXELS_CNN", {**recommend.PIXELS_CNN, "epochs": 1, "image_size": 16})
    image = tuple({**c, "settings": recommend.PIXELS_CNN} if c.get("settings") not in (None, "recommended") else c
                  for c in recommend.PORTFOLIO["image"])
    monkeypatch.setitem(recommend.PORTFOLIO, "image", image)


AUTO = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "max_samples_per_domain": 80, "seed": 0,
        "name": "pf"}


def test_auto_portfolio_runs_every_candidate_and_becomes_the_pick(store, tiny_portfolio):
    events = []
    rec = run_experiment(RunConfig.from_dict(AUTO), store, callbacks=[events.append])
    assert rec.status == "completed"
    pf = store.metrics(rec.run_id)["portfolio"]
    ran = [c["key"] for c in pf["candidates"]]  # a network that fits the source far worse is not run further
    assert ran[:3] == ["frozen_mcc", "frozen_source", "pixels_source"]
    assert ran + pf["skipped_or_failed"] == ["frozen_mcc", "frozen_source", "pixels_source", "pixels_fixmatch_mcc"]
    assert sum(c["picked"] for c in pf["candidates"]) == 1 and pf["rule"] == portfolio.DEFAULT_RULE and pf["why"]
    pick = next(c for c in pf["candidates"] if c["picked"])
    child = store.get(pick["run_id"])
    assert child.status == "completed" and child.config["resolved_from"] == f"portfolio {rec.run_id}"
    assert child.name.startswith("pf · candidate ")
    # the parent is the pick: its settings, accuracy and files
    assert rec.strategy == child.strategy and rec.backbone == child.backbone and rec.target_acc == child.target_acc
    assert rec.config["resolved_from"] == "auto" and rec.config["strategy"] == child.config["strategy"]
    for name in ("model.safetensors", "predictions_target_test.csv", "features_after.npz", "split.json"):
        assert store.path(rec.run_id, name).read_bytes() == store.path(child.run_id, name).read_bytes(), name
    # "Show what transfer buys": the twin of the parent is the source-only run of the pick's own network
    twin = recommend.source_only_twin(rec.config)
    assert twin["backbone"] == child.backbone and twin["strategy"] == "fine_tuning"
    kinds = [(e.get("candidate"), e.get("status")) for e in events if e.get("type") == "portfolio"]
    assert ("frozen_mcc", "completed") in kinds and (None, "picked") in kinds
    assert all(c["atc"] is not None and c["source_accuracy"] is not None for c in pf["candidates"])
    # the job card's summary: every candidate, the pick, and the pick against its network's source-only run
    from tlcore.evaluation.summary import portfolio_summary
    from ui.portfolio_card import table_rows

    summary = portfolio_summary(store, rec.run_id)
    assert len(summary["rows"]) == len(ran) and summary["pick"]["run_id"] == child.run_id
    assert summary["text"].startswith("Picked: ")
    if not summary["pick"]["source_only"]:  # the digits demo is labeled: the gain and a paired test are shown
        assert summary["twin"]["network"] == child.backbone and summary["gain"] is not None
        assert "What transfer buys" in summary["text"] and "McNemar" in summary["text"]
    else:
        assert "source-only run of its network" in summary["text"]
    rows = table_rows(summary)
    assert [r[""] for r in rows].count("✔ picked") == 1 and all(r["target test acc. % (not used to pick)"] != "–"
                                                             for r in rows)
    assert portfolio_summary(store, child.run_id) is None  # an ordinary run has no portfolio
    # the running job card's "finished so far": every candidate run of this parent, oldest first, none other
    from ui.portfolio_card import so_far_lines

    done = portfolio.finished_candidates(store, rec.run_id)
    assert [d["run_id"] for d in done] == [c["run_id"] for c in pf["candidates"]]
    assert portfolio.finished_candidates(store, child.run_id) == []
    lines = so_far_lines(done)
    assert len(lines) == len(ran) and lines[0].startswith("candidate 1/") and "target test" in lines[0]
    assert "source validation" in so_far_lines([{**done[0], "target_accuracy": None}])[0]
    assert "target test" not in so_far_lines([{**done[0], "target_accuracy": None}])[0]


def test_budget_spent_after_the_first_candidate_skips_the_rest(store, tiny_portfolio, monkeypatch):
    monkeypatch.setenv("TL_PORTFOLIO_BUDGET_S", "0.001")
    rec = run_experiment(RunConfig.from_dict(AUTO), store)
    pf = store.metrics(rec.run_id)["portfolio"]
    assert [c["key"] for c in pf["candidates"]] == ["frozen_mcc"]
    assert pf["skipped_or_failed"] == ["frozen_source", "pixels_source", "pixels_fixmatch_mcc"]


def test_a_failing_candidate_is_recorded_and_the_others_still_run(store, tiny_portfolio, monkeypatch):
    broken = {**recommend.PIXELS_CNN, "lr": 0.5, "epochs": -1}  # refused by the config check
    image = tuple({**c, "settings": broken} if c["key"] == "pixels_fixmatch_mcc" else c
                  for c in recommend.PORTFOLIO["image"] if c["key"] != "pixels_source")
    monkeypatch.setitem(recommend.PORTFOLIO, "image", image)
    rec = run_experiment(RunConfig.from_dict(AUTO), store)
    pf = store.metrics(rec.run_id)["portfolio"]
    assert rec.status == "completed" and pf["skipped_or_failed"] == ["pixels_fixmatch_mcc"]
    assert {c["key"] for c in pf["candidates"]} == {"frozen_mcc", "frozen_source"}


def test_cancelling_a_portfolio_cancels_the_parent(store, tiny_portfolio):
    with pytest.raises(Cancelled):
        run_experiment(RunConfig.from_dict(AUTO), store, cancel_check=lambda: True)
    parents = [r for r in store.list() if not str(r.config.get("resolved_from", "")).startswith("portfolio")]
    assert [r.status for r in parents] == ["cancelled"]


def test_the_cli_says_what_the_portfolio_tried_and_picked(tl_home, tiny_portfolio, capsys):
    import json

    from tlcore.__main__ import main

    assert main(["train", "--demo", "digits", "--quiet", "--set", "max_samples_per_domain=80"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    pf = out["portfolio"]
    assert pf["pick"] in {c["key"] for c in pf["candidates"]} and pf["text"].startswith("Picked: ")
    assert sum(c["picked"] for c in pf["candidates"]) == 1 and out["resolved_from"] == "auto"
