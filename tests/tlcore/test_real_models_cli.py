"""The recommended default trained end to end on the embedded weights through the CLI, once per modality
(issue 21): a dependency release that breaks a real model (MiniLM's split for cached partial fine-tuning,
EfficientNet-Lite0's weights, the frozen-feature paths) breaks the suite, not a user's first run. Small: the
built-in demos with 300 samples per domain (about 10 s for text and 25 s for images on a 2-core CPU)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _train(demo: str, home) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TL_")}
    # the portfolio's first recipe: the embedded pretrained network (the whole portfolio: tests/tlcore/test_portfolio.py)
    env.update({"TL_HOME": str(home), "HF_HUB_OFFLINE": "1", "TL_NO_AUTOWORKER": "1", "TL_PORTFOLIO_BUDGET_S": "0"})
    out = subprocess.run([sys.executable, "-m", "tlcore", "train", "--demo", demo, "--quiet",
                          "--set", "max_samples_per_domain=300"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("demo,backbone,floor", [
    ("reviews", "minilm_l6", 0.70),          # 2 classes; measured 0.85 with transformers 5.25 and the lock's 5.24
    ("digits", "efficientnet_lite0", 0.30),  # 10 classes (chance 0.10); measured 0.49
])
def test_recommended_default_trains_on_the_embedded_weights(tmp_path, demo, backbone, floor):
    res = _train(demo, tmp_path)
    assert res["status"] == "completed" and res["resolved_from"] == "auto"
    assert res["backbone"] == backbone and res["resolved"]["pretrained"] is True
    if demo == "reviews":  # the text default fine-tunes MiniLM's top layers on a cached split of the encoder
        assert res["resolved"]["params"].get("train_last_groups", 0) >= 1
    acc = res["metrics"]["target_test"]["accuracy"]
    assert acc >= floor, f"{demo}: target accuracy {acc:.3f} below {floor} on the real {backbone}"
    run = tmp_path / "runs" / res["run_id"]
    assert (run / "model.safetensors").is_file() and json.loads((run / "model.json").read_text())["classes"]
