"""Dead code: vulture over the product code (tlcore, ui, views, app.py, serve.py) finds nothing at 60 %
confidence beyond tests/vulture_whitelist.py (names used in ways it cannot see, each with its reason)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VULTURE = Path(sys.executable).with_name("vulture")
PATHS = ["tlcore", "ui", "views", "app.py", "serve.py"]
WHITELIST = "tests/vulture_whitelist.py"


def _vulture(root: Path, *paths: str) -> subprocess.CompletedProcess:
    if not VULTURE.exists():
        pytest.fail(f"{VULTURE} is missing: install the dev requirements (bash scripts/setup.sh requirements-dev.txt)")
    return subprocess.run([str(VULTURE), *paths, "--min-confidence", "60"], cwd=root, capture_output=True,
                          text=True, timeout=120)


def test_no_dead_code():
    out = _vulture(ROOT, *PATHS, WHITELIST)
    assert out.returncode == 0, "dead code (remove it, or whitelist it with the reason):\n" + out.stdout


def test_the_check_finds_an_unused_function(tmp_path):
    (tmp_path / "mod.py").write_text("def used():\n    return 1\n\n\ndef never_called():\n    return 2\n\n\nused()\n")
    out = _vulture(tmp_path, "mod.py")
    assert out.returncode != 0 and "never_called" in out.stdout and "used'" not in out.stdout
