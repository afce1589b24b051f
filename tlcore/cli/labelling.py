"""Labelling the target: ``query``, ``labels add|list`` and ``label-curve``.

* ``python -m tlcore query RUN --budget K --method NAME``: the K samples of the run's target training pool to
  label next (:mod:`tlcore.active`); last stdout line ``{"run_id", "method", "samples": [{"id", "name",
  "path_or_text", "predicted", "score"}]}``; stderr and ``--sheet CSV`` (for the labeller) show only neutral names.
* ``python -m tlcore labels add DOMAIN --from CSV [--classes a,b] [--base ID]``: save a label set (columns
  ``id,label``) for a target domain (:mod:`tlcore.data.label_sets`); ``labels list [DOMAIN]``.
* ``python -m tlcore label-curve CONFIG|--demo NAME --budgets 10,20,50 --methods random,badge --seeds 0,1,2``:
  target accuracy against the number of labelled target samples (:mod:`tlcore.label_curve`); last stdout line
  ``{"rows", "summary"}``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub, commands: dict) -> None:
    from tlcore.active.query import METHODS

    q = sub.add_parser("query", help="which target training samples of a finished run to label next")
    q.add_argument("run_id", metavar="RUN")
    q.add_argument("--budget", type=int, required=True, help="how many samples to pick")
    q.add_argument("--method", default="badge", choices=METHODS, help="query strategy (default: badge)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--sheet", default=None, metavar="CSV",
                   help="also write a labelling sheet: CSV name,label (neutral names, label to fill in; images "
                        "beside it in <CSV stem>_images/<name>.png); labels add --from takes it back")
    commands["query"] = _query
    lab = sub.add_parser("labels", help="label sets of target domains: add (from a CSV id,label) or list")
    lsub = lab.add_subparsers(dest="labels_cmd", required=True)
    add = lsub.add_parser("add", help="save a new label set version for a target domain")
    add.add_argument("domain", metavar="DOMAIN", help="a saved domain's id or name, a demo name, a path, or a JSON "
                                                      "domain spec")
    add.add_argument("--from", dest="csv", required=True, metavar="CSV", help="CSV with the columns id,label")
    add.add_argument("--classes", default=None, help="comma-separated classes (needed for an unlabelled domain)")
    add.add_argument("--base", default=None, metavar="ID", help="extend this label set (new answers win)")
    lst = lsub.add_parser("list", help="list label sets (newest first)")
    lst.add_argument("domain", nargs="?", metavar="DOMAIN")
    lst.add_argument("--json", action="store_true")
    commands["labels"] = _labels
    from tlcore.config import DEMO_CONFIGS

    c = sub.add_parser("label-curve", help="target accuracy vs number of labelled target samples, active vs random "
                                           "(the target's own labels answer)")
    c.add_argument("config", nargs="?", help="config file (YAML or JSON)")
    c.add_argument("--demo", choices=sorted(DEMO_CONFIGS), help="use a built-in demo config")
    c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    c.add_argument("--budgets", default="10,20,50", help="numbers of labels (default 10,20,50)")
    c.add_argument("--methods", default="random,badge", help=f"comma-separated, of {', '.join(METHODS)}")
    c.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    commands["label-curve"] = _curve


def _query(a) -> int:
    from tlcore.active.pool import query_run
    from tlcore.runs.store import RunStore

    store = RunStore()
    out = query_run(store, a.run_id, a.method, a.budget, seed=a.seed)
    k = len(out["samples"])
    for n, s in enumerate(out["samples"], start=1):  # for the labeller: neutral names, never the id (a path may
        text = f"\t{s['path_or_text'][:80]!r}" if out["modality"] == "text" else ""  # name the class)
        print(f"sample {n} of {k}\t{s['name']}\tpredicted={s['predicted']}\tscore={s['score']:.4f}{text}",
              file=sys.stderr)
    print(f"{k} of {out['pool_size']} pool samples by {a.method}", file=sys.stderr)
    if a.sheet:
        print(f"labelling sheet: {write_sheet(store, out, Path(a.sheet))}", file=sys.stderr)
    print(json.dumps(out))
    return 0


def write_sheet(store, out: dict, path: Path) -> Path:
    """A labelling sheet for a query's picks: CSV ``id,label,predicted[,text]`` whose ids are the neutral names
    (``labels add --from`` maps them back), the label left to fill in; for images, ``<stem>_images/<name>.png``."""
    import csv
    import io

    from tlcore.runs.files import write_atomic

    buf = io.StringIO()
    w = csv.writer(buf)
    text = out["modality"] == "text"
    w.writerow(["id", "label", "predicted"] + ["text"] * text)
    for s in out["samples"]:
        w.writerow([s["name"], "", s["predicted"]] + [s["path_or_text"]] * text)
    write_atomic(path, buf.getvalue().encode("utf-8"))
    if out["modality"] == "image":
        from PIL import Image

        from tlcore.active.jobs import sample_images

        folder = path.with_name(f"{path.stem}_images")
        folder.mkdir(exist_ok=True)
        for s, img in zip(out["samples"], sample_images(store, out["run_id"], [s["id"] for s in out["samples"]])):
            Image.fromarray(img).save(folder / f"{s['name']}.png")
    return path


def domain_spec(text: str) -> dict:
    """A DOMAIN argument as a domain spec: JSON, a saved domain (id or name), a demo name or a path."""
    from tlcore.data.library import DomainLibrary
    from tlcore.errors import ConfigError

    if text.lstrip().startswith("{"):
        try:
            spec = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"DOMAIN: not valid JSON ({exc})") from None
        return {k: v for k, v in spec.items() if k in ("demo", "path", "text_column", "label_column", "name")}
    for entry in DomainLibrary().list():
        if text in (entry["domain_id"], entry["name"]):
            return DomainLibrary().spec(entry["domain_id"])
    return {"demo": text} if "/" not in text and "." not in text else {"path": text}


def _labels(a) -> int:
    from tlcore.data.label_sets import LabelSets, domain_key, read_pairs_csv
    from tlcore.errors import DataError

    sets = LabelSets()
    if a.labels_cmd == "list":
        rows = sets.list(domain_key(domain_spec(a.domain)) if a.domain else None)
        if a.json:
            print(json.dumps(rows))
        for r in rows if not a.json else []:
            print(f"{r['id']}  v{r['version']}  {r['n']:>5} labels  {r['owner']}  {r['domain']}"
                  + (f"  (extends {r['base']})" if r.get("base") else ""))
        return 0
    path = Path(a.csv)
    if not path.is_file():
        raise DataError(f"--from {a.csv}: file not found")
    classes = [c.strip() for c in a.classes.split(",") if c.strip()] if a.classes else None
    obj = sets.add(domain_spec(a.domain), read_pairs_csv(path.read_text(encoding="utf-8-sig")), classes=classes,
                   base=a.base)
    summary = {k: v for k, v in obj.items() if k != "labels"} | {"n": len(obj["labels"])}
    print(f"label set {obj['id']} (version {obj['version']} of {obj['domain']}): {summary['n']} labels; train with "
          f"target.label_set={obj['id']}", file=sys.stderr)
    print(json.dumps(summary))
    return 0


def _ints(text: str, what: str) -> list[int]:
    from tlcore.errors import ConfigError

    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--{what}: expected comma-separated integers, got {text!r}") from None


def _curve(a) -> int:
    from tlcore.active.query import METHODS
    from tlcore.cli.common import base_config
    from tlcore.config import RunConfig
    from tlcore.errors import ConfigError
    from tlcore.label_curve import label_curve
    from tlcore.runs.store import RunStore

    raw = base_config(a)
    if raw is None:
        return 2
    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ConfigError(f"--methods: unknown {unknown}; known: {list(METHODS)}")
    out = label_curve(RunConfig.from_dict(raw), RunStore(), _ints(a.budgets, "budgets"), methods,
                      _ints(a.seeds, "seeds"), progress=lambda line: print(line, file=sys.stderr))
    for r in out["summary"]:
        lo, hi = (r["accuracy_ci"] or [float("nan")] * 2)[:2]
        print(f"{r['method']:>8}  {r['labels']:>5} labels  accuracy {r['accuracy']:.3f}  [{lo:.3f}, {hi:.3f}]  "
              f"({r['seeds']} seed(s))", file=sys.stderr)
    print(json.dumps(out))
    return 0
