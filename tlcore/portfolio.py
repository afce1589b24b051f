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

import time

from tlcore.portfolio_rules import (DEFAULT_RULE, RULES, SOURCE_DROP, SOURCE_GAP, _finite, agreement, atc,  # noqa: F401
                                    choose, load_candidate, source_accuracy)


# -- running a portfolio --------------------------------------------------------------------------------------
def budget_s() -> float:
    from tlcore.settings import get_float

    return get_float("TL_PORTFOLIO_BUDGET_S")


def run_portfolio(parent_id: str, cands: list[dict], store, run_one, emit, name: str = "") -> dict:
    """Run ``cands`` (``[{"key", "title", "config"}]``) with ``run_one(config_dict, on_event) -> RunRecord`` and
    pick one. Returns ``{"pick", "pick_run", "config", "metrics", "portfolio"}``; the parent's files are not
    touched here (:meth:`tlcore.runs.recorder.Recorder.adopt` copies the pick's files). Raises the first candidate's
    error when no candidate completed."""
    t0, budget, done, errors = time.time(), budget_s(), [], []
    n, source_acc = len(cands), {}
    for k, cand in enumerate(cands, 1):
        skip = _skip_reason(cand, bool(done), time.time() - t0, budget, source_acc)
        if skip:
            emit({"type": "portfolio", "candidate": cand["key"], "status": "skipped", "message": skip})
            continue
        label = f"{name + ' · ' if name else ''}candidate {k}/{n}: {cand['title']}"
        c0 = time.time()
        rec = _run_candidate(cand, {**cand["config"], "name": label, "resolved_from": f"portfolio {parent_id}"},
                             k, n, run_one, emit, errors)
        if rec is None:
            continue
        done.append((cand, rec, round(time.time() - c0, 1)))
        source_acc[cand["key"]] = (str(cand["config"].get("backbone")),
                                   source_accuracy(load_candidate(store, rec.run_id, cand["key"])))
        emit({"type": "portfolio", "candidate": cand["key"], "status": "completed", "run_id": rec.run_id,
              "seconds": round(time.time() - c0, 1)})
    if not done:
        raise (errors[0] if errors else RuntimeError("no portfolio candidate ran"))
    return _choose_and_describe(cands, done, store, budget, t0)


def _skip_reason(cand: dict, any_done: bool, spent: float, budget: float, source_acc: dict) -> str | None:
    """Why a candidate is not run: the time budget is spent (the first always runs), or its network already fits
    the source far worse than another's."""
    if any_done and spent > budget:
        return f"time budget of {budget:.0f} s spent ({spent:.0f} s)"
    return _untrusted_network(cand, source_acc)


def _run_candidate(cand: dict, cfg: dict, k: int, n: int, run_one, emit, errors: list):
    """One candidate's run, its progress forwarded with its key; ``None`` (the error kept in ``errors``) when it
    failed: one failed candidate does not fail the portfolio, a Cancel does."""
    from tlcore.errors import Cancelled

    emit({"type": "portfolio", "candidate": cand["key"], "status": "running", "index": k, "of": n,
          "title": cand["title"]})

    def forward(event):
        if event.get("type") in ("epoch", "phase", "step", "progress"):
            emit({**event, "candidate": cand["key"], "candidate_index": k, "candidates": n})

    try:
        return run_one(cfg, forward)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - reported, and the next candidate runs
        errors.append(exc)
        emit({"type": "portfolio", "candidate": cand["key"], "status": "failed", "error": str(exc)[:500]})
        return None


def _choose_and_describe(cands: list[dict], done: list, store, budget: float, t0: float) -> dict:
    loaded = [load_candidate(store, rec.run_id, cand["key"], cand["title"]) for cand, rec, _ in done]
    choice = choose(loaded)
    others = {r: choose(loaded, r)["pick"] for r in RULES if r != choice["rule"]}
    pick_cand, pick_rec, _ = next(d for d in done if d[0]["key"] == choice["pick"])
    rows = [{"key": cand["key"], "title": cand["title"], "run_id": rec.run_id, "strategy": c["strategy"],
             "backbone": c["family"], "source_only": c["source_only"], "seconds": secs,
             "score": _round(choice["scores"].get(cand["key"])), "atc": _round(atc(c)),
             "source_accuracy": _round(source_accuracy(c)),
             "im_calibrated_gated": _round(c["scores"].get("im_calibrated_gated")),
             "picked": cand["key"] == choice["pick"]} for (cand, rec, secs), c in zip(done, loaded)]
    ran = {d[0]["key"] for d in done}
    portfolio = {"rule": choice["rule"], "pick": choice["pick"], "why": choice["why"], "candidates": rows,
                 "skipped_or_failed": [c["key"] for c in cands if c["key"] not in ran], "budget_s": budget,
                 "seconds": round(time.time() - t0, 1), "other_rules": others}
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


def finished_candidates(store, parent_id: str, limit: int = 500) -> list[dict]:
    """The candidates of a running (or finished) ``auto`` run that have completed so far, oldest first: the first
    answer shows while the portfolio still tries the other recipes. ``[{"title", "run_id", "seconds",
    "source_accuracy", "target_accuracy"}]``; ``target_accuracy`` is None when the target has no test labels (the
    pick never reads it)."""
    tag = f"portfolio {parent_id}"
    runs = [r for r in store.list(status="completed", limit=limit) if (r.config or {}).get("resolved_from") == tag]
    return [{"title": r.name.rsplit("candidate ", 1)[-1], "run_id": r.run_id, "seconds": r.seconds,
             "source_accuracy": r.source_acc, "target_accuracy": r.target_acc}
            for r in sorted(runs, key=lambda r: r.created)]
