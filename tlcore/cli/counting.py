"""``python -m tlcore count-params CHOICE_JSON``: trainable and total parameters of a backbone x strategy choice
(``{"backbone", "strategy", "params", "num_classes", "bottleneck"}``), stored under ``<TL_HOME>/param_counts/``
for the Train page and printed as one JSON line."""
from __future__ import annotations

import json


def register(sub, commands: dict) -> None:
    p = sub.add_parser("count-params", help="count the trainable parameters of a backbone x strategy choice")
    p.add_argument("choice", help='JSON: {"backbone", "strategy", "params", "num_classes", "bottleneck"}')
    commands["count-params"] = _count


def _count(a) -> int:
    from tlcore.errors import ConfigError
    from tlcore.models.counting import count_to_file
    from tlcore.runs.store import default_root

    try:
        choice = json.loads(a.choice)
    except ValueError as exc:
        raise ConfigError(f"count-params: the choice is not JSON ({exc})") from None
    rep = count_to_file(default_root(), choice)
    print(json.dumps(rep))
    return 0 if rep["status"] == "done" else 2
