"""Pages read runs through tlcore.runs.view.RunView: no run artifact file name (``metrics.json``,
``predictions_target_test.csv``, ``features_after.npz``...) is spelled in views/ or ui/.

AST scan of string literals and f-strings (a formatted part counts as ``*``). Prose (a string with spaces, e.g.
a message naming a file for the user) and download names (``file_name=``) are not file accesses and are skipped.
"""
from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest

from tlcore.runs.artifacts import PATTERNS

ROOT = Path(__file__).resolve().parents[1]
PAGE_FILES = sorted([ROOT / "app.py", *(ROOT / "views").rglob("*.py"), *(ROOT / "ui").rglob("*.py")])


def _skipped(tree: ast.AST) -> set[int]:
    """ids of nodes that are docstrings or ``file_name=`` values."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
        elif isinstance(node, ast.keyword) and node.arg == "file_name":
            out |= {id(n) for n in ast.walk(node.value)}
    return out


def _literal(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)
    return None


def artifact_names(source: str) -> list[str]:
    tree = ast.parse(source)
    skip, hits = _skipped(tree), []
    for node in ast.walk(tree):
        text = None if id(node) in skip else _literal(node)
        if text is None or any(c.isspace() for c in text):
            continue
        name = text.rsplit("/", 1)[-1]
        if "." not in name.strip("*."):  # e.g. f"{a}{b}": no file name in it
            continue
        if any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(p, name) for p in PATTERNS):
            hits.append(text)
    return hits


def test_the_scan_finds_names():
    assert artifact_names('p = store.path(rid, "predictions_target_test.csv")') == ["predictions_target_test.csv"]
    assert artifact_names('p = store.path(rid, f"features_{which}.npz")') == ["features_*.npz"]
    assert artifact_names('x = store.read_json(rid, "metrics.json")') == ["metrics.json"]
    assert artifact_names('x = f"{a}{b}s"') == []
    assert artifact_names('st.caption("full output: extract.log in the run folder")') == []
    assert artifact_names('st.download_button("x", b, file_name=f"predictions_{rid}.csv")') == []


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_spell_no_run_artifact_names(path):
    assert artifact_names(path.read_text(encoding="utf-8")) == [], \
        f"{path.relative_to(ROOT)} reads run files by name: use tlcore.runs.view.RunView"
