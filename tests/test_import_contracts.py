"""The layer picture as import-linter contracts (``.importlinter``), function-level imports included.

``lint-imports`` runs over the checkout and must keep every contract; then over a copy with one forbidden import
added inside a function, where it must fail and name that import (so the check can fail at all).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("tlcore", "ui", "views")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    if not LINT.exists():
        pytest.fail(f"{LINT} is missing: install the dev requirements (bash scripts/setup.sh requirements-dev.txt)")
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT), "--no-cache", str(cwd / ".importlinter")], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_layer_contracts_hold():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def _copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


@pytest.mark.parametrize("module, line, named", [
    ("tlcore/data/domain.py", "from tlcore.jobs.queue import JobQueue", "tlcore.data.domain -> tlcore.jobs.queue"),
    ("tlcore/runs/view.py", "import streamlit", "tlcore.runs.view -> streamlit"),
    ("views/train.py", "import torch", "views.train -> torch"),
    ("ui/forms.py", "import views.train", "ui.forms -> views.train"),
    ("tlcore/pipeline.py", "from tlcore.sweeps import plan_sweep", "tlcore.pipeline -> tlcore.sweeps"),
], ids=["engine-imports-jobs", "engine-imports-streamlit", "page-imports-torch", "ui-imports-page",
        "pipeline-imports-sweeps"])
def test_a_function_level_violation_breaks_a_contract(tmp_path, module, line, named):
    root = _copy(tmp_path)
    with open(root / module, "a", encoding="utf-8") as fh:
        fh.write(f"\n\ndef _violation():\n    {line}\n")
    out = _lint(root)
    assert out.returncode != 0 and "BROKEN" in out.stdout, out.stdout[-3000:]
    assert named in out.stdout
