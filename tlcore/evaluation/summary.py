"""One-line outcomes of finished runs and the summary of a batch ("Run all strategies"), as plain data + text.

The dashboard shows these sentences on finished job cards and under a finished batch; the figures come from
the runs' ``metrics.json`` and predictions, so the CLI and the pages read the same thing.
"""
from __future__ import annotations

import json

from tlcore.errors import TLError
from tlcore.evaluation.compare import NotPaired, paired_test
from tlcore.sweep_naming import BASELINES

UNSUPERVISED_SHOWN = ("im", "snd", "entropy")  # label-free scores named on a card when the target is unlabeled


def duration_text(seconds) -> str:
    if seconds is None:
        return "?"
    s = int(round(float(seconds)))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def _pct(v) -> str:
    return f"{100 * float(v):.1f}%"


def run_outcome(metrics: dict | None, seconds: float | None = None) -> dict:
    """What a finished run achieved, for its job card.

    Returns:
        ``{"target_acc", "target_acc_ci", "unlabeled" (bool), "seconds", "text"}``; ``text`` is one sentence such
        as ``"Target accuracy 64.3% [61.2%, 67.5%] (95% CI, 500 test samples) in 12 s"``.
    """
    m = metrics or {}
    tt = m.get("target_test") or {}
    out = {"target_acc": tt.get("accuracy"), "target_acc_ci": tt.get("accuracy_ci"), "seconds": seconds,
           "unlabeled": bool(tt.get("unlabeled")) or tt.get("accuracy") is None}
    took = f" in {duration_text(seconds)}" if seconds is not None else ""
    if not out["unlabeled"]:
        ci, n = tt.get("accuracy_ci"), tt.get("n")
        interval, notes = "", []
        if ci and len(ci) == 2 and None not in ci:
            interval = f" [{_pct(ci[0])}, {_pct(ci[1])}]"
            notes.append("95% CI")
        if n:
            notes.append(f"{n} test samples")
        out["text"] = (f"Target accuracy {_pct(tt['accuracy'])}{interval}"
                       + (f" ({', '.join(notes)})" if notes else "") + took)
        return out
    parts = []
    sv = (m.get("source_val") or {}).get("accuracy")
    if sv is not None:
        parts.append(f"source validation accuracy {_pct(sv)}")
    scores = (m.get("target_unsupervised") or {}).get("scores") or {}
    named = [f"{k} {scores[k]:.3g}" for k in UNSUPERVISED_SHOWN if isinstance(scores.get(k), (int, float))]
    if named:
        parts.append("label-free scores " + ", ".join(named) + " (higher is better)")
    out["text"] = ("Unlabeled target: no target accuracy to report" + (f"; {'; '.join(parts)}" if parts else "")
                   + took)
    return out


def batch_summary(store, run_ids: list[str], n_resamples: int = 1000, seed: int = 0) -> dict:
    """The outcome of a batch of runs on one pair (e.g. one per strategy): the winner on target accuracy, its
    gain over the source-only baseline (``fine_tuning``) and a paired test of the two on the same test samples.

    Returns:
        ``{"ranking": [{"run_id", "strategy", "target_acc", "target_acc_ci"}...] (best first), "winner",
        "baseline", "gain", "paired": {...} | None, "failed": [run_id...], "text": str}``.
    """
    ranking, failed = _completed_runs(store, run_ids)
    scored = _ranked(ranking)
    out = {"ranking": scored + [r for r in ranking if r["target_acc"] is None], "winner": None, "baseline": None,
           "gain": None, "paired": None, "failed": failed}
    if not ranking:
        out["text"] = "No run of the batch completed."
        return out
    if not scored:
        out["text"] = (f"{len(ranking)} runs completed; the target is unlabeled, so there is no target accuracy to "
                       "rank them by (see the label-free scores on Compare).")
        return out
    text = _winner_text(store, scored, out, n_resamples, seed)
    if failed:
        text += f". {len(failed)} run(s) did not complete (their cards say why)"
    out["text"] = text + "."
    return out


def _completed_runs(store, run_ids: list[str]) -> tuple[list[dict], list[str]]:
    """The completed runs of a batch as ranking rows (unknown ids skipped) and the ids of those that did not
    complete."""
    ranking, failed = [], []
    for rid in run_ids:
        try:
            rec = store.get(rid)
        except TLError:
            continue
        if rec.status != "completed":
            failed.append(rid)
            continue
        tt = (store.metrics(rid) or {}).get("target_test") or {}
        ranking.append({"run_id": rid, "strategy": rec.strategy, "target_acc": tt.get("accuracy"),
                        "target_acc_ci": tt.get("accuracy_ci")})
    return ranking, failed


def _ranked(ranking: list[dict]) -> list[dict]:
    """The rows with a target accuracy, best first; on a tie the baseline ranks first (a strategy must beat it
    to "win")."""
    base_name = BASELINES["source_only"]
    return sorted((r for r in ranking if r["target_acc"] is not None),
                  key=lambda r: (-r["target_acc"], r["strategy"] != base_name))


def _winner_text(store, scored: list[dict], out: dict, n_resamples: int, seed: int) -> str:
    """Fills ``winner`` (and ``baseline``, ``gain``, ``paired`` when a source-only run is there) in ``out``;
    returns the sentence about them."""
    winner = scored[0]
    out["winner"] = winner
    text = f"Best: {winner['strategy']} with {_pct(winner['target_acc'])} target accuracy"
    base = next((r for r in scored if r["strategy"] == BASELINES["source_only"]), None)
    if base is None:
        return text + "; no source-only (fine_tuning) run in the batch to compare with"
    if base["run_id"] == winner["run_id"]:
        return (f"No strategy beat source-only ({base['strategy']}, {_pct(base['target_acc'])} target accuracy)"
                + (f"; {len(scored) - 1} other(s) reached at most that" if len(scored) > 1 else ""))
    out["baseline"], out["gain"] = base, winner["target_acc"] - base["target_acc"]
    text += f", {100 * out['gain']:+.1f} points over source-only ({base['strategy']}, {_pct(base['target_acc'])})"
    return text + _paired_text(store, base, winner, out, n_resamples, seed)


def _paired_text(store, base: dict, winner: dict, out: dict, n_resamples: int, seed: int) -> str:
    """The paired test of the winner against the baseline on the same test samples (stored in ``out["paired"]``),
    as a clause."""
    try:
        p = paired_test(store, base["run_id"], winner["run_id"], n_resamples=n_resamples, seed=seed)
    except NotPaired as exc:
        return f"; no paired test ({exc})"
    out["paired"] = {"mcnemar_p": p["mcnemar"]["p_value"], "diff_ci": p["accuracy"]["ci"], "n": p["n"]}
    ci = p["accuracy"]["ci"]
    text = (f"; paired test on the same {p['n']} test samples: McNemar p = {format_p(p['mcnemar']['p_value'])}"
            + (f", difference 95% CI [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}] points" if ci else ""))
    return text + (" (significant at 0.05)" if p["mcnemar"]["p_value"] < 0.05 else " (not significant at 0.05)")


def format_p(p, digits: int = 3) -> str:
    """A p-value as text with ``digits`` significant digits; below 1e-300 (where doubles lose precision and
    underflow to 0) ``< 1e-300``, never ``0``."""
    if p is None:
        return "–"
    p = float(p)
    if p < 1e-300:
        return "< 1e-300"
    return f"{p:.{digits}g}"


LONG_LIST = 24  # lists longer than this are summarised by ``summarize_record`` (``show --json`` prints them all)


def summarize_record(obj, key: str = ""):
    """A run's record + metrics for people: long lists (curves, per-sample arrays) become a one-line note."""
    if isinstance(obj, dict):
        return {k: summarize_record(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        if len(obj) > LONG_LIST:
            return f"<{len(obj)} items of {key or 'values'}; `show --json` prints them>"
        return [summarize_record(v, key) for v in obj]
    return obj


def pretty_json(obj, indent: int = 2, _level: int = 0) -> str:
    """JSON with one key per line, but lists of plain values (and small dicts of them) kept on one line."""
    pad, inner = " " * (indent * _level), " " * (indent * (_level + 1))
    flat = (str, int, float, bool, type(None))
    def plain(v) -> bool:
        return isinstance(v, flat) or (isinstance(v, list) and all(isinstance(x, flat) for x in v))

    if isinstance(obj, list) and all(plain(v) for v in obj):
        return json.dumps(obj, default=str)
    if isinstance(obj, dict) and obj:
        rows = [f"{inner}{json.dumps(str(k))}: {pretty_json(v, indent, _level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(rows) + "\n" + pad + "}"
    if isinstance(obj, list) and obj:
        rows = [f"{inner}{pretty_json(v, indent, _level + 1)}" for v in obj]
        return "[\n" + ",\n".join(rows) + "\n" + pad + "]"
    return json.dumps(obj, default=str)


def _portfolio_row(store, c: dict) -> dict:
    try:
        acc = ((store.metrics(c["run_id"]) or {}).get("target_test") or {}).get("accuracy")
    except TLError:  # a candidate run deleted since
        acc = None
    return {"candidate": c.get("title"), "network": c.get("backbone"), "source_only": c.get("source_only"),
            "picked": c.get("picked"), "score": c.get("score"), "atc": c.get("atc"),
            "source_accuracy": c.get("source_accuracy"), "target_accuracy": acc, "seconds": c.get("seconds"),
            "run_id": c.get("run_id")}


def _source_only_pick_text(rows: list[dict], pick: dict) -> str:
    adapted = next((r for r in rows if r["network"] == pick["network"] and not r["source_only"]), None)
    return (" The pick is the source-only run of its network: on this data no adaptation recipe was trusted over it"
            + (f" (the adapted run: {adapted['candidate']})" if adapted else "") + ".")


def portfolio_summary(store, run_id: str, n_resamples: int = 1000, seed: int = 0) -> dict | None:
    """What an ``auto`` portfolio run (:mod:`tlcore.portfolio`) tried and what transfer bought, or None for other
    runs.

    Returns ``{"rows": [{"candidate", "network", "source_only", "picked", "score", "atc", "source_accuracy",
    "target_accuracy", "seconds", "run_id"}], "pick", "twin" (the source-only run of the pick's network, or None),
    "gain", "paired", "text"}``. ``target_accuracy`` is filled only where the target has test labels: the pick
    never read them.
    """
    pf = (store.metrics(run_id) or {}).get("portfolio")
    if not pf:
        return None
    rows = [_portfolio_row(store, c) for c in pf.get("candidates") or []]
    pick = next((r for r in rows if r["picked"]), None)
    out = {"rows": rows, "pick": pick, "twin": None, "gain": None, "paired": None}
    if pick is None:
        out["text"] = "No candidate was picked."
        return out
    text = f"Picked: {pick['candidate']} ({pf.get('why', '')})."
    twin = next((r for r in rows if r["network"] == pick["network"] and r["source_only"] and not r["picked"]), None)
    if pick["source_only"]:
        out["text"] = text + _source_only_pick_text(rows, pick)
        return out
    out["twin"] = twin
    if twin is None:
        out["text"] = text + " Its source-only twin did not run (time budget), so there is no gain to show."
        return out
    if pick["target_accuracy"] is None or twin["target_accuracy"] is None:
        out["text"] = text + (f" Its source-only twin ran too ({twin['candidate']}); the target has no test labels, "
                              "so the gain cannot be measured.")
        return out
    out["gain"] = pick["target_accuracy"] - twin["target_accuracy"]
    text += (f" What transfer buys: {_pct(pick['target_accuracy'])} against {_pct(twin['target_accuracy'])} for the "
             f"same network trained on the source only, {100 * out['gain']:+.1f} points")
    paired: dict = {}
    text += _paired_text(store, {"run_id": twin["run_id"]}, {"run_id": pick["run_id"]}, paired, n_resamples, seed)
    out["paired"] = paired.get("paired")
    out["text"] = text + "."
    return out
