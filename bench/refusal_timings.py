"""Benchmark: how fast the engine refuses hostile inputs and does a few bounded reads (issue 24 item 7).

These wall-clock figures used to be asserted by unit tests (``< 1 s``, ``< 2 s``, ``< 5 s``, ``< 10 s``) on a
2-core machine shared by several engineers, where a busy neighbour could fail them; the tests now assert only
what happens (refused, nothing allocated, no network tried), and the times are measured here:

* ``hf-config-bomb``: a Hugging Face folder whose config describes ~10^13 parameters (``create_backbone``), refused
  before anything is allocated (was ``tests/tlcore/models/test_weights_safety.py`` item 52, ``< 1.0 s``);
* ``safetensors-bomb``: a run's weights file declaring a 10^6 x 10^6 float tensor (``load_model``), refused
  without allocating (item 54, ``< 1.0 s``);
* ``hf-uncached-offline``: ``create_backbone("hf:...")`` of an uncached model with the network blocked, refused
  from the local cache alone (``tests/tlcore/test_issue15_misc.py``, ``< 2 s``);
* ``usps-zip``: ``read_images`` of ``../shared/data/digits_mnist_usps/usps.zip`` (9,298 images; skipped when the
  shared data is absent) (``tests/tlcore/data/test_data_real.py``, ``< 10 s``);
* ``target-unsupervised``: the ``seconds`` a tiny linear-probe run records for its unsupervised validator scores
  (``tests/tlcore/evaluation/test_validators.py``, ``< 5 s``).

Each case runs ``--repeat`` times in this process after one warm-up (imports excluded); the table gives the median
and the worst, next to the old test bound. Writes ``bench/results/refusal_timings.{json,md}``.

    nice -n 10 .venv/bin/python bench/refusal_timings.py [--repeat 5] [--machine "2-core AMD EPYC, shared"]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import socket
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
BOUNDS = {"hf-config-bomb": 1.0, "safetensors-bomb": 1.0, "hf-uncached-offline": 2.0, "usps-zip": 10.0,
          "target-unsupervised": 5.0}


def machine(desc: str) -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo", encoding="utf-8")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return desc or f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def hf_config_bomb(tmp: Path):
    from tlcore.errors import ModelError
    from tlcore.models.backbones import create_backbone

    folder = tmp / "hf_bomb"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 10**6,
                                                    "num_hidden_layers": 12, "num_attention_heads": 16,
                                                    "intermediate_size": 4 * 10**6, "vocab_size": 30522}))

    def case():
        try:
            create_backbone(str(folder))
        except ModelError:
            return "refused"
        raise AssertionError("the config bomb was not refused")
    return case


def safetensors_bomb(tmp: Path):
    import torch

    from tlcore.errors import ModelError
    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier
    from tlcore.models.io import build_meta, load_model, save_model

    folder = tmp / "run"
    torch.manual_seed(0)
    model = Classifier(create_backbone("tiny_cnn", pretrained=False), 10).eval()
    save_model(folder, model, build_meta(model, [str(i) for i in range(10)], "tiny_cnn", image_size=16))
    raw = json.dumps({"head.weight": {"dtype": "F32", "shape": [10**6, 10**6],
                                      "data_offsets": [0, 4 * 10**12]}}).encode()
    data = struct.pack("<Q", len(raw)) + raw + b"\0" * 64
    (folder / "model.safetensors").write_bytes(data)
    meta = json.loads((folder / "model.json").read_text())
    meta["weights_sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "model.json").write_text(json.dumps(meta))

    def case():
        try:
            load_model(folder)
        except ModelError:
            return "refused"
        raise AssertionError("the weights bomb was not refused")
    return case


def hf_uncached_offline(tmp: Path):
    import huggingface_hub  # noqa: F401  (imported before the clock starts, as the test does)

    from tlcore.errors import ModelError
    from tlcore.models.backbones import create_backbone

    os.environ.pop("HF_HUB_OFFLINE", None)
    os.environ["TRANSFORMERS_OFFLINE"] = "1"

    def no_network(self, *a, **k):
        raise OSError("network blocked in this benchmark")

    socket.socket.connect = no_network

    def case():
        try:
            create_backbone("hf:nobody/not-a-cached-model-xyz")
        except ModelError:
            return "refused"
        raise AssertionError("the uncached model was not refused")
    return case


def usps_zip(tmp: Path):
    path = SHARED / "data" / "digits_mnist_usps" / "usps.zip"
    if not path.is_file():
        return None
    from tlcore.data import read_images

    def case():
        return f"{len(read_images(path))} images"
    return case


def target_unsupervised(tmp: Path):
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment
    from tlcore.runs.store import RunStore

    store = RunStore(tmp / "tl_home")
    cfg = RunConfig.from_dict({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn",
                               "strategy": "linear_probe", "epochs": 1, "image_size": 16, "batch_size": 32,
                               "max_samples_per_domain": 200})

    def case():
        rec = run_experiment(cfg, store)
        return store.metrics(rec.run_id)["target_unsupervised"]["seconds"]  # the figure the run records
    return case


CASES = {"hf-config-bomb": hf_config_bomb, "safetensors-bomb": safetensors_bomb,
         "hf-uncached-offline": hf_uncached_offline, "usps-zip": usps_zip, "target-unsupervised": target_unsupervised}


def measure(name: str, tmp: Path, repeat: int) -> dict | None:
    case = CASES[name](tmp)
    if case is None:
        return None
    case()  # warm-up: imports and caches
    secs, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = case()
        took = time.perf_counter() - t0
        secs.append(float(result) if name == "target-unsupervised" else took)
    return {"case": name, "median_s": round(statistics.median(secs), 4), "max_s": round(max(secs), 4),
            "old_test_bound_s": BOUNDS[name], "repeat": repeat, "result": str(result)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--machine", default="", help="machine description for the results")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "refusal_timings"))
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TL_HOME"] = str(Path(tmp) / "tl_home")
        for name in a.cases:
            row = measure(name, Path(tmp), a.repeat)
            print(json.dumps(row or {"case": name, "skipped": "input absent"}), flush=True)
            if row:
                rows.append(row)
    desc = machine(a.machine)
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps({"machine": desc, "date": time.strftime("%Y-%m-%d"),
                                                    "rows": rows}, indent=1) + "\n")
    lines = ["# Refusal and bounded-read timings (bench/refusal_timings.py)\n", f"Machine: {desc}\n",
             f"Date: {time.strftime('%Y-%m-%d')}; each case {a.repeat} times after a warm-up, in one process.\n",
             "| case | median s | worst s | old unit-test bound s | result |", "|---|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['median_s']} | {r['max_s']} | {r['old_test_bound_s']} | {r['result']} |"
              for r in rows]
    lines += ["", "These bounds were asserted by unit tests until issue 24 item 7; the tests now check only the "
              "outcome (refused, nothing allocated, no network tried, the figure recorded), and this script "
              "measures the time. `target-unsupervised` is the `seconds` the run records for its validator "
              "scores, not the whole run."]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
