"""Job and server commands: ``submit``, ``jobs``, ``doctor``, ``settings`` and ``admin``.

- ``python -m tlcore submit CONFIG [--set k=v] [--num-gpus N] [--num-cpus N] [--ray-resources JSON]`` queues a
  training job (``--ray-resources '{"node_b": 1}'``: only on Ray nodes offering that custom resource); the last
  stdout line is ``{"job_id": ...}``. ``--probe SECONDS`` queues a diagnostic job instead (no training);
  ``--kind embeddings|shift CONFIG`` a light job (CONFIG: JSON text or file, e.g. ``{"run_id": R, "method": "tsne"}``
  or ``{"source": {...}, "target": {...}}``), as the Embeddings and Domains pages do.
- ``python -m tlcore jobs [--json] [--all]`` lists jobs with status, run_id, executor and node.
- ``python -m tlcore cancel JOB_ID`` cancels a job.
- ``python -m tlcore doctor [--backup | --restore [FILE] | --list | --settings]`` checks the database, backs it up,
  restores; it also reports the data root's filesystem (a network one: no WAL), a missing or readable cookie secret,
  the TL_* settings set here and any TL_* name set that is no setting; ``--settings`` prints every setting.
- ``python -m tlcore settings [--markdown [--write]]``: the settings registry (tlcore/settings.py); ``--write``
  regenerates README.md's configuration table.
- ``python -m tlcore admin add|remove|list [NAME]`` grants dashboard users the admin role.
- ``python -m tlcore audit [--json]``: who started, cancelled or deleted what, and when.
"""
from __future__ import annotations

import json
import sys
import time


def register(sub, commands: dict) -> None:
    s = sub.add_parser("submit", help="queue a training job for the worker (last line: {\"job_id\": ...})")
    s.add_argument("config", nargs="?", help="config file (YAML or JSON)")
    s.add_argument("--demo", help="use a built-in demo config (digits, reviews)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    s.add_argument("--label", default="", help="label shown in job lists")
    s.add_argument("--key", default=None, help="idempotency key: the same key twice queues one job")
    s.add_argument("--num-gpus", type=float, default=None, help="GPUs for the job (Ray task option; 0 = CPU)")
    s.add_argument("--num-cpus", type=float, default=None, help="CPUs for the job (Ray task option, torch threads)")
    s.add_argument("--ray-resources", default=None, metavar="JSON",
                   help="custom Ray resources the job needs, e.g. '{\"node_b\": 1}': it runs only on Ray nodes started "
                        "with `ray start --resources` offering them (the Ray executor; a local worker ignores it)")
    s.add_argument("--probe", type=float, default=None, metavar="SECONDS",
                   help="queue a diagnostic job that waits SECONDS and records where it ran (no CONFIG)")
    s.add_argument("--kind", choices=("embeddings", "shift"), default=None,
                   help="queue a light job; CONFIG is its JSON (text or file)")
    j = sub.add_parser("jobs", help="list jobs (status, run_id, executor, node)")
    j.add_argument("--json", action="store_true")
    j.add_argument("--limit", type=int, default=200)
    j.add_argument("--active", action="store_true", help="only queued and running jobs")
    c = sub.add_parser("cancel", help="cancel a queued or running job")
    c.add_argument("job_id")
    d = sub.add_parser("doctor", help="check tl.db (PRAGMA integrity_check), back it up or restore a backup")
    g = d.add_mutually_exclusive_group()
    g.add_argument("--backup", action="store_true", help="make an online backup now (rotating)")
    g.add_argument("--restore", nargs="?", const="", default=None, metavar="FILE",
                   help="restore FILE or the newest sound backup (stop the worker and dashboard first)")
    g.add_argument("--list", action="store_true", help="list backups")
    g.add_argument("--settings", action="store_true",
                   help="every TL_* setting: type, default, subsystem and its value here (tlcore/settings.py)")
    st = sub.add_parser("settings", help="the TL_* settings table (tlcore/settings.py); --write puts it in README.md")
    st.add_argument("--markdown", action="store_true", help="print the README's Markdown table")
    st.add_argument("--write", action="store_true", help="write the table between the markers in README.md")
    a = sub.add_parser("admin", help="grant or revoke the admin role of a dashboard user")
    a.add_argument("action", choices=("add", "remove", "list"))
    a.add_argument("name", nargs="?")
    au = sub.add_parser("audit", help="who started, cancelled or deleted what, and when (newest first)")
    au.add_argument("--json", action="store_true")
    au.add_argument("--limit", type=int, default=100)
    commands.update({"submit": cmd_submit, "jobs": cmd_jobs, "cancel": cmd_cancel, "doctor": cmd_doctor, "settings": cmd_settings,
                     "admin": cmd_admin, "audit": cmd_audit})


def cmd_submit(a) -> int:
    from tlcore.cli.common import base_config
    from tlcore.jobs.queue import JobQueue

    resources = {k: v for k, v in (("num_cpus", a.num_cpus), ("num_gpus", a.num_gpus)) if v is not None}
    if a.ray_resources is not None:
        resources["ray_resources"] = _ray_resources(a.ray_resources)
    queue = JobQueue()
    if a.probe is not None:
        job_id = queue.submit({"seconds": a.probe}, label=a.label, submit_key=a.key, kind="probe",
                              resources=resources)
    elif a.kind:
        job_id = _submit_light(queue, a.kind, a.config)
    else:
        a.demo = a.demo or None
        raw = base_config(a)
        if raw is None:
            return 2
        job_id = queue.submit(raw, label=a.label, submit_key=a.key, resources=resources)
    print(f"queued {job_id}; a worker runs it (python -m tlcore worker, or the dashboard's)", file=sys.stderr)
    print(json.dumps({"job_id": job_id}))
    return 0


def _ray_resources(text: str) -> dict:
    """``--ray-resources JSON``: a JSON object of custom Ray resources, checked (one line naming the option)."""
    from tlcore.errors import ConfigError
    from tlcore.jobs.queue import check_ray_resources

    try:
        res = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--ray-resources: not JSON ({exc}); expected e.g. '{{\"node_b\": 1}}'") from None
    try:
        return check_ray_resources(res)
    except ConfigError as exc:
        raise ConfigError(f"--ray-resources: {exc}") from None


def job_row(s) -> dict:
    return {"job_id": s.job_id, "kind": s.kind, "status": s.status, "run_id": s.run_id, "executor": s.executor,
            "node": s.node, "gpus": s.gpus, "owner": s.owner, "label": s.label, "created": s.created,
            "started": s.started, "finished": s.finished,
            "error": (s.error or "").splitlines()[0][:300] if s.error else None,
            "waiting": (s.progress or {}).get("detail") if s.status == "queued" and
            (s.progress or {}).get("type") == "waiting" else None}  # why the worker cannot start it yet


def _submit_light(queue, kind: str, text: str | None) -> str:
    """Queue an embeddings or shift job the way the pages do (its progress file names the job)."""
    from pathlib import Path

    from tlcore.errors import ConfigError

    try:
        cfg = json.loads(Path(text).read_text(encoding="utf-8") if text and Path(text).is_file() else text or "")
    except ValueError as exc:
        raise ConfigError(f"--kind {kind}: CONFIG must be JSON text or a JSON file ({exc})") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"--kind {kind}: CONFIG must be a JSON object")
    if kind == "embeddings":
        from tlcore.jobs.light import launch_extraction

        return launch_extraction(queue.store, cfg.get("run_id"), method=cfg.get("method", "pca"),
                                 dim=cfg.get("dim", 2), params=cfg.get("params"))
    from tlcore.embeddings.shift import SHIFT_CAP
    from tlcore.jobs.light import launch_shift_report

    return launch_shift_report(cfg.get("source"), cfg.get("target"), queue.store.root, backbone=cfg.get("backbone"),
                               cap=cfg.get("cap", SHIFT_CAP), seed=cfg.get("seed", 0))


def cmd_jobs(a) -> int:
    from tlcore.jobs.queue import JobQueue

    jobs = JobQueue().list(limit=a.limit, active_only=a.active)
    if a.json:
        print(json.dumps([job_row(s) for s in jobs]))
        return 0
    fmt = "{:<15} {:<9} {:<10} {:<24} {:<6} {:<20} {}"
    print(fmt.format("job_id", "kind", "status", "run_id", "exec", "node", "label"))
    for s in jobs:
        print(fmt.format(s.job_id, s.kind, s.status, s.run_id or "", s.executor or "", (s.node or "")[:20],
                         s.label[:60]))
        why = job_row(s)["waiting"]
        if why:
            print(f"{'':<15} {why}")
    return 0


def cmd_cancel(a) -> int:
    from tlcore.auth import cli_actor
    from tlcore.jobs.queue import JobQueue

    print(json.dumps({"job_id": a.job_id, "status": JobQueue().cancel(a.job_id, actor=cli_actor())}))
    return 0


def cmd_settings(a) -> int:
    from pathlib import Path

    from tlcore import settings

    if a.write:
        readme = Path(__file__).resolve().parents[2] / "README.md"
        readme.write_text(settings.replace_table(readme.read_text(encoding="utf-8")), encoding="utf-8")
        print(json.dumps({"written": str(readme), "settings": len(settings.SETTINGS)}))
    elif a.markdown:
        print(settings.markdown_table())
    else:
        print(json.dumps(settings.current(), indent=1))
    return 0


def cmd_doctor(a) -> int:
    from tlcore import settings
    from tlcore.runs import backup
    from tlcore.runs.db import database_url
    from tlcore.runs.store import default_root

    if a.settings:
        print(json.dumps(settings.current(), indent=1))
        return 0
    root = default_root()
    url = database_url()  # a bad TL_DATABASE_URL: one line naming it (ConfigError)
    if url:
        return _doctor_postgres(a, root, url)
    done = _doctor_backups(a, root)
    if done is not None:
        return done
    problems = backup.integrity(backup.db_path(root))
    out = _doctor_report(root, problems)
    _print_doctor_warnings(out)
    if problems:
        print(f"{out['database']} is damaged: {problems[0]}", file=sys.stderr)
        print("restore the newest sound backup with: python -m tlcore doctor --restore" if out["backups"] else
              "no backup exists; move the file aside to start an empty database (runs/ folders are kept)",
              file=sys.stderr)
    else:
        from tlcore.runs.store import RunStore

        store = RunStore(root)
        indexed = {r.run_id for r in store.list()}
        folders = {p.name for p in store.runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")}
        out["runs_without_folder"] = sorted(indexed - folders)[:50]
        out["folders_without_run"] = sorted(folders - indexed)[:50]
    print(json.dumps(out))
    return 0 if not problems else 1


def _doctor_backups(a, root) -> int | None:
    """``doctor --list / --restore / --backup`` on the SQLite database; None for a plain check."""
    from tlcore.runs import backup

    if a.list:
        print(json.dumps({"backups": [{"file": str(p), "bytes": p.stat().st_size,
                                       "time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p.stat().st_mtime))}
                                      for p in backup.list_backups(root)]}))
        return 0
    if a.restore is not None:
        out = backup.restore(root, a.restore or None)
        print(f"restored {out['restored']} as {out['database']}" +
              (f"; the damaged file is kept as {out['damaged_copy']}" if out["damaged_copy"] else ""), file=sys.stderr)
        print(json.dumps(out))
        return 0
    if a.backup:
        dest = backup.backup(root)
        print(json.dumps({"backup": str(dest), "kept": len(backup.list_backups(root))}))
        return 0
    return None


def _doctor_report(root, problems: list) -> dict:
    from tlcore import settings
    from tlcore.runs import backup
    from tlcore.runs.artifact_store import from_settings
    from tlcore.runs.fstype import report as fs_report
    from tlcore.server_checks import cookie_secret_problems
    from tlcore.server_checks import problems as file_problems
    from tlcore.versions import problems as version_problems

    return {"engine": "sqlite", "database": str(backup.db_path(root)), "ok": not problems, "problems": problems[:20],
            "backups": [str(p) for p in backup.list_backups(root)[:3]],
            "versions": version_problems(),  # packages below the server's security floors (tlcore/versions.py)
            # e.g. a secrets.toml others can read, no stable cookie secret (tlcore/server_checks.py)
            "files": file_problems() + cookie_secret_problems(root),
            "filesystem": fs_report(root),   # NFS/SMB: no WAL (tlcore/runs/fstype.py)
            "settings": {s["name"]: s["value"] for s in settings.current() if s["value"] is not None},
            "unknown_settings": settings.unknown_in_environment(),  # a misspelt TL_* name does nothing
            "artifacts": from_settings(root).check()}  # TL_ARTIFACTS_URL reachable? (shown without credentials)


def _print_doctor_warnings(out: dict) -> None:
    unknown = [f"{n} is set but is no TL Studio setting (python -m tlcore doctor --settings lists them)"
               for n in out["unknown_settings"]]
    fs = [out["filesystem"]["warning"]] if out["filesystem"]["network"] else []
    artifacts = [] if out["artifacts"]["ok"] else [out["artifacts"]["problem"]]
    for line in artifacts + out["versions"] + out["files"] + unknown + fs:
        print(line, file=sys.stderr)


def _doctor_postgres(a, root, url: str) -> int:
    """``doctor`` when the run database is PostgreSQL: which server (password masked), whether it answers, run
    folders against the index; backups and restores are the server's job (``pg_dump``/``pg_restore``)."""
    from tlcore.runs.backup import PG_BACKUPS
    from tlcore.runs.db import describe

    if a.list or a.backup or a.restore is not None:
        print(f"error: {PG_BACKUPS}", file=sys.stderr)
        return 2
    from tlcore.runs.store import RunStore

    out = {"engine": "postgresql", "database": describe(url), "backups": PG_BACKUPS}
    store = RunStore(root)  # an unreachable server raises DatabaseUnavailable: one line naming TL_DATABASE_URL
    indexed = {r.run_id for r in store.list()}
    folders = {p.name for p in store.runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")}
    out.update(ok=True, runs=len(indexed), runs_without_folder=sorted(indexed - folders)[:50],
               folders_without_run=sorted(folders - indexed)[:50])
    print(f"database: {out['database']}; {PG_BACKUPS}", file=sys.stderr)
    print(json.dumps(out))
    return 0


def cmd_audit(a) -> int:
    from tlcore.runs import audit
    from tlcore.runs.store import RunStore

    rows = audit.entries(RunStore(), a.limit)
    if a.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        print(f"{r['time']}  {r['actor'] or '?':<16} {r['action']:<20} {r['object'] or ''}  {r['detail'] or ''}")
    return 0


def cmd_admin(a) -> int:
    from tlcore import auth

    if a.action == "list":
        print(json.dumps({"admins": auth.admins()}))
        return 0
    if not a.name:
        print(f"error: admin {a.action} needs a NAME", file=sys.stderr)
        return 2
    auth.set_admin(a.name, a.action == "add")
    print(json.dumps({"admins": auth.admins()}))
    return 0
