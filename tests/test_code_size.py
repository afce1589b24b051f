"""Issue 24 targets, checked: no product file over 350 lines and no function graded D or worse by radon
(cyclomatic complexity above 20) in ``tlcore``, ``ui``, ``views`` and ``app.py``."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 350
MAX_COMPLEXITY = 20  # radon grade C ends at 20


def _files():
    for pkg in ("tlcore", "ui", "views"):
        yield from sorted((ROOT / pkg).rglob("*.py"))
    yield ROOT / "app.py"


def test_no_product_file_over_350_lines():
    long = {p.relative_to(ROOT).as_posix(): n for p in _files()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"


def complex_blocks(source: str) -> list[tuple[str, int]]:
    from radon.complexity import cc_visit

    out = []
    for block in cc_visit(source):
        blocks = [block, *getattr(block, "methods", [])]
        out += [(b.fullname, b.complexity) for b in blocks if b.complexity > MAX_COMPLEXITY]
    return out


def test_no_function_graded_d_or_worse():
    bad = {}
    for path in _files():
        hits = complex_blocks(path.read_text(encoding="utf-8"))
        if hits:
            bad[path.relative_to(ROOT).as_posix()] = hits
    assert not bad, f"radon grade D or worse (complexity > {MAX_COMPLEXITY}): {bad}"


def test_the_grade_check_can_fail():
    branches = "\n".join(f"    if x == {i}:\n        return {i}" for i in range(25))
    assert complex_blocks(f"def f(x):\n{branches}\n") == [("f", 26)]
