"""Validator benchmark (issue 13): how well does each unsupervised validator pick the best run?

    nice -n 10 .venv/bin/python bench/validators.py [--pairs ...] [--seeds 0 1] [--max 500] [--report-only]

On MNIST <-> USPS, books <-> kitchen and four Office-Caltech-10 pairs (../shared/data), every strategy below
runs in the frozen-feature regime (deep strategies: frozen pretrained backbone + trained 256-wide bottleneck
and head; skada strategies: classical DA on the same cached features), for each seed. Every run carries its
validator scores (metrics.target_unsupervised, computed from its target-train outputs, no target label).
Per pair and validator: Spearman and Kendall rank correlation between score and target-test accuracy, the
accuracy of the validator's pick, and its regret (best accuracy minus the pick's). Writes
bench/results/validators.json (raw rows, resumable) and bench/results/validators.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DATA = ROOT.parent / "shared" / "data"

from transfer import PAIRS as BASE_PAIRS  # noqa: E402

PAIRS = {  # the four pairs of bench/transfer.py plus four Office-Caltech-10 pairs
    **BASE_PAIRS,
    "amazon_webcam": ("office_caltech10/amazon.zip", "office_caltech10/webcam.zip", "image"),
    "caltech10_amazon": ("office_caltech10/caltech10.zip", "office_caltech10/amazon.zip", "image"),
    "webcam_caltech10": ("office_caltech10/webcam.zip", "office_caltech10/caltech10.zip", "image"),
    "dslr_amazon": ("office_caltech10/dslr.zip", "office_caltech10/amazon.zip", "image"),
}
IMAGE_SIZE = {"mnist_usps": 64, "usps_mnist": 64}  # digits: 64 px; Office-Caltech: 128 px
DEEP = ["linear_probe", "fine_tuning", "dann", "coral", "mmd", "mcc", "self_training"]
SKADA = ["skada_coral", "skada_subspace_alignment", "skada_tca", "skada_ot_mapping", "skada_kmm", "skada_jdot"]
# Musgrave, Belongie & Lim 2022 (arXiv:2208.07360): what the abstract and paper state, no numbers copied
PUBLISHED = [
    "Scale: 8 validators (3 new: BNM, ClassAMI, DEVN; 5 existing) ranked by weighted Spearman correlation with "
    "target accuracy over 1,000,000 checkpoints of UDA algorithms on 31 tasks.",
    "Two of the three new validators reach the state of the art in various settings.",
    "In many cases the state of the art is obtained by a simple baseline method: elaborate validators do not "
    "reliably beat simple ones.",
    "Which validator is best varies with the task and the algorithm: none is reliable everywhere.",
]


def config_for(pair: str, strategy: str, seed: int, max_samples: int) -> dict:
    src, tgt, modality = PAIRS[pair]
    cfg = {"source": {"path": str(DATA / src)}, "target": {"path": str(DATA / tgt)}, "strategy": strategy,
           "seed": seed, "max_samples_per_domain": max_samples, "epochs": 10, "lr": 1e-3,
           "early_stopping_patience": 5}
    if modality == "image":
        cfg.update(backbone="efficientnet_lite0", image_size=IMAGE_SIZE.get(pair, 128), batch_size=64)
    else:
        cfg.update(backbone="minilm_l6", max_length=128, batch_size=32)
    if strategy in DEEP and strategy != "linear_probe":
        cfg.update(bottleneck=256, params={"freeze_backbone": True})
    if strategy == "linear_probe":
        cfg.update(epochs=30)
    if strategy in SKADA:
        cfg.update(epochs=1)  # the head is fitted once; epochs only report
    return cfg


def machine() -> str:
    from transfer import machine as m

    return m()


def run(a) -> list[dict]:
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment
    from tlcore.runs.store import RunStore

    out = ROOT / "bench" / "results" / "validators.json"
    results = json.loads(out.read_text())["results"] if out.exists() else []
    done = {(r["pair"], r["strategy"], r["seed"]) for r in results}
    store = RunStore(a.store or tempfile.mkdtemp(prefix="tl_bench_"))
    for pair in a.pairs:
        for seed in a.seeds:
            for strategy in a.strategies:
                if (pair, strategy, seed) in done:
                    continue
                t0, c0 = time.time(), time.process_time()
                phases = {}

                def on_event(ev, phases=phases):  # CPU seconds at each phase change: robust to a busy machine
                    if ev.get("type") == "phase":
                        phases.setdefault(ev["phase"], time.process_time())

                try:
                    rec = run_experiment(RunConfig.from_dict(config_for(pair, strategy, seed, a.max)), store,
                                         callbacks=[on_event])
                    m = store.metrics(rec.run_id)
                    tu = m.get("target_unsupervised") or {}
                    train_cpu = (phases["evaluating"] - phases["training"]
                                 if {"training", "evaluating"} <= set(phases) else None)
                    row = {"pair": pair, "strategy": strategy, "seed": seed, "run_id": rec.run_id,
                           "target_acc": rec.target_acc, "source_acc": rec.source_acc,
                           "seconds": round(time.time() - t0, 2), "cpu_seconds": round(time.process_time() - c0, 2),
                           "train_cpu_seconds": None if train_cpu is None else round(train_cpu, 3),
                           "seconds_train": m.get("seconds_train"), "validator_seconds": tu.get("seconds"),
                           "validator_cpu_seconds": tu.get("cpu_seconds"), "scores": tu.get("scores") or {}}
                except Exception as exc:  # recorded, and the benchmark goes on
                    row = {"pair": pair, "strategy": strategy, "seed": seed,
                           "error": f"{type(exc).__name__}: {exc}"[:300],
                           "seconds": round(time.time() - t0, 2)}
                results.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "scores"}), flush=True)
                out.write_text(json.dumps({"machine": machine(), "max_samples_per_domain": a.max,
                                           "results": results}, indent=1))
    return results


def with_derived_scores(results: list[dict]) -> list[dict]:
    """Rows recorded before ``im_calibrated_gated`` existed: its stored score is ``im_calibrated``'s by definition
    (the gate is applied when runs are ranked), so it is filled from the row, not re-run."""
    out = []
    for r in results:
        sc = r.get("scores")
        if sc is not None and "im_calibrated_gated" not in sc and "im_calibrated" in sc:
            r = dict(r, scores={**sc, "im_calibrated_gated": sc["im_calibrated"]})
        out.append(r)
    return out


# --- choosing the default without tuning on the test pairs -------------------------------------------------
# Candidate rules (analysis only; the one that holds up is a product validator). Each maps a pair's rows to
# the picked row. Parameter-free: the median is the only split point. "Tuned": a threshold grid.

def _pick_by(rows, key):
    return max(rows, key=key) if rows else None


def _score(r, name):
    v = r["scores"].get(name)
    return -1e18 if v is None else v


def _rank01(rows, name):
    from scipy.stats import rankdata

    return dict(zip((r["run_id"] for r in rows), rankdata([_score(r, name) for r in rows]) / len(rows)))


def _borda(names):
    def pick(rows):
        ranks = [_rank01(rows, n) for n in names]
        return _pick_by(rows, lambda r: sum(rk[r["run_id"]] for rk in ranks))
    return pick


def _gate(base, gate, keep):  # keep(values of the gate over the rows, value) -> bool
    def pick(rows):
        vals = [_score(r, gate) for r in rows]
        kept = [r for r in rows if keep(vals, _score(r, gate))] or rows
        return _pick_by(kept, lambda r: _score(r, base))
    return pick


def candidate_rules() -> dict[str, tuple[str, object]]:
    """name -> (family, pick function)."""
    med = lambda vals, v: v >= statistics.median(vals) - 1e-12  # noqa: E731
    rules = {"im_calibrated": ("parameter-free", lambda rows: _pick_by(rows, lambda r: _score(r, "im_calibrated"))),
             "im_calibrated_gated (median source-accuracy floor)":
                 ("parameter-free", _gate("im_calibrated", "source_accuracy", med)),
             "median circular floor, then im_calibrated": ("parameter-free", _gate("im_calibrated", "circular", med)),
             "Borda: im_calibrated + circular + source_accuracy":
                 ("parameter-free", _borda(["im_calibrated", "circular", "source_accuracy"])),
             "Borda: im_calibrated + circular": ("parameter-free", _borda(["im_calibrated", "circular"])),
             "Borda: im_calibrated + source_accuracy": ("parameter-free", _borda(["im_calibrated", "source_accuracy"])),
             "Borda: im_calibrated + circular + source_accuracy + dev":
                 ("parameter-free", _borda(["im_calibrated", "circular", "source_accuracy", "dev"]))}
    for d in (1, 2, 3, 5, 10, 15):
        rules[f"source accuracy >= best - {d} pts, then im_calibrated"] = (
            "tuned", _gate("im_calibrated", "source_accuracy", lambda vals, v, d=d: v >= max(vals) - d / 100 - 1e-12))
    for k in (3, 5, 8):
        rules[f"top {k} by circular, then im_calibrated"] = (
            "tuned", _gate("im_calibrated", "circular", lambda vals, v, k=k: v >= sorted(vals)[-k] - 1e-12))
    return rules


def _outcome(rows, pick) -> tuple[float, bool]:
    """(regret in points, pick >= median run) of ``pick`` on one set of runs."""
    acc = [r["target_acc"] for r in rows]
    return 100 * (max(acc) - pick["target_acc"]), pick["target_acc"] >= statistics.median(acc) - 1e-9


def heldout_analysis(ok: list[dict], pairs: list[str]) -> dict:
    """In-sample figures of every candidate rule (per pair, and per pair and seed: 13-run sets), and held-out
    figures of the *procedure* "choose the rule on some pairs, apply it to the others" for several rule families
    (leave-one-pair-out, and all 70 splits of the 8 pairs into 4 to choose on and 4 to report on)."""
    import itertools

    rules = candidate_rules()
    seeds = sorted({r["seed"] for r in ok})
    sets = {(p, s): [r for r in ok if r["pair"] == p and (s is None or r["seed"] == s)]
            for p in pairs for s in [None, *seeds]}
    res = {n: {k: _outcome(rows, fn(rows)) for k, rows in sets.items()} for n, (_, fn) in rules.items()}

    def figures(n, keys):
        out = [res[n][k] for k in keys]
        return {"within_2": sum(x[0] <= 2 + 1e-9 for x in out), "not_below_median": sum(x[1] for x in out),
                "mean_regret": statistics.mean(x[0] for x in out), "sets": len(out)}

    def key(n, ps, level):
        ks = [(p, None) for p in ps] + ([(p, s) for p in ps for s in seeds] if level == "pair+seed" else [])
        f = figures(n, ks)
        return (-f["within_2"], -f["not_below_median"], f["mean_regret"])

    free = [n for n, (fam, _) in rules.items() if fam == "parameter-free"]
    families = {"im_calibrated vs the median source floor": free[:2], "all parameter-free rules": free,
                "all rules (with the tuned grids)": list(rules)}
    held = []
    for fam, names in families.items():
        for level in ("pair", "pair+seed"):
            choose = lambda ps: min(names, key=lambda n: key(n, ps, level))  # noqa: E731 (ties: first listed)
            lopo = [(p, choose([q for q in pairs if q != p])) for p in pairs]
            out = [res[c][(p, None)] for p, c in lopo]
            splits = []
            for a in itertools.combinations(pairs, len(pairs) // 2):
                b = [q for q in pairs if q not in a]
                c = choose(list(a))
                splits.append((figures(c, [(q, None) for q in b])["within_2"],
                               figures("im_calibrated", [(q, None) for q in b])["within_2"]))
            held.append({"family": fam, "rules": len(names), "criterion": level,
                         "lopo_within_2": sum(x[0] <= 2 + 1e-9 for x in out),
                         "lopo_not_below_median": sum(x[1] for x in out),
                         "lopo_mean_regret": statistics.mean(x[0] for x in out),
                         "lopo_chosen": sorted(set(c for _, c in lopo)),
                         "split_within_2": statistics.mean(x[0] for x in splits),
                         "split_within_2_im_calibrated": statistics.mean(x[1] for x in splits),
                         "splits": len(splits), "half": len(pairs) // 2})
    insample = [{"rule": n, "family": rules[n][0], "pairs": figures(n, [(p, None) for p in pairs]),
                 "pair_seed_sets": figures(n, [(p, s) for p in pairs for s in seeds]),
                 "regret_per_pair": [round(res[n][(p, None)][0], 1) for p in pairs]} for n in rules]
    return {"in_sample": insample, "held_out": held, "ceiling": noise_ceiling(ok, pairs)}


def noise_ceiling(ok: list[dict], pairs: list[str], draws: int = 20000) -> dict:
    """How often a validator as good as a *second labeled test set of the same size* would pick within 2 points
    of the best run: pick the argmax of binomially resampled accuracies, measure against the stored ones."""
    import numpy as np
    from fractions import Fraction

    rng = np.random.default_rng(0)
    per = {}
    for p in pairs:
        a = np.array([r["target_acc"] for r in ok if r["pair"] == p])
        n = max(Fraction(x).limit_denominator(1000).denominator for x in a)  # the target test size
        pick = a[(rng.binomial(n, np.tile(a, (draws, 1))) / n).argmax(1)]
        per[p] = {"n_test": int(n), "p_within_2": float(np.mean(a.max() - pick <= 0.02 + 1e-9))}
    return {"per_pair": per, "expected_pairs_within_2": sum(v["p_within_2"] for v in per.values())}


def report(results: list[dict], max_samples: int) -> None:
    from tlcore.evaluation.selection import validator_report
    from tlcore.evaluation.validators import VALIDATORS

    results = with_derived_scores(results)
    ok = [r for r in results if r.get("target_acc") is not None]
    pairs = [p for p in PAIRS if any(r["pair"] == p for r in ok)]
    names = list(VALIDATORS)
    per = {}  # (pair, validator) -> report row
    for p in pairs:
        cands = [{"run_id": r["run_id"], "label": f"{r['strategy']} s{r['seed']}", "scores": r["scores"],
                  "accuracy": r["target_acc"]} for r in ok if r["pair"] == p]
        for row in validator_report(cands, names):
            per[(p, row["validator"])] = row
    summary = []
    for v in names:
        rows = [per[(p, v)] for p in pairs if per[(p, v)]["regret"] is not None]
        within2 = sum(r["regret"] <= 0.02 + 1e-9 for r in rows)
        above_median = sum(r["pick_accuracy"] >= r["median_accuracy"] - 1e-9 for r in rows)
        sp = [r["spearman"] for r in rows if r["spearman"] is not None]
        kt = [r["kendall"] for r in rows if r["kendall"] is not None]
        summary.append({"validator": v, "pairs": len(rows), "within_2_points": within2,
                        "not_below_median": above_median,
                        "mean_regret": statistics.mean(r["regret"] for r in rows) if rows else None,
                        "max_regret": max(r["regret"] for r in rows) if rows else None,
                        "mean_spearman": statistics.mean(sp) if sp else None,
                        "mean_kendall": statistics.mean(kt) if kt else None})
    ranked = sorted((s for s in summary if s["pairs"]),
                    key=lambda s: (-s["within_2_points"], -s["not_below_median"], s["mean_regret"]))
    best = ranked[0]["validator"] if ranked else None

    def f(x, pct=False):
        return "n/a" if x is None else (f"{100 * x:.1f}" if pct else f"{x:+.2f}")

    lines = ["# Unsupervised validators: rank correlation with target accuracy and regret", "",
             f"Machine: {machine()}. Samples per domain: {max_samples} (seeded, stratified); target test = half of "
             "the target sample, never seen in training; validators read the unlabeled target-train half only. "
             f"Runs: {len(ok)} completed ({len(results) - len(ok)} failed) over {len(pairs)} pairs.", "",
             f"**Best validator here: `{best}`** (most pairs with the pick within 2 points of the best run, then "
             "fewest picks below the median run, then mean regret). It is the default of `tlcore select` and of "
             "the Compare page.", "",
             "## Summary over pairs", "",
             "| validator | pairs | pick within 2 pts of best | pick >= median run | mean regret (pts) | max regret "
             "(pts) | mean Spearman | mean Kendall |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summary:
        lines.append(f"| {s['validator']} | {s['pairs']} | {s['within_2_points']} | {s['not_below_median']} | "
                     f"{f(s['mean_regret'], True)} | {f(s['max_regret'], True)} | {f(s['mean_spearman'])} | "
                     f"{f(s['mean_kendall'])} |")
    seeds = sorted({r["seed"] for r in ok})
    by_seed = {v: [] for v in names}  # the same on each pair's runs of one seed (13-run sets)
    for p in pairs:
        for sd in seeds:
            cands = [{"run_id": r["run_id"], "label": r["strategy"], "scores": r["scores"], "accuracy": r["target_acc"]}
                     for r in ok if r["pair"] == p and r["seed"] == sd]
            for row in validator_report(cands, names):
                if row["regret"] is not None:
                    by_seed[row["validator"]].append(row)
    lines += ["", f"Per pair and seed ({len(pairs) * len(seeds)} sets of one seed's runs, 12-13 runs each): a second, "
              "noisier look at the same runs.", "",
              "| validator | sets | pick within 2 pts of best | pick >= median run | mean regret (pts) |",
              "|---|---:|---:|---:|---:|"]
    for v in names:
        rows = by_seed[v]
        if rows:
            lines.append(f"| {v} | {len(rows)} | {sum(r['regret'] <= 0.02 + 1e-9 for r in rows)} | "
                         f"{sum(r['pick_accuracy'] >= r['median_accuracy'] - 1e-9 for r in rows)} | "
                         f"{100 * statistics.mean(r['regret'] for r in rows):.1f} |")
    lines += ["", "## Per pair: regret in points (Spearman / Kendall)", "",
              "| pair | runs | best acc | median acc | " + " | ".join(names) + " |",
              "|---|---:|---:|---:|" + "---:|" * len(names)]
    for p in pairs:
        r0 = per[(p, names[0])]
        cells = [f"{f(per[(p, v)]['regret'], True)} ({f(per[(p, v)]['spearman'])} / {f(per[(p, v)]['kendall'])})"
                 for v in names]
        lines.append(f"| {p.replace('_', ' -> ')} | {r0['n']} | {f(r0['best_accuracy'], True)} | "
                     f"{f(r0['median_accuracy'], True)} | " + " | ".join(cells) + " |")
    if best:
        lines += ["", f"## What `{best}` picks", "", "| pair | pick | pick acc | best run | best acc |",
                  "|---|---|---:|---|---:|"]
        for p in pairs:
            rows = [r for r in ok if r["pair"] == p]
            top = max(rows, key=lambda r: r["target_acc"])
            pr = per[(p, best)]
            pick = next(r for r in rows if r["run_id"] == pr["pick"])
            lines.append(f"| {p.replace('_', ' -> ')} | {pick['strategy']} s{pick['seed']} | "
                         f"{f(pick['target_acc'], True)} | {top['strategy']} s{top['seed']} | "
                         f"{f(top['target_acc'], True)} |")
    held = heldout_analysis(ok, pairs)
    ceil = held["ceiling"]
    lines += ["", "## Choosing the default without tuning on the test pairs", "",
              "Candidate rules built from the stored per-run scores (no run repeated). In-sample: every pair "
              "(26 runs) and every pair and seed (13 runs). Regret per pair in the order "
              + ", ".join(p.replace("_", " -> ") for p in pairs) + ".", "",
              "| rule | family | pairs within 2 pts | pairs >= median | mean regret | pair+seed sets within 2 pts "
              "| sets >= median | regret per pair (pts) |", "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in held["in_sample"]:
        a, b = r["pairs"], r["pair_seed_sets"]
        lines.append(f"| {r['rule']} | {r['family']} | {a['within_2']}/{a['sets']} | {a['not_below_median']}/"
                     f"{a['sets']} | {a['mean_regret']:.2f} | {b['within_2']}/{b['sets']} | "
                     f"{b['not_below_median']}/{b['sets']} | {' '.join(f'{x:.1f}' for x in r['regret_per_pair'])} |")
    lines += ["", "Held out: the *procedure* \"choose the rule on some pairs (most picks within 2 points, then fewest "
              "below the median, then mean regret; ties go to the rule listed first, `im_calibrated`), apply it to "
              "the others\". Leave-one-pair-out (each pair scored by a rule chosen on the other 7) and all "
              f"{held['held_out'][0]['splits']} splits into {held['held_out'][0]['half']} pairs to choose on and "
              f"{held['held_out'][0]['half']} to report on. Criterion `pair`: the training pairs' 26-run sets; "
              "`pair+seed`: also their 13-run sets of each seed.", "",
              "| rule family | rules | criterion | LOPO: pairs within 2 pts | LOPO: >= median | LOPO: mean regret "
              "| rules LOPO chose | 4/4 splits: held-out pairs within 2 pts (of 4) | same for im_calibrated |",
              "|---|---:|---|---:|---:|---:|---|---:|---:|"]
    for h in held["held_out"]:
        lines.append(f"| {h['family']} | {h['rules']} | {h['criterion']} | {h['lopo_within_2']}/8 | "
                     f"{h['lopo_not_below_median']}/8 | {h['lopo_mean_regret']:.2f} | {'; '.join(h['lopo_chosen'])} | "
                     f"{h['split_within_2']:.2f} | {h['split_within_2_im_calibrated']:.2f} |")
    lines += ["", "Noise ceiling: a validator as good as a second labeled target test set of the same size (argmax "
              "of binomially resampled accuracies, 20,000 draws, judged against the stored accuracies) would pick "
              f"within 2 points on {ceil['expected_pairs_within_2']:.1f} of {len(pairs)} pairs on average ("
              + ", ".join(f"{p.replace('_', ' -> ')} {100 * v['p_within_2']:.0f} % (n={v['n_test']})"
                          for p, v in ceil["per_pair"].items()) + ")."]
    lines += ["", "## Cost", ""]
    vs = [(r["validator_cpu_seconds"], r["cpu_seconds"]) for r in ok if r.get("validator_cpu_seconds") is not None]
    if vs:
        frac = [a / b for a, b in vs if b]
        mean_v = statistics.mean(a for a, _ in vs)
        lines.append(f"Validators (all {len(names)} together, one BLAS thread) take {mean_v:.3f} CPU s per run "
                     f"on average (max {max(a for a, _ in vs):.3f} s): "
                     f"{100 * statistics.mean(frac):.1f} % of a run's CPU time on average, {100 * max(frac):.1f} % "
                     "at most. These runs are the cheapest there are (frozen, cached features); the share is smaller "
                     "for every fine-tuned run. CPU time, not wall time: the benchmark machine was shared.")
    lines += ["", "Training-phase CPU seconds (skada: the pipeline fit plus the loop's report-only epoch; deep: the "
              "training loop on cached features) and target accuracy (%), per strategy and pair:", "",
              "| strategy | " + " | ".join(p.replace("_", " -> ") for p in pairs) + " |",
              "|---|" + "---:|" * len(pairs)]
    strategies = list(dict.fromkeys(r["strategy"] for r in ok))

    def cell(p, s):
        rows = [r for r in ok if r["pair"] == p and r["strategy"] == s]
        cpu = [r["train_cpu_seconds"] for r in rows if r.get("train_cpu_seconds") is not None]
        acc = [r["target_acc"] for r in rows]
        return (statistics.mean(cpu) if cpu else None), (statistics.mean(acc) if acc else None)

    for s in strategies:
        cells = []
        for p in pairs:
            cpu, acc = cell(p, s)
            cells.append("n/a" if acc is None else f"{'?' if cpu is None else f'{cpu:.2f}'} s / {100 * acc:.1f}")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    lines += ["", "Skada vs deep (frozen regime), per pair: the slowest skada fit against the fastest deep training, "
              "and the best of each family:", "",
              "| pair | slowest skada (CPU s) | fastest deep (CPU s) | skada slower than the fastest deep | "
              "best skada | best deep |", "|---|---|---|---|---|---|"]
    for p in pairs:
        sk = [(s, *cell(p, s)) for s in strategies if s.startswith("skada_") and cell(p, s)[0] is not None]
        dp = [(s, *cell(p, s)) for s in strategies if not s.startswith("skada_") and cell(p, s)[0] is not None]
        if not sk or not dp:
            continue
        slow, fast = max(sk, key=lambda t: t[1]), min(dp, key=lambda t: t[1])
        slower = [s for s, c, _ in sk if c > fast[1]]
        bs, bd = max(sk, key=lambda t: t[2]), max(dp, key=lambda t: t[2])
        lines.append(f"| {p.replace('_', ' -> ')} | {slow[0]} {slow[1]:.2f} | {fast[0]} {fast[1]:.2f} | "
                     f"{', '.join(slower) or 'none'} | {bs[0]} {100 * bs[2]:.1f} | {bd[0]} {100 * bd[2]:.1f} |")
    lines += ["", "## Published conclusions (Musgrave et al. 2022) beside ours", ""]
    lines += [f"- {t}" for t in PUBLISHED]
    findings = ROOT / "bench" / "results" / "validators_findings.md"
    if findings.exists():
        lines += ["", findings.read_text().strip()]
    (ROOT / "bench" / "results" / "validators.md").write_text("\n".join(lines) + "\n")
    data = json.loads((ROOT / "bench" / "results" / "validators.json").read_text())
    data["summary"], data["best_validator"] = summary, best
    data["per_pair"] = [dict(per[k], pair=k[0]) for k in per]
    data["per_pair_seed_summary"] = {v: {"sets": len(rows), "within_2_points": sum(r["regret"] <= 0.02 + 1e-9
                                                                                  for r in rows)}
                                     for v, rows in by_seed.items()}
    data["choosing_the_default"] = held
    (ROOT / "bench" / "results" / "validators.json").write_text(json.dumps(data, indent=1))
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    ap.add_argument("--strategies", nargs="+", default=DEEP + SKADA)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--max", type=int, default=500)
    ap.add_argument("--store", default="")
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = [] if a.report_only else run(a)
    if a.report_only:
        results = json.loads((ROOT / "bench" / "results" / "validators.json").read_text())["results"]
    report(results, a.max)


if __name__ == "__main__":
    main()
