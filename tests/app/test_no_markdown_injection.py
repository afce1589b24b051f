"""No Markdown/HTML rendering of user text anywhere (issue 15, item 10; RELIABILITY.md item 11).

An AST sweep of every call of a Markdown-rendering widget in views/, ui/ and app.py: each argument must be a
constant, a number, or user text escaped with ``ui.safe.md`` (or predict_view's ``md_escape``). A value that is
known to be internal (a registry constant, a generated id) is marked on its line with ``# md-safe: why``.
And the escape itself: a hostile name renders as literal text in AppTest, no image, no link."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ui.safe import md

ROOT = Path(__file__).resolve().parents[2]
RENDERING = {"error", "warning", "info", "success", "caption", "markdown", "toast", "title", "header",
             "subheader", "write", "exception"}
ESCAPERS = {"md", "md_escape"}
NUMERIC = {"len", "int", "float", "round", "sum", "min", "max", "abs", "_pct", "_duration", "fmt_bytes"}
# st.* and the column/container objects pages write into (c1.error(...), col.caption(...))
RECEIVERS = {"st", "col", "c1", "c2", "c3", "c4", "left", "right", "box", "container", "placeholder", "slot",
             "d1", "d2", "sidebar"}


def _files():
    yield ROOT / "app.py"
    for folder in ("views", "ui", "pages"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def _constant_root(node: ast.AST) -> bool:
    """``HELP``, ``DEMOS[demo]``, ``BACKBONES[b].speed``, ``STRATEGIES[s].describe()["doc"]``: module constants
    (UPPER_CASE tables written in the code), never user text."""
    while True:
        if isinstance(node, ast.Name):
            return node.id.isupper() and len(node.id) > 1
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        else:
            return False


def _safe(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) or _constant_root(node):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(_safe_value(v) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _safe(node.left) and _safe(node.right)
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        if name in ESCAPERS or name in NUMERIC:
            return True
        if name == "join" and isinstance(node.func, ast.Attribute) and node.args:
            return _safe(node.func.value) and _safe_iter(node.args[0])
    if isinstance(node, ast.IfExp):
        return _safe(node.body) and _safe(node.orelse)
    return False


def _safe_iter(node: ast.AST) -> bool:
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
        return _safe(node.elt)
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_safe(e) for e in node.elts)
    return False


def _safe_value(v: ast.AST) -> bool:
    if isinstance(v, ast.Constant):
        return True
    assert isinstance(v, ast.FormattedValue)
    if v.format_spec is not None:  # {x:.3f}, {n:,}: a number
        spec = "".join(c.value for c in v.format_spec.values if isinstance(c, ast.Constant))
        if spec and spec[-1] in "dfegn%," or spec.startswith(","):
            return True
    return _safe(v.value)


def _calls():
    for path in _files():
        src = path.read_text(encoding="utf-8")
        lines = src.splitlines()
        for node in ast.walk(ast.parse(src)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in RENDERING):
                continue
            recv = node.func.value
            recv_name = recv.id if isinstance(recv, ast.Name) else getattr(recv, "attr", "")
            if recv_name not in RECEIVERS:
                continue
            args = list(node.args[:1]) + [k.value for k in node.keywords if k.arg in ("body", "label")]
            end = getattr(node, "end_lineno", node.lineno)
            marked = any("# md-safe:" in lines[i - 1] for i in range(node.lineno, end + 1))
            yield f"{path.relative_to(ROOT)}:{node.lineno}", args, marked


def test_item_11_every_markdown_rendering_call_escapes_user_text():
    bad = [where for where, args, marked in _calls() if not marked and not all(_safe(a) for a in args)]
    assert bad == [], "user text may reach Markdown; wrap it in ui.safe.md(...) or mark '# md-safe: why':\n" + \
        "\n".join(bad)


def test_the_sweep_finds_calls():
    assert sum(1 for _ in _calls()) > 50


@pytest.mark.parametrize("hostile", ["![i](http://127.0.0.1:8799/x.png)", "[x](javascript:alert(1))",
                                     "<img src=x onerror=alert(1)>", "**bold** _i_ `c` # h", ":red[x] $x$"])
def test_escaped_text_renders_as_the_literal_text(hostile):
    from streamlit.testing.v1 import AppTest

    def app(text):
        import streamlit as st

        from ui.safe import md

        st.error(md(text))

    at = AppTest.from_function(app, args=(hostile,), default_timeout=30).run()
    body = at.error[0].value
    assert body == md(hostile)
    import markdown_it  # streamlit's frontend is react-markdown; CommonMark shows the same: no link, no image

    html = markdown_it.MarkdownIt("commonmark").render(body)
    assert "<img" not in html and "<a " not in html and "<strong>" not in html and "<code>" not in html
    assert html.count("&lt;img") == hostile.count("<img")
