"""CLI command modules. Each module listed in ``MODULES`` defines ``register(sub, commands)``: it adds its
argparse sub-parsers to ``sub`` and its handlers (``fn(args) -> exit code``) to ``commands``.

Keeps ``tlcore/__main__.py`` small: a new command group is a new module here plus one line in ``MODULES``.
Modules are imported lazily by name so a broken optional dependency only breaks its own commands.
"""
from __future__ import annotations

import importlib

MODULES: list[str] = ["jobs", "export", "select", "transferability", "counting", "cache", "labelling", "database"]


def register_all(sub, commands: dict) -> None:
    for name in MODULES:
        importlib.import_module(f"tlcore.cli.{name}").register(sub, commands)
