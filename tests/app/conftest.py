"""AppTest fixtures: a fresh data root per test, no auto-started worker."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = ROOT / "pages"
TIMEOUT = 60


@pytest.fixture
def tl_home(tmp_path, monkeypatch):
    home = tmp_path / "tl_home"
    monkeypatch.setenv("TL_HOME", str(home))
    monkeypatch.setenv("TL_NO_AUTOWORKER", "1")
    monkeypatch.delenv("TL_ALLOWED_ROOTS", raising=False)
    monkeypatch.chdir(ROOT)
    return home


def page(name: str) -> str:
    return str(PAGES / f"{name}.py")


import sys  # noqa: E402

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
