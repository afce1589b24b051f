"""Static checks of the architecture boundaries (AST scan, no imports executed).

- ``tlcore/`` never imports streamlit;
- ``views/``, ``ui/`` and ``app.py`` never import torch, torchvision or transformers directly;
- ``unsafe_allow_html=True`` and ``st.html`` only ever receive constant strings.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UI_FILES = sorted([ROOT / "app.py", *(ROOT / "views").rglob("*.py"), *(ROOT / "ui").rglob("*.py")])
ENGINE_FILES = sorted((ROOT / "tlcore").rglob("*.py"))
ML_LIBS = {"torch", "torchvision", "transformers"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__" and node.args:
            if isinstance(node.args[0], ast.Constant):
                out.add(str(node.args[0].value).split(".")[0])
    return out


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.mark.parametrize("path", ENGINE_FILES, ids=_rel)
def test_engine_never_imports_streamlit(path):
    assert "streamlit" not in _imports(path)


@pytest.mark.parametrize("path", UI_FILES, ids=_rel)
def test_ui_never_imports_ml_libraries(path):
    assert not (_imports(path) & ML_LIBS)


def _constant_str(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


@pytest.mark.parametrize("path", UI_FILES, ids=_rel)
def test_item_79_html_only_with_constant_content(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        unsafe = any(k.arg == "unsafe_allow_html" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                     for k in node.keywords)
        is_html = isinstance(node.func, ast.Attribute) and node.func.attr == "html"
        if (unsafe or is_html) and not (node.args and all(_constant_str(a) for a in node.args)):
            bad.append(node.lineno)
    assert not bad, f"{_rel(path)}: unsafe HTML with non-constant content at lines {bad}"


def test_scan_sees_the_files():
    assert (ROOT / "app.py") in UI_FILES and len(ENGINE_FILES) > 10
    assert _imports(ROOT / "tlcore" / "strategies" / "base.py") >= {"torch"}
