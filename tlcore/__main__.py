"""Command line: ``python -m tlcore train CONFIG [--set key=value ...]`` and friends.

Progress goes to stderr; commands that produce a result print it as the last stdout line, as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tlcore.config import DEMO_CONFIGS, RunConfig, apply_override, load_config_file, parse_value  # noqa: E402
from tlcore.errors import Cancelled, TLError  # noqa: E402

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tlcore", description="TL Studio engine")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train one run from a YAML/JSON config (or --demo digits|reviews)")
    t.add_argument("config", nargs="?", help="config file (YAML or JSON)")
    t.add_argument("--demo", choices=sorted(DEMO_CONFIGS), help="use a built-in demo config")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    t.add_argument("--quiet", action="store_true", help="no progress on stderr")
    r = sub.add_parser("runs", help="list runs")
    r.add_argument("--json", action="store_true")
    s = sub.add_parser("show", help="show one run's record and metrics as JSON")
    s.add_argument("run_id")
    d = sub.add_parser("delete", help="delete a run")
    d.add_argument("run_id")
    sub.add_parser("backbones", help="list registered backbones")
    sub.add_parser("strategies", help="list strategies and their parameters")
    w = sub.add_parser("worker", help="run the job worker (executes queued jobs)")
    w.add_argument("--max-jobs", type=int, default=None, help="concurrent jobs (default: 1 per GPU, 1 on CPU)")
    w.add_argument("--once", action="store_true", help="exit when the queue is empty")
    e = sub.add_parser("embeddings", help="project a run's features (before/after) and print its domain gap")
    e.add_argument("run_id")
    e.add_argument("--method", default="pca", help="pca, tsne or umap (umap needs umap-learn)")
    e.add_argument("--dim", type=int, choices=(2, 3), default=2)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default=None, help="device for extracting missing before-features")
    j = sub.add_parser("run-job", help=argparse.SUPPRESS)
    j.add_argument("job_id")
    a = ap.parse_args(argv)
    try:
        return COMMANDS[a.cmd](a)
    except TLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_train(a) -> int:
    from tlcore.pipeline import run_experiment
    from tlcore.runs.store import RunStore

    if bool(a.config) == bool(a.demo):
        print("error: give a CONFIG file or --demo digits|reviews", file=sys.stderr)
        return 2
    raw = json.loads(json.dumps(DEMO_CONFIGS[a.demo])) if a.demo else load_config_file(a.config)
    for item in a.set:
        if "=" not in item:
            print(f"error: --set expects KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        k, v = item.split("=", 1)
        apply_override(raw, k.strip(), parse_value(v))
    cfg = RunConfig.from_dict(raw)
    store = RunStore()
    t0 = time.time()
    callbacks = [] if a.quiet else [_print_progress]
    try:
        rec = run_experiment(cfg, store, callbacks=callbacks)
    except Cancelled as exc:
        print(f"cancelled: {exc}", file=sys.stderr)
        return 3
    metrics = store.metrics(rec.run_id)
    summary = {"run_id": rec.run_id, "status": rec.status, "strategy": rec.strategy, "backbone": rec.backbone,
               "seconds": round(time.time() - t0, 2), "metrics": {k: _slim(metrics.get(k) or {})
                                                                   for k in ("target_test", "source_val")}}
    print(json.dumps(summary))
    return 0


def cmd_runs(a) -> int:
    from tlcore.runs.store import RunStore

    runs = RunStore().list()
    if a.json:
        print(json.dumps([{k: v for k, v in r.to_dict().items() if k != "config"} for r in runs]))
        return 0
    fmt = "{:<24} {:<10} {:<14} {:<20} {:<24} {:>8} {:>8}"
    print(fmt.format("run_id", "status", "strategy", "backbone", "source -> target", "tgt_acc", "tgt_f1"))
    for r in runs:
        print(fmt.format(r.run_id, r.status, r.strategy or "", (r.backbone or "")[:20],
                         f"{r.source} -> {r.target}"[:24], _pct(r.target_acc), _pct(r.target_f1)))
    return 0


def cmd_show(a) -> int:
    from tlcore.runs.store import RunStore

    store = RunStore()
    rec = store.get(a.run_id)
    print(json.dumps({**rec.to_dict(), "metrics": store.metrics(a.run_id)}))
    return 0


def cmd_delete(a) -> int:
    from tlcore.runs.store import RunStore

    RunStore().delete(a.run_id)
    print(json.dumps({"deleted": a.run_id}))
    return 0


def cmd_backbones(a) -> int:
    from tlcore.models.registry import BACKBONES

    for spec in BACKBONES.values():
        print(f"{spec.name:<26} {spec.modality:<6} {spec.params_m:>6.1f}M  {spec.title}")
    return 0


def cmd_strategies(a) -> int:
    from tlcore.strategies import STRATEGIES

    for cls in STRATEGIES.values():
        d = cls.describe()
        params = ", ".join(f"{p['name']}={p['default']}" for p in d["params"]) or "-"
        print(f"{d['name']:<20} {d['title']}\n{'':<20} params: {params}")
    return 0


def cmd_worker(a) -> int:
    from tlcore.jobs.worker import run_worker

    return run_worker(max_jobs=a.max_jobs, once=a.once)


def cmd_run_job(a) -> int:
    from tlcore.jobs.runner import run_job

    return run_job(a.job_id)


def cmd_embeddings(a) -> int:
    from tlcore.embeddings.cli import run_embeddings_command

    return run_embeddings_command(a.run_id, method=a.method, dim=a.dim, seed=a.seed, device=a.device)


COMMANDS = {"embeddings": cmd_embeddings, "train": cmd_train, "runs": cmd_runs, "show": cmd_show, "delete": cmd_delete,
            "backbones": cmd_backbones, "strategies": cmd_strategies, "worker": cmd_worker, "run-job": cmd_run_job}


def _slim(m: dict) -> dict:
    return {k: v for k, v in m.items() if k not in ("per_class", "confusion_matrix", "classes")}


def _pct(v) -> str:
    return "" if v is None else f"{100 * v:.1f}%"


def _print_progress(ev: dict) -> None:
    kind = ev.get("type")
    if kind == "phase":
        print(f"[{ev.get('t', 0):7.1f}s] {ev['phase']} {ev.get('detail', '')}", file=sys.stderr)
    elif kind == "epoch":
        print(f"[{ev.get('t', 0):7.1f}s] epoch {ev['epoch']}/{ev['epochs']} loss {ev.get('loss', 0):.4f} "
              f"val_acc {ev.get('val_acc', 0):.3f} eta {ev.get('eta_s') or 0:.0f}s", file=sys.stderr)
    elif kind == "setup":
        print(f"[{ev.get('t', 0):7.1f}s] trainable params {ev['trainable_params']:,} on {ev['device']['name']} "
              f"({ev['precision']})", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
