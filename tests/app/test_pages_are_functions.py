"""Issue 24 item 3: every page module is a ``render()`` function and nothing runs when it is imported.

Allowed at module level: the docstring, imports, constants (literals), definitions, and the
``if __name__ == "__main__": render()`` guard that lets AppTest.from_file (and ``streamlit run``) run one page.
"""
from __future__ import annotations

import ast

import pytest
from apptest_paths import PAGES

FILES = sorted(PAGES.glob("*.py"))


def _is_constant(node: ast.AST) -> bool:
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
        return False
    try:
        ast.literal_eval(node.value)
    except ValueError:
        return False
    return True


def _is_main_guard(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'" and not node.orelse
            and [ast.unparse(s) for s in node.body] == ["render()"])


def test_there_are_pages():
    assert {p.stem for p in FILES} >= {"domains", "train", "compare", "embeddings", "predict"}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_page_module_defines_render_and_runs_nothing_at_import(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    logic = [f"line {n.lineno}: {ast.unparse(n).splitlines()[0]}" for n in body
             if not isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
             and not _is_constant(n) and not _is_main_guard(n)]
    assert not logic, f"{path.name} runs code at module level: {logic}"
    render = [n for n in body if isinstance(n, ast.FunctionDef) and n.name == "render"]
    assert render and not render[0].args.args, f"{path.name} has no render() taking no arguments"
