"""Compare warns when a pretrained run ends below the small-CNN reference on the same target test samples."""
from __future__ import annotations

import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tlcore.runs.store import RunStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from apptest_paths import open_tab  # noqa: E402
from fake_runs import make_run  # noqa: E402

PAGE = str(HERE.parents[1] / "views" / "compare.py")


def test_run_below_the_small_cnn_reference_is_flagged(tl_home):
    store = RunStore(tl_home)
    # seed 0's fake target accuracy is poor (quality 1.0), seed 3's is good: same target test set (truth_seed)
    weak = make_run(store, name="pretrained", strategy="mcc", backbone="efficientnet_lite0", seed=0, truth_seed=7)
    ref = make_run(store, name="reference", strategy="scratch", backbone="small_cnn", seed=3, truth_seed=7)
    for rid in (weak, ref):  # the same split settings (what the flag checks) and image runs
        cfg = store.read_json(rid, "config.json")
        store.write_json(rid, "config.json", {**cfg, "seed": 0})
        store.update(rid, modality="image", config=json_dumps({**cfg, "seed": 0}))
    assert store.get(ref).target_acc > store.get(weak).target_acc
    at = open_tab(AppTest.from_file(PAGE, default_timeout=60).run(), "Metrics")  # the flags sit under the metrics
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "small CNN" in warnings and "pretrained" in warnings.replace("\\", "")


def json_dumps(d):
    import json

    return json.dumps(d)
