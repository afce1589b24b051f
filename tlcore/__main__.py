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

from tlcore.cli.common import base_config, print_progress, slim  # noqa: E402
from tlcore.config import DEMO_CONFIGS, RunConfig  # noqa: E402
from tlcore.errors import Cancelled, TLError  # noqa: E402

def main(argv: list[str] | None = None) -> int:
    from tlcore.runs.files import private_umask

    private_umask()  # files under the data root are private, whichever command writes them (issue 22 item 5)
    ap = argparse.ArgumentParser(prog="python -m tlcore", description="TL Studio engine")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train one run from a YAML/JSON config (or --demo digits|reviews)")
    t.add_argument("config", nargs="?", help="config file (YAML or JSON)")
    t.add_argument("--demo", choices=sorted(DEMO_CONFIGS), help="use a built-in demo config")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    t.add_argument("--quiet", action="store_true", help="no progress on stderr")
    r = sub.add_parser("runs", help="list runs")
    r.add_argument("--json", action="store_true")
    s = sub.add_parser("show", help="show one run's record and metrics (indented, long lists summarised)")
    s.add_argument("run_id")
    s.add_argument("--json", action="store_true", help="everything, as one JSON line (for scripts)")
    d = sub.add_parser("delete", help="delete a run")
    d.add_argument("run_id")
    sub.add_parser("backbones", help="list registered backbones")
    sub.add_parser("strategies", help="list strategies and their parameters")
    w = sub.add_parser("worker", help="run the job worker (executes queued jobs)")
    w.add_argument("--max-jobs", type=int, default=None, help="concurrent jobs (default: 1 per GPU, 1 on CPU)")
    w.add_argument("--once", action="store_true", help="exit when the queue is empty")
    w.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="run jobs as Ray tasks on this cluster (auto, ray://host:10001, or local)")
    w.add_argument("--light-jobs", type=int, default=None, metavar="N",
                   help="slots for light jobs (embeddings, shift reports) beside --max-jobs (default: TL_LIGHT_JOBS "
                        "or 1; 0 = none)")
    e = sub.add_parser("embeddings", help="project a run's features (before/after) and print its domain gap")
    e.add_argument("run_id")
    e.add_argument("--method", default="pca", help="pca, tsne or umap (umap needs umap-learn)")
    e.add_argument("--dim", type=int, choices=(2, 3), default=2)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default=None, help="device for extracting missing before-features")
    e.add_argument("--perplexity", type=float, default=None, help="t-SNE perplexity (default 30)")
    e.add_argument("--max-iter", type=int, default=None, help="t-SNE iterations (default 500, at least 250)")
    e.add_argument("--n-neighbors", type=int, default=None, help="UMAP neighbours (default 15)")
    e.add_argument("--min-dist", type=float, default=None, help="UMAP min_dist (default 0.1)")
    from tlcore.cli import evaluation

    evaluation.register(sub, COMMANDS)  # here, so `--help` lists the commands in their usual order
    sh = sub.add_parser("shift", help="domain gap of a source/target pair in a pretrained backbone (no training)")
    sh.add_argument("--source", required=True, help="source domain spec as JSON, e.g. '{\"demo\": \"digits\"}'")
    sh.add_argument("--target", required=True, help="target domain spec as JSON")
    sh.add_argument("--backbone", default=None, help="default: efficientnet_lite0 (images), minilm_l6 (text)")
    sh.add_argument("--cap", type=int, default=None, help="samples per domain (default 500)")
    u = sub.add_parser("user", help="dashboard sign-in: add, remove or list users ($TL_HOME/users.json)")
    u.add_argument("action", choices=("add", "remove", "list"))
    u.add_argument("name", nargs="?")
    u.add_argument("--password-stdin", action="store_true", help="read the password from stdin (no prompt)")
    from tlcore.cli import register_all

    register_all(sub, COMMANDS)
    j = sub.add_parser("run-job", help=argparse.SUPPRESS)
    j.add_argument("job_id")
    a = ap.parse_args(argv)
    try:
        return COMMANDS[a.cmd](a)
    except TLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        from tlcore.runs.files import disk_full_message, is_disk_full
        from tlcore.runs.home import default_root

        if not is_disk_full(exc):
            raise
        print(f"error: {disk_full_message(default_root())}", file=sys.stderr)  # one line, no traceback
        return 2


def cmd_train(a) -> int:
    from tlcore.pipeline import run_experiment
    from tlcore.runs.store import RunStore

    raw = base_config(a)
    if raw is None:
        return 2
    cfg = RunConfig.from_dict(raw)
    store = RunStore()
    t0 = time.time()
    callbacks = [] if a.quiet else [print_progress]
    try:
        rec = run_experiment(cfg, store, callbacks=callbacks)
    except Cancelled as exc:
        print(f"cancelled: {exc}", file=sys.stderr)
        return 3
    metrics = store.metrics(rec.run_id)
    summary = {"run_id": rec.run_id, "status": rec.status, "strategy": rec.strategy, "backbone": rec.backbone,
               "seconds": round(time.time() - t0, 2), "metrics": {k: slim(metrics.get(k) or {})
                                                                   for k in ("target_test", "source_val",
                                                                             "target_unsupervised")}}
    ran = RunConfig.from_dict(rec.config)  # as resolved when the run started
    if ran.resolved_from:  # "strategy": "auto": what it resolved to
        summary["resolved_from"] = ran.resolved_from
        summary["resolved"] = {k: v for k, v in ran.to_dict().items() if k not in ("source", "target", "name")}
    if metrics.get("flags"):
        summary["flags"] = [f["message"] for f in metrics["flags"]]
    if metrics.get("portfolio"):  # auto as a portfolio (tlcore/portfolio.py): what it tried and why the pick
        from tlcore.evaluation.summary import portfolio_summary

        pf, told = metrics["portfolio"], portfolio_summary(store, rec.run_id) or {}
        summary["portfolio"] = {"pick": pf.get("pick"), "why": pf.get("why"), "text": told.get("text"),
                                "candidates": [{k: c.get(k) for k in ("key", "run_id", "seconds", "source_accuracy",
                                                                      "score", "picked")}
                                               for c in pf.get("candidates") or []],
                                "skipped_or_failed": pf.get("skipped_or_failed")}
    print(json.dumps(summary))
    return 0


def cmd_runs(a) -> int:
    from tlcore.runs.store import RunStore

    runs = RunStore().list()
    if a.json:
        print(json.dumps([{k: v for k, v in r.to_dict().items() if k != "config"} for r in runs]))
        return 0
    head = ("run_id", "status", "strategy", "backbone", "source -> target", "tgt_acc", "tgt_f1")
    rows = [(r.run_id, r.status, r.strategy or "", r.backbone or "", f"{r.source} -> {r.target}",
             _pct(r.target_acc), _pct(r.target_f1)) for r in runs]
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]  # nothing cut off
    for row in [head, *rows]:
        print("  ".join(str(v).rjust(w) if i >= 5 else str(v).ljust(w)
                        for i, (v, w) in enumerate(zip(row, widths))).rstrip())
    return 0


def cmd_show(a) -> int:
    from tlcore.runs.store import RunStore

    store = RunStore()
    rec = store.get(a.run_id)
    full = {**rec.to_dict(), "metrics": store.metrics(a.run_id)}
    if a.json:
        print(json.dumps(full))
    else:
        from tlcore.evaluation.summary import pretty_json, summarize_record

        print(pretty_json(summarize_record(full)))
    return 0


def cmd_delete(a) -> int:
    from tlcore.auth import cli_actor
    from tlcore.runs.store import RunStore

    RunStore().delete(a.run_id, actor=cli_actor())  # the OS user: owner or admin only (issue 23)
    print(json.dumps({"deleted": a.run_id}))
    return 0


def cmd_backbones(a) -> int:
    from tlcore.models.registry import BACKBONES

    for spec in BACKBONES.values():
        print(f"{spec.name:<26} {spec.modality:<6} {spec.params_m:>6.1f}M  {spec.title}")
    return 0


def cmd_strategies(a) -> int:
    from tlcore.strategies.specs import SPECS

    for spec in SPECS.values():
        d = spec.describe()
        params = ", ".join(f"{p['name']}={p['default']}" for p in d["params"]) or "-"
        print(f"{d['name']:<20} {d['title']}\n{'':<20} params: {params}")
    return 0


def cmd_worker(a) -> int:
    from tlcore.jobs.worker import run_worker

    if a.light_jobs is not None and a.light_jobs < 0:
        print("error: --light-jobs must be 0 or more", file=sys.stderr)
        return 2
    return run_worker(max_jobs=a.max_jobs, once=a.once, ray_address=a.ray, light=a.light_jobs)


def cmd_run_job(a) -> int:
    from tlcore.jobs.runner import run_job

    return run_job(a.job_id)


def cmd_embeddings(a) -> int:
    from tlcore.embeddings.command import run_embeddings_command

    params = {k: v for k, v in (("perplexity", a.perplexity), ("max_iter", a.max_iter),
                                ("n_neighbors", a.n_neighbors), ("min_dist", a.min_dist)) if v is not None}
    return run_embeddings_command(a.run_id, method=a.method, dim=a.dim, seed=a.seed, device=a.device, params=params)


def cmd_shift(a) -> int:
    from tlcore.embeddings.shift import SHIFT_CAP, compute_shift_report
    from tlcore.runs.store import default_root

    out = compute_shift_report(json.loads(a.source), json.loads(a.target), default_root(), backbone=a.backbone,
                               cap=a.cap or SHIFT_CAP)
    print(json.dumps(out))
    return 0


def cmd_user(a) -> int:
    from tlcore import auth

    if a.action == "list":
        users = sorted(auth.load_users())
        print(json.dumps({"users": users, "sign_in_required": auth.auth_enabled(),
                          "file": str(auth.users_file())}))
        return 0
    if not a.name:
        print(f"error: user {a.action} needs a NAME", file=sys.stderr)
        return 2
    if a.action == "remove":
        auth.remove_user(a.name)
        print(f"removed {a.name}; sign-in stays required while {auth.users_file()} exists", file=sys.stderr)
        return 0
    if a.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass(f"password for {a.name}: ")
        if getpass.getpass("again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    new = auth.add_user(a.name, password)
    print(f"{'added' if new else 'changed the password of'} {a.name}; the dashboard now asks to sign in",
          file=sys.stderr)
    return 0


COMMANDS = {"embeddings": cmd_embeddings, "user": cmd_user, "shift": cmd_shift, "train": cmd_train, "runs": cmd_runs,
            "show": cmd_show, "delete": cmd_delete,
            "backbones": cmd_backbones, "strategies": cmd_strategies, "worker": cmd_worker, "run-job": cmd_run_job}


def _pct(v) -> str:
    return "" if v is None else f"{100 * v:.1f}%"


if __name__ == "__main__":
    sys.exit(main())
