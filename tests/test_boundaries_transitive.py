"""Page processes never load torch, counting transitive imports: each page's (and ui module's) module-level
imports are imported in a fresh interpreter, which must not end with ``torch`` in ``sys.modules``.

(tests/test_boundaries.py checks direct imports only, by AST scan.)
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE_FILES = sorted([ROOT / "app.py", *(ROOT / "views").rglob("*.py"), *(ROOT / "ui").rglob("*.py")])
HEAVY = ("torch", "torchvision", "transformers", "timm")
KNOWN: dict[str, str] = {}  # pages known to load torch at import time, and why (none since the torch-free specs)


def module_level_imports(path: Path) -> list[str]:
    """Modules imported at the top level of ``path`` (not inside functions: those run only when called)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    mods = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            mods += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.append(node.module)
        elif isinstance(node, (ast.If, ast.Try)):  # e.g. `if TYPE_CHECKING:` blocks are not run
            continue
    return sorted(set(mods))


def _loaded(mods: list[str]) -> list[str]:
    code = ("import importlib, json, sys\n"
            f"for m in {mods!r}:\n    importlib.import_module(m)\n"
            f"print(json.dumps(sorted(h for h in {HEAVY!r} if h in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("path", PAGE_FILES, ids=_rel)
def test_page_dependencies_do_not_load_torch(path, request):
    rel = _rel(path)
    if rel in KNOWN:
        request.applymarker(pytest.mark.xfail(reason=KNOWN[rel], strict=True))
    mods = [m for m in module_level_imports(path) if m.split(".")[0] in ("tlcore", "ui", "views")]
    assert _loaded(mods) == [], f"{rel}: importing {mods} loads torch"


def test_the_check_detects_torch():
    assert "torch" in _loaded(["tlcore.strategies.registry"])
    assert _loaded(["tlcore.pipeline", "tlcore.runs.recorder", "tlcore.data.prepare", "tlcore.training.oom"]) == []
