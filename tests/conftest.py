"""Shared fixtures: an isolated data root per test, and the path of the shared real datasets."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TL_NO_AUTOWORKER", "1")
# Ray keeps its addresses on 127.0.0.1: with clusters "disabled" (a public switch of ray_constants) its node address
# is the loopback one instead of the machine's own (ray.init and ray start --head in the tests)
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
# "auto" runs its first recipe only (the portfolio of several candidates is tested on its own: tests/tlcore/test_portfolio.py)
os.environ.setdefault("TL_PORTFOLIO_BUDGET_S", "0")
# never the user's data root, even for tests that take no tl_home (on-disk caches live under TL_HOME)
os.environ["TL_HOME"] = tempfile.mkdtemp(prefix="tl_tests_")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture
def tl_home(tmp_path, monkeypatch):
    home = tmp_path / "tl_home"
    monkeypatch.setenv("TL_HOME", str(home))
    return home


@pytest.fixture
def store(tl_home):
    from tlcore.runs.store import RunStore

    return RunStore(tl_home)


def shared_or_skip(*parts) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared dataset {p} not present")
    return p
