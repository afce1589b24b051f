"""The label-free rules of the ``auto`` portfolio (:mod:`tlcore.portfolio`, whose docstring describes each):
candidates read back from their run files, the estimates they are compared by, and :func:`choose`.
Target labels are never read."""
from __future__ import annotations

import math

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


def _family_estimates(cands: list[dict]) -> tuple[dict[str, list[dict]], dict[str, float]]:
    """Candidates by network, and each network's estimated target accuracy: the best ATC of its source-only runs
    (of all its runs when it has none)."""
    families: dict[str, list[dict]] = {}
    for c in cands:
        families.setdefault(c["family"], []).append(c)
    est = {}
    for fam, members in families.items():
        ref = [m for m in members if m["source_only"]] or members
        est[fam] = max((v for v in map(atc, ref) if _finite(v)), default=float("nan"))
    return families, est


def _pick_within_family(members: list[dict]) -> tuple[dict, str]:
    """One network's run: its adapted run that kept its source accuracy (the highest calibrated IM score among
    several), else its source-only run."""
    twin = next((m for m in members if m["source_only"]), None)
    adapted = [m for m in members if not m["source_only"]]
    base = source_accuracy(twin) if twin else float("nan")
    kept = [a for a in adapted if not (_finite(base) and 100 * (base - source_accuracy(a)) > SOURCE_DROP)]
    if len(kept) > 1:
        pick = max(kept, key=lambda a: (_finite(a["scores"].get("im_calibrated")),
                                        a["scores"].get("im_calibrated") or 0.0))
        return pick, (f"its adapted run with the highest calibrated IM score (source accuracy within "
                      f"{SOURCE_DROP:g} points of the source-only run's)")
    if kept:
        return kept[0], (f"its adapted run (source accuracy within {SOURCE_DROP:g} points of the source-only "
                         "run's)")
    if adapted:
        return twin, (f"every adapted run lost more than {SOURCE_DROP:g} points of source accuracy against the "
                      "source-only run, so that one is kept")
    return twin or members[0], "the only run of that network"


def rule_family_atc(cands: list[dict]) -> dict:
    families, est = _family_estimates(cands)
    fams = [f for f in families if _finite(est[f])]
    if not fams:
        return _by_score(cands, {}, "an ATC estimate")
    fam = max(fams, key=lambda f: est[f])  # ties: the earlier family (the recommended network)
    pick, why_in = _pick_within_family(families[fam])
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
