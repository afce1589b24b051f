"""Frozen image feature extraction on a CPU: PyTorch eager (fp32, and bf16 where the CPU has it) against the same
BN-folded model in ONNX Runtime. EfficientNet-Lite0 (embedded ImageNet weights), 224 px, batch 32, channels_last.

    .venv/bin/python bench/ort_extract.py [--batches 6] [--rounds 3]

Rounds interleave the variants so that a noisy neighbour on a shared CPU hits all of them alike; the report gives
each variant's best and median images/s over the rounds and the worst per-sample cosine against PyTorch fp32.
Appends a row to bench/results/ort_extract.json and rewrites bench/results/ort_extract.md.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from defaults import cpu_name  # noqa: E402
from tlcore.models.backbones import create_backbone  # noqa: E402
from tlcore.models.fuse import folded_copy, min_cosine  # noqa: E402
from tlcore.models.ort import ort_copy  # noqa: E402
from tlcore.training.device import cpu_supports_bf16  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def rate(fn, x, batches: int) -> float:
    with torch.no_grad():
        fn(x)  # warm-up
        t = time.perf_counter()
        for _ in range(batches):
            fn(x)
    return batches * len(x) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=224)
    a = ap.parse_args()
    torch.manual_seed(0)
    x = torch.rand(32, 3, a.size, a.size)
    x = (x - 0.45) / 0.225
    bb = create_backbone("efficientnet_lite0").eval()
    t = time.perf_counter()
    folded = folded_copy(bb, x[:8]).to(memory_format=torch.channels_last)
    fold_s = time.perf_counter() - t
    xcl = x.contiguous(memory_format=torch.channels_last)
    t = time.perf_counter()
    ort = ort_copy(folded, x[:8])
    export_s = time.perf_counter() - t
    assert ort is not None, "the ONNX copy was refused"
    with torch.no_grad():
        ref = bb(x)
        cos = {"ort_fp32": min_cosine(ort(x), ref), "eager_fp32": min_cosine(folded(xcl), ref)}
    bf16 = cpu_supports_bf16()
    variants = {"eager_fp32": lambda z: folded(z), "ort_fp32": lambda z: ort(z)}
    inputs = {"eager_fp32": xcl, "ort_fp32": x}
    if bf16:
        def eager_bf16(z):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return folded(z)
        variants["eager_bf16"] = eager_bf16
        inputs["eager_bf16"] = xcl
        with torch.no_grad():
            cos["eager_bf16"] = min_cosine(eager_bf16(xcl), ref)
    got = {k: [] for k in variants}
    for _ in range(a.rounds):
        for k, fn in variants.items():
            got[k].append(rate(fn, inputs[k], a.batches))
    row = {"date": time.strftime("%Y-%m-%d"), "cpu": cpu_name(), "cores": torch.get_num_threads(),
           "native_bf16": bf16, "size": a.size, "batch": 32, "fold_s": round(fold_s, 2),
           "export_s": round(export_s, 2),
           "images_per_s": {k: {"best": round(max(v), 1), "median": round(statistics.median(v), 1)}
                            for k, v in got.items()},
           "min_cosine_vs_fp32": {k: round(v, 6) for k, v in cos.items()}}
    print(json.dumps(row, indent=1))
    path = RESULTS / "ort_extract.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    rows.append(row)
    path.write_text(json.dumps(rows, indent=1) + "\n")
    write_md(rows)


def write_md(rows) -> None:
    lines = ["# Frozen image features on a CPU: PyTorch eager vs ONNX Runtime", "",
             "EfficientNet-Lite0 (embedded ImageNet weights), BN folded, channels_last, batch 32; images/s best "
             "(median) of interleaved rounds; cosine = worst per-sample cosine against unfolded PyTorch fp32. "
             "`python bench/ort_extract.py`.", "",
             "| date | CPU | threads | native bf16 | px | eager fp32 | eager bf16 | ONNX Runtime fp32 | export s | "
             "cosine ORT / bf16 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ips = r["images_per_s"]
        cell = lambda k: f"{ips[k]['best']} ({ips[k]['median']})" if k in ips else "n/a (~100x slower)"  # noqa: E731
        c = r["min_cosine_vs_fp32"]
        lines.append(f"| {r['date']} | {r['cpu']} | {r['cores']} | {'yes' if r['native_bf16'] else 'no'} | "
                     f"{r['size']} | {cell('eager_fp32')} | {cell('eager_bf16')} | {cell('ort_fp32')} | "
                     f"{r['export_s']} | {c['ort_fp32']} / {c.get('eager_bf16', 'n/a')} |")
    lines += ["", "`TL_ORT=auto` (the default) extracts frozen image features through ONNX Runtime on CPUs without "
              "native bf16, PyTorch bf16 autocast on CPUs with it; see the end-to-end demo figures below.", ""]
    extra = RESULTS / "ort_extract_notes.md"
    if extra.exists():
        lines.append(extra.read_text())
    (RESULTS / "ort_extract.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
