"""Issue 11: a dashboard process never loads torch. Every page is rendered (AppTest, the Train page with its
form, validation, strategy help and parameter count) in a fresh interpreter, which must end without torch,
torchvision, transformers or timm in ``sys.modules``. The parameter count comes from a ``count`` job that a worker
runs, and arrives on a later rerun."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from apptest_paths import APP, ROOT

SCRIPT = """
import json, sys, time
from streamlit.testing.v1 import AppTest
sys.path.insert(0, "tests/app")  # cwd is the repository root
from apptest_paths import open_page
at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
errors = [e.value for e in at.exception]
for url in ("train", "compare", "embeddings", "predict"):
    open_page(at, url).run()
    errors += [e.value for e in at.exception]
open_page(at, "train").run()
at.selectbox(key="strategy-image").set_value("dann").run()
errors += [e.value for e in at.exception]
captions = []
deadline = time.time() + 60
while time.time() < deadline:
    captions = [c.value for c in at.caption if c.value.startswith("Trainable parameters")]
    if captions and "counting" not in captions[0]:
        break
    time.sleep(1)
    at.run()
heavy = sorted(m for m in ("torch", "torchvision", "transformers", "timm") if m in sys.modules)
print(json.dumps({"errors": errors, "heavy": heavy, "captions": captions}))
"""


def test_item_07_every_page_renders_without_loading_torch(tmp_path):
    env = {**os.environ, "TL_HOME": str(tmp_path / "home"), "TL_NO_AUTOWORKER": "1", "TL_PARAM_COUNT": "1"}
    # the count is a job of the queue: a worker of this data root runs it (its own process loads torch)
    worker = subprocess.Popen([sys.executable, "-m", "tlcore", "worker"], cwd=ROOT, env={**env, "TL_MAX_JOBS": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        r = subprocess.run([sys.executable, "-c", SCRIPT, APP], capture_output=True, text=True, timeout=300,
                           env=env, cwd=ROOT)
    finally:
        worker.terminate()
        worker.wait(30)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert not out["errors"], out["errors"]
    assert out["heavy"] == [], f"a page loaded {out['heavy']}"
    assert out["captions"] and "of" in out["captions"][0], out["captions"]  # the engine's count arrived
