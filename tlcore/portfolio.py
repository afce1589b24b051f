"""``strategy: auto`` as a small portfolio of recipes, one picked without target labels (issue 25).

The candidates (:func:`tlcore.recommend.portfolio_candidates`) run one after another on the same pair, split and
seed, each as an ordinary run of the store (named ``<name> · candidate k/n: <title>``, tagged
``resolved_from: "portfolio <parent id>"``), until the time budget (``TL_PORTFOLIO_BUDGET_S``) is spent. A label-free
rule then picks one; the *parent* run (the one the user started) becomes a copy of the pick (its settings, model,
predictions, features and metrics), with ``metrics["portfolio"]`` recording every candidate, its scores, time, and
why the pick won. *Show what transfer buys* then compares the pick with the source-only twin of its own network.

Rules (plain functions over candidates read back from their run files; target labels are never read):

* ``gated_consensus`` (default): first the *trusted* candidates: those whose source accuracy is within
  :data:`SOURCE_GAP` points of the best candidate's (a network that fits the source clearly worse is not trusted
  on the target: target error is bounded by source error plus a divergence, Ben-David et al. 2010) and whose
  adaptation did not cost more than :data:`SOURCE_DROP` points against their own network's source-only run. Among
  them, when they span several networks, the one whose target predictions agree most with the other trusted
  candidates' (right answers coincide while errors scatter; each adapted run is paired with its network's
  source-only run, so no network outvotes another by numbers); when they are runs of one network, the highest
  calibrated IM (measured to rank runs of one network). A candidate of a network whose finished run already
  failed the source gate is not run at all (the small CNN on natural photos).
* ``consensus``: the agreement part alone, among the candidates that kept their source accuracy against their
  twin (no gate across networks): it picks the pixel-trained network on colour/texture shift, but on style shift,
  where several weak recipes agree on the same wrong classes, it follows them (``bench/results/portfolio.md``).
* ``im_calibrated_gated``: the project's default validator (:mod:`tlcore.evaluation.validators`), which rewards
  confident target predictions after temperature scaling, among runs at or above the median source accuracy.
  Works among runs of one network; across networks, adaptation losses that sharpen predictions (MCC) win it.
* ``atc``: Average Thresholded Confidence (Garg et al., "Leveraging Unlabeled Data to Predict Out-of-Distribution
  Performance", ICLR 2022): the confidence threshold at which the share of source validation samples above it
  equals the source accuracy; the share of target samples above it estimates target accuracy.
* ``family_atc``: first the *network* by the ATC estimate of its **source-only** run (no loss sharpened its target
  predictions), then inside it an adapted run (calibrated IM among several) unless adaptation broke the source
  task. Accurate for most source-only runs, but a from-scratch CNN is under-confident on colour/texture shift.
* ``agreement`` (consensus without the source guard), ``source_accuracy``; ``circular`` (reverse validation in
  the run's own features, Bruzzone & Marconcini 2010) and ``dev`` (deep embedded validation, You et al. ICML 2019),
  both from the run's stored label-free scores.
"""
from __future__ import annotations

import math
import time

import numpy as np

DEFAULT_RULE = "gated_consensus"
SOURCE_DROP = 10.0  # points of source accuracy an adapted run may lose against its twin and still be trusted (MCC on
# books -> kitchen cost 7.5 points of source accuracy for +12 on the target: bench/results/portfolio.md)
SOURCE_ONLY = ("fine_tuning", "scratch", "linear_probe")


# -- reading a candidate back ---------------------------------------------------------------------------------
def load_candidate(store, run_id: str, key: str, title: str = "") -> dict:
    """A candidate as plain data: its network family, whether it is source-only, its label-free scores, and its
    source-validation (probabilities, labels) and unlabeled-target probabilities, read from its run files."""
    from tlcore.evaluation.compare import predictions

    rec = store.get(run_id)
    cfg, m = rec.config or {}, store.metrics(run_id) or {}
    classes = list(m.get("classes") or [])
    cols = [f"p_{c}" for c in classes]
    sv, tt = predictions(store, run_id, "source_val"), predictions(store, run_id, "target_train")
    index = {str(c): i for i, c in enumerate(classes)}
    p_s = sv[cols].to_numpy(float) if len(sv) and cols else np.zeros((0, len(cols)))
    y_s = np.array([index.get(str(v), -1) for v in sv["true"]]) if len(sv) else np.zeros(0, int)
    ok = y_s >= 0
    p_t = tt[cols].to_numpy(float) if len(tt) and cols else np.zeros((0, len(cols)))
    return {"key": key, "title": title or key, "run_id": run_id, "family": str(cfg.get("backbone")),
            "source_only": cfg.get("strategy") in SOURCE_ONLY, "strategy": cfg.get("strategy"),
            "scores": dict(((m.get("target_unsupervised") or {}).get("scores")) or {}),
            "p_s": p_s[ok], "y_s": y_s[ok], "p_t": p_t, "seconds": rec.seconds}


# -- label-free estimates -------------------------------------------------------------------------------------
def source_accuracy(c: dict) -> float:
    return float((c["p_s"].argmax(1) == c["y_s"]).mean()) if len(c["y_s"]) else float("nan")


def atc(c: dict) -> float:
    """ATC with the negative-entropy score: estimated target accuracy in [0, 1] (nan without outputs)."""
    if not len(c["y_s"]) or not len(c["p_t"]):
        return float("nan")

    def score(p):
        p = np.clip(p, 1e-12, 1.0)
        return (p * np.log(p)).sum(1)

    s_s, s_t = score(c["p_s"]), score(c["p_t"])
    acc = source_accuracy(c)
    t = np.quantile(s_s, 1.0 - acc) if acc < 1.0 else s_s.min() - 1e-12
    # share of target samples above the threshold; samples exactly at it count by the share the source needs
    above, at = float((s_t > t).mean()), float((s_t == t).mean())
    need_s = acc - float((s_s > t).mean())
    at_s = float((s_s == t).mean())
    return above + (at * need_s / at_s if at_s > 0 else 0.0)


def agreement(c: dict, others: list[dict]) -> float:
    other = [o for o in others if o is not c and len(o["p_t"]) == len(c["p_t"])]
    if not other or not len(c["p_t"]):
        return float("nan")
    mine = c["p_t"].argmax(1)
    return float(np.mean([(mine == o["p_t"].argmax(1)).mean() for o in other]))


def _finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


# -- rules ----------------------------------------------------------------------------------------------------
def _by_score(cands: list[dict], scores: dict, what: str) -> dict:
    scored = [c for c in cands if _finite(scores.get(c["key"]))]
    if not scored:
        return {"pick": cands[0]["key"], "scores": scores, "why": f"no candidate has {what}; the first is kept"}
    best = max(scored, key=lambda c: scores[c["key"]])  # ties: the earlier (cheaper, recommended) candidate
    return {"pick": best["key"], "scores": scores, "why": f"highest {what} ({scores[best['key']]:.3f})"}


def rule_im_calibrated_gated(cands: list[dict]) -> dict:
    from tlcore.evaluation.selection import rank_runs

    ranked = rank_runs([{"run_id": c["key"], "scores": c["scores"], "accuracy": None} for c in cands],
                       "im_calibrated_gated")
    scores = {c["run_id"]: c["score"] for c in ranked}
    if not ranked:
        return _by_score(cands, {}, "im_calibrated_gated")
    return {"pick": ranked[0]["run_id"], "scores": scores,
            "why": "highest calibrated information maximisation among runs at or above the median source accuracy"}


def rule_atc(cands: list[dict]) -> dict:
    return _by_score(cands, {c["key"]: atc(c) for c in cands}, "estimated target accuracy (ATC)")


def rule_agreement(cands: list[dict]) -> dict:
    return _by_score(cands, {c["key"]: agreement(c, cands) for c in cands}, "agreement with the other candidates")


def rule_source_accuracy(cands: list[dict]) -> dict:
    return _by_score(cands, {c["key"]: source_accuracy(c) for c in cands}, "source validation accuracy")


def rule_family_atc(cands: list[dict]) -> dict:
    families: dict[str, list[dict]] = {}
    for c in cands:
        families.setdefault(c["family"], []).append(c)
    est = {}
    for fam, members in families.items():
        ref = [m for m in members if m["source_only"]] or members
        vals = [atc(m) for m in ref]
        est[fam] = max((v for v in vals if _finite(v)), default=float("nan"))
    fams = [f for f in families if _finite(est[f])]
    if not fams:
        return _by_score(cands, {}, "an ATC estimate")
    fam = max(fams, key=lambda f: est[f])  # ties: the earlier family (the recommended network)
    members = families[fam]
    twin = next((m for m in members if m["source_only"]), None)
    adapted = [m for m in members if not m["source_only"]]
    base = source_accuracy(twin) if twin else float("nan")
    kept = [a for a in adapted if not (_finite(base) and 100 * (base - source_accuracy(a)) > SOURCE_DROP)]
    if kept:
        pick = max(kept, key=lambda a: (_finite(a["scores"].get("im_calibrated")),
                                        a["scores"].get("im_calibrated") or 0.0)) if len(kept) > 1 else kept[0]
        why_in = (f"its adapted run{' with the highest calibrated IM score' if len(kept) > 1 else ''} (source "
                  f"accuracy within {SOURCE_DROP:g} points of the source-only run's)")
    elif adapted:
        pick, why_in = twin, (f"every adapted run lost more than {SOURCE_DROP:g} points of source accuracy against "
                              "the source-only run, so that one is kept")
    else:
        pick, why_in = twin or members[0], "the only run of that network"
    scores = {c["key"]: est[c["family"]] for c in cands}
    others = ", ".join(f"{f} {100 * est[f]:.1f} %" for f in fams if f != fam)
    why = (f"network {fam}: its source-only run's estimated target accuracy (ATC) is {100 * est[fam]:.1f} %"
           + (f" (other networks: {others})" if others else "") + f"; within it, {why_in}")
    return {"pick": pick["key"], "scores": scores, "why": why}


def _broke_source(c: dict, cands: list[dict]) -> bool:
    """An adapted run that lost more than :data:`SOURCE_DROP` points of source accuracy against the source-only run
    of its own network."""
    twin = next((o for o in cands if o["family"] == c["family"] and o["source_only"]), None)
    if c["source_only"] or twin is None:
        return False
    drop = 100 * (source_accuracy(twin) - source_accuracy(c))
    return _finite(drop) and drop > SOURCE_DROP


SOURCE_GAP = 10.0  # points of source accuracy below the best candidate's at which a network is not trusted


def _trusted(cands: list[dict]) -> tuple[list[dict], list[str]]:
    """Candidates that fit the source about as well as the best one (within :data:`SOURCE_GAP` points: the target
    error of a run is bounded by its source error plus a divergence term, Ben-David et al. 2010, so a network that
    fits the source clearly worse is not trusted on the target) and, for adapted runs, did not lose more than
    :data:`SOURCE_DROP` points against their own network's source-only run. Returns (kept, reasons left out)."""
    accs = [source_accuracy(c) for c in cands]
    best = max((a for a in accs if _finite(a)), default=float("nan"))
    kept, why = [], []
    for c, a in zip(cands, accs):
        if _finite(best) and _finite(a) and 100 * (best - a) > SOURCE_GAP:
            why.append(f"{c['key']} (source accuracy {100 * a:.1f} %, more than {SOURCE_GAP:g} points below the "
                       f"best recipe's {100 * best:.1f} %)")
        elif _broke_source(c, cands):
            why.append(f"{c['key']} (lost more than {SOURCE_DROP:g} points of source accuracy against the "
                       "source-only run of its network)")
        else:
            kept.append(c)
    return (kept or list(cands)), why


def rule_gated_consensus(cands: list[dict]) -> dict:
    """Among the trusted candidates (:func:`_trusted`): when they span several networks, the one agreeing most
    with the other trusted candidates' target predictions (:func:`rule_consensus`'s argument; each adapted run is
    paired with its network's source-only run, so no network outvotes another by numbers); when they are runs of
    one network, the highest calibrated IM (the validator measured to rank runs of one network,
    bench/results/validators_findings.md)."""
    kept, left_out = _trusted(cands)
    networks = {c["family"] for c in kept}
    if len(networks) > 1:
        scores = {c["key"]: agreement(c, kept) for c in kept}
        out = _by_score(kept, scores, "mean agreement with the other trusted recipes' target predictions")
    else:
        scores = {c["key"]: c["scores"].get("im_calibrated") for c in kept}
        out = _by_score(kept, scores, "calibrated information maximisation among the runs of one network")
    if left_out:
        out["why"] += "; not trusted: " + "; ".join(left_out)
    return out


def rule_consensus(cands: list[dict]) -> dict:
    """The candidate whose target predictions agree most, on average, with every other candidate's, among those
    that did not break the source task. Errors of different recipes scatter while right answers coincide, so the
    most accurate run tends to agree most with the rest; the portfolio pairs every adapted run with its network's
    source-only run, so each candidate has exactly one same-network partner and no network is over-represented
    (agreement-based accuracy estimation: Platanios et al., "Estimating Accuracy from Unlabeled Data", UAI 2014;
    Jiang et al., "Assessing Generalization of SGD via Disagreement", ICLR 2022)."""
    kept = [c for c in cands if not _broke_source(c, cands)] or list(cands)
    scores = {c["key"]: agreement(c, cands) for c in cands}
    out = _by_score(kept, scores, "mean agreement with the other recipes' target predictions")
    dropped = [c["key"] for c in cands if c not in kept]
    if dropped:
        out["why"] += (f"; left out: {', '.join(dropped)} (lost more than {SOURCE_DROP:g} points of source accuracy "
                       "against the source-only run of the same network)")
    return out


def rule_circular(cands: list[dict]) -> dict:
    return _by_score(cands, {c["key"]: c["scores"].get("circular") for c in cands},
                     "circular (reverse) validation accuracy")


def rule_dev(cands: list[dict]) -> dict:
    return _by_score(cands, {c["key"]: c["scores"].get("dev") for c in cands},
                     "deep embedded validation (importance-weighted source loss)")


RULES = {"gated_consensus": rule_gated_consensus, "consensus": rule_consensus, "family_atc": rule_family_atc, "im_calibrated_gated": rule_im_calibrated_gated, "atc": rule_atc,
         "agreement": rule_agreement, "source_accuracy": rule_source_accuracy, "circular": rule_circular,
         "dev": rule_dev}


def choose(cands: list[dict], rule: str = DEFAULT_RULE) -> dict:
    """``{"rule", "pick" (a candidate key), "scores" {key: value}, "why"}``; ``cands`` as :func:`load_candidate`
    gives them (at least one)."""
    if not cands:
        raise ValueError("choose: no candidates")
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
    return {"rule": rule, **RULES[rule](cands)}


# -- running a portfolio --------------------------------------------------------------------------------------
def budget_s() -> float:
    from tlcore.settings import get_float

    return get_float("TL_PORTFOLIO_BUDGET_S")


def run_portfolio(parent_id: str, cands: list[dict], store, run_one, emit, name: str = "") -> dict:
    """Run ``cands`` (``[{"key", "title", "config"}]``) with ``run_one(config_dict, on_event) -> RunRecord`` and
    pick one. Returns ``{"pick", "pick_run", "config", "metrics", "portfolio"}``; the parent's files are not
    touched here (:meth:`tlcore.runs.recorder.Recorder.adopt` copies the pick's files). Raises the first candidate's error when no candidate completed."""
    t0, budget, done, first_error = time.time(), budget_s(), [], None
    n, source_acc = len(cands), {}
    for k, cand in enumerate(cands, 1):
        spent = time.time() - t0
        if done and spent > budget:
            emit({"type": "portfolio", "candidate": cand["key"], "status": "skipped",
                  "message": f"time budget of {budget:.0f} s spent ({spent:.0f} s)"})
            continue
        weak = _untrusted_network(cand, source_acc)
        if weak:  # a network already seen to fit the source far worse than another: not run again
            emit({"type": "portfolio", "candidate": cand["key"], "status": "skipped", "message": weak})
            continue
        label = f"{name + ' · ' if name else ''}candidate {k}/{n}: {cand['title']}"
        cfg = {**cand["config"], "name": label, "resolved_from": f"portfolio {parent_id}"}
        emit({"type": "portfolio", "candidate": cand["key"], "status": "running", "index": k, "of": n,
              "title": cand["title"]})

        def forward(event, key=cand["key"], k=k):
            if event.get("type") in ("epoch", "phase", "step", "progress"):
                emit({**event, "candidate": key, "candidate_index": k, "candidates": n})

        c0 = time.time()
        try:
            rec = run_one(cfg, forward)
        except Exception as exc:  # noqa: BLE001 - one failed candidate does not fail the portfolio
            from tlcore.errors import Cancelled

            if isinstance(exc, Cancelled):
                raise
            first_error = first_error or exc
            emit({"type": "portfolio", "candidate": cand["key"], "status": "failed", "error": str(exc)[:500]})
            continue
        done.append((cand, rec, round(time.time() - c0, 1)))
        source_acc[cand["key"]] = (str(cand["config"].get("backbone")),
                                   source_accuracy(load_candidate(store, rec.run_id, cand["key"])))
        emit({"type": "portfolio", "candidate": cand["key"], "status": "completed", "run_id": rec.run_id,
              "seconds": round(time.time() - c0, 1)})
    if not done:
        raise first_error or RuntimeError("no portfolio candidate ran")
    loaded = [load_candidate(store, rec.run_id, cand["key"], cand["title"]) for cand, rec, _ in done]
    choice = choose(loaded)
    others = {r: choose(loaded, r)["pick"] for r in RULES if r != choice["rule"]}
    pick_cand, pick_rec, _ = next(d for d in done if d[0]["key"] == choice["pick"])
    rows = []
    for (cand, rec, secs), c in zip(done, loaded):
        rows.append({"key": cand["key"], "title": cand["title"], "run_id": rec.run_id, "strategy": c["strategy"],
                     "backbone": c["family"], "source_only": c["source_only"], "seconds": secs,
                     "score": _round(choice["scores"].get(cand["key"])), "atc": _round(atc(c)),
                     "source_accuracy": _round(source_accuracy(c)),
                     "im_calibrated_gated": _round(c["scores"].get("im_calibrated_gated")),
                     "picked": cand["key"] == choice["pick"]})
    skipped = [c["key"] for c in cands if c["key"] not in {d[0]["key"] for d in done}]
    portfolio = {"rule": choice["rule"], "pick": choice["pick"], "why": choice["why"], "candidates": rows,
                 "skipped_or_failed": skipped, "budget_s": budget, "seconds": round(time.time() - t0, 1),
                 "other_rules": others}
    return {"pick": choice["pick"], "pick_run": pick_rec.run_id, "config": pick_cand["config"],
            "metrics": store.metrics(pick_rec.run_id) or {}, "portfolio": portfolio}


def _untrusted_network(cand: dict, source_acc: dict) -> str | None:
    """Why ``cand`` is not worth running: a finished run of its network fits the source more than
    :data:`SOURCE_GAP` points worse than the best finished run (the rule would not trust it either)."""
    accs = [a for _, a in source_acc.values() if _finite(a)]
    if not accs:
        return None
    best, network = max(accs), str(cand["config"].get("backbone"))
    mine = [a for fam, a in source_acc.values() if fam == network and _finite(a)]
    if mine and 100 * (best - max(mine)) > SOURCE_GAP:
        return (f"its network ({network}) reached {100 * max(mine):.1f} % source accuracy, more than {SOURCE_GAP:g} "
                f"points below the best recipe's {100 * best:.1f} %: not trusted, so not run")
    return None


def _round(x, nd: int = 4):
    return round(float(x), nd) if _finite(x) else None
