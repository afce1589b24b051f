"""Issue 22 item 10: ``python -m tlcore train`` with an uncached ``hf:`` backbone is one clear line and a non-zero
exit before any network attempt (offline) or before a run row/folder is written (online, hub unreachable)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tlcore.errors import ModelError
from tlcore.models import hf_cache
from tlcore.runs.store import RunStore

from tests.conftest import ROOT

CONFIG = {"source": {"demo": "reviews"}, "target": {"demo": "reviews"}, "backbone": "hf:nobody/nothing",
          "strategy": "linear_probe", "epochs": 1, "max_samples_per_domain": 60, "device": "cpu"}


def _train(tmp_path, **env):
    home = tmp_path / "home"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(CONFIG))
    full = {**os.environ, "TL_HOME": str(home), "HF_HOME": str(tmp_path / "hf"), **env}
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TL_OFFLINE"):
        if k not in env:
            full.pop(k, None)
    res = subprocess.run([sys.executable, "-m", "tlcore", "train", str(cfg), "--quiet"], cwd=ROOT, env=full,
                         capture_output=True, text=True, timeout=300)
    return home, res


def _no_run(home):
    assert RunStore(home).list() == [], "a run row was written"
    runs = home / "runs"
    assert not runs.exists() or list(runs.iterdir()) == [], "a run folder was written"


def test_item10_uncached_hf_backbone_fails_before_a_run_row(tmp_path):
    home, res = _train(tmp_path, HF_HUB_OFFLINE="1")
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert lines[0].startswith("error: backbone 'nobody/nothing': Hugging Face weights are not reachable here")
    _no_run(home)


def test_item10_uncached_hf_backbone_with_an_unreachable_hub_fails_before_a_run_row(tmp_path):
    # online allowed, but the hub answers nowhere (a closed local port): one line, no run row or folder
    home, res = _train(tmp_path, HF_ENDPOINT="http://127.0.0.1:9")
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "backbone 'nobody/nothing': not in the Hugging Face cache and it could not be downloaded" in lines[0]
    _no_run(home)


def test_item10_cache_is_consulted_before_the_network(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hf_cache, "cached", lambda repo: True)
    def no_network(*a, **k):
        raise AssertionError("the network was tried for a cached model")

    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    hf_cache.preflight("hf:some/model", "hf")  # cached: passes without a download
    hf_cache.preflight("tiny_cnn", "tiny")     # not Hugging Face: nothing to check
    monkeypatch.setattr(hf_cache, "cached", lambda repo: False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not in the Hugging Face cache and this server is offline"):
        hf_cache.preflight("hf:some/model", "hf")
