"""Helpers shared by the CLI command modules: the base config of ``train``/``sweep``/``submit`` (a file or
``--demo`` plus ``--set`` overrides), the slim metrics of a result line and the progress printer."""
from __future__ import annotations

import json
import sys

from tlcore.config import DEMO_CONFIGS, apply_override, load_config_file, parse_value


def base_config(a) -> dict | None:
    """The CONFIG file or ``--demo`` config with the ``--set`` overrides applied (None after printing why not)."""
    if bool(a.config) == bool(a.demo):
        print("error: give a CONFIG file or --demo digits|reviews", file=sys.stderr)
        return None
    raw = json.loads(json.dumps(DEMO_CONFIGS[a.demo])) if a.demo else load_config_file(a.config)
    for item in a.set:
        if "=" not in item:
            print(f"error: --set expects KEY=VALUE, got {item!r}", file=sys.stderr)
            return None
        k, v = item.split("=", 1)
        apply_override(raw, k.strip(), parse_value(v))
    return raw


def slim(m: dict) -> dict:
    """Scalars and their ``*_ci`` intervals; no curves, matrices or per-class tables."""
    return {k: v for k, v in m.items() if k not in ("per_class", "confusion_matrix", "classes", "roc_curve",
                                                    "pr_curve", "reliability", "ci")}


def print_progress(ev: dict) -> None:
    kind = ev.get("type")
    if kind == "phase":
        print(f"[{ev.get('t', 0):7.1f}s] {ev['phase']} {ev.get('detail', '')}", file=sys.stderr)
    elif kind == "epoch":
        print(f"[{ev.get('t', 0):7.1f}s] epoch {ev['epoch']}/{ev['epochs']} loss {ev.get('loss', 0):.4f} "
              f"val_acc {ev.get('val_acc', 0):.3f} eta {ev.get('eta_s') or 0:.0f}s", file=sys.stderr)
    elif kind == "setup":
        print(f"[{ev.get('t', 0):7.1f}s] trainable params {ev['trainable_params']:,} on {ev['device']['name']} "
              f"({ev['precision']})", file=sys.stderr)
    elif kind == "warning":
        print(f"[{ev.get('t', 0):7.1f}s] warning: {ev.get('message', '')}", file=sys.stderr)
