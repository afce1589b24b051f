"""Training throughput of the two embedded backbones, and the fraction of the accelerator's dense bf16 peak.

    .venv/bin/python bench/gpu.py [--steps 30] [--image-batch 256] [--text-batch 256] [--compile]
    .venv/bin/python bench/gpu.py --accuracy [PAIR ...] [--seeds 0 1 2]   # the auto default's accuracy (issue 25)

Fine-tunes EfficientNet-Lite0 at 224 px and MiniLM-L6 at length 128 end to end (every parameter trains)
through the product's own pieces: ``Classifier`` + the ``fine_tuning`` strategy's step, the precision
policy of ``tlcore.training.device.autocast`` (bf16 on CUDA), channels_last images, AdamW. Prints one JSON
line per model: samples/s, achieved TFLOP/s (FLOPs of one training step counted by
``torch.utils.flop_counter`` on the forward pass, x 3) and the fraction of the device's dense bf16 peak (table below; unknown
devices print null). On a machine without a GPU it runs the same on the CPU with a small batch, so the
script is checked everywhere; the figures that matter are the GPU ones.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# dense (no sparsity) bf16 tensor-core peak, TFLOP/s, from the vendors' data sheets
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 SXM": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0,
                    "L40S": 362.0, "L4": 121.0, "A10": 125.0, "RTX 4090": 165.0}


def peak_for(name: str) -> float | None:
    for key, v in PEAK_BF16_TFLOPS.items():
        if key.lower() in name.lower():
            return v
    return None


def measure(model, strategy, make_batch, device, steps: int, warmup: int, compile_: bool) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from tlcore.strategies.base import SetupContext, TrainState
    from tlcore.training.device import autocast

    groups = strategy.configure(model, SetupContext(lr=1e-4, weight_decay=0.0, num_classes=10,
                                                    feature_dim=model.out_features, device=device))
    opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=1e-4)
    step_model = torch.compile(model) if compile_ else model
    state = TrainState(epochs=1, total_steps=steps)
    batch = make_batch()
    n = len(batch["y_s"])

    def step():
        with autocast(device, training=True):
            out = strategy.training_step(step_model, batch, state)
        opt.zero_grad(set_to_none=True)
        out.loss.float().backward()
        opt.step()

    # training FLOPs = 3 x forward (forward + the two backward matmuls/convs): FlopCounterMode's backward count
    # of depthwise convolutions is dense (42x too high for EfficientNet-Lite0), so only the forward is counted
    with FlopCounterMode(display=False) as fc, torch.no_grad(), autocast(device, training=True):
        step_model(batch["x_s"])
    flops = 3 * fc.get_total_flops()
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {"samples_per_s": round(n * steps / dt, 1), "batch": n, "steps": steps,
            "tflops_achieved": round(flops * steps / dt / 1e12, 2), "gflops_per_sample": round(flops / n / 1e9, 2)}


def accuracy(pairs: list[str], seeds: list[int]) -> None:
    """``--accuracy``: the ``auto`` default of this machine (on a GPU the backbone trains: FixMatch + MCC for images,
    MiniLM fine-tuned with MCC for texts) on shared pairs, beside its source-only twin, one JSON line per run."""
    import os
    import tempfile

    os.environ.setdefault("TL_HOME", tempfile.mkdtemp(prefix="tl_gpu_acc_"))
    from bench.portfolio import domain
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment
    from tlcore.recommend import resolve_auto, source_only_twin
    from tlcore.device_probe import has_gpu
    from tlcore.runs.store import RunStore

    store = RunStore(os.environ["TL_HOME"])
    for seed in seeds:
        for pair in pairs:
            src, tgt = pair.split("_")
            cfg = resolve_auto({"source": domain(src), "target": domain(tgt), "seed": seed, "strategy": "auto",
                                "max_samples_per_domain": 1000}, gpu=has_gpu())
            for row, c in (("default", cfg), ("source_only_twin", source_only_twin(cfg))):
                t0 = time.time()
                rec = run_experiment(RunConfig.from_dict(c), store)
                print(json.dumps({"pair": pair, "seed": seed, "row": row, "strategy": rec.strategy,
                                  "accuracy": rec.target_acc, "seconds": round(time.time() - t0, 1),
                                  "gpu": has_gpu()}), flush=True)


def main() -> None:
    import torch

    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier
    from tlcore.strategies import build_strategy
    from tlcore.training.device import describe_device, precision_name, resolve_device

    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--image-batch", type=int, default=None)
    ap.add_argument("--text-batch", type=int, default=None)
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (GPU)")
    ap.add_argument("--accuracy", nargs="*", metavar="PAIR", default=None,
                    help="instead: accuracy of the auto default on shared pairs (default: usps_mnist amazon_webcam "
                         "books_kitchen), beside its source-only twin")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    a = ap.parse_args()
    if a.accuracy is not None:
        accuracy(a.accuracy or ["usps_mnist", "amazon_webcam", "books_kitchen"], a.seeds)
        return
    device = resolve_device("auto")
    gpu = device.type == "cuda"
    name = torch.cuda.get_device_name(0) if gpu else "CPU"
    peak = peak_for(name) if gpu else None
    steps, warmup = (a.steps, a.warmup) if gpu else (2, 1)
    ib, tb = a.image_batch or (256 if gpu else 8), a.text_batch or (256 if gpu else 8)
    if gpu:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
    results = []

    bb = create_backbone("efficientnet_lite0", pretrained=True)
    model = Classifier(bb, 10).to(device).to(memory_format=torch.channels_last)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(ib, 3, 224, 224, generator=g).to(device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (ib,), generator=g).to(device)
    r = measure(model, build_strategy("fine_tuning", {"backbone_lr_factor": 1.0}), lambda: {"x_s": x, "y_s": y},
                device, steps, warmup, a.compile)
    results.append({"model": "efficientnet_lite0", "input": "224 px", **r})

    bb = create_backbone("minilm_l6", pretrained=True)
    model = Classifier(bb, 2).to(device)
    ids = torch.randint(1000, 20000, (tb, 128), generator=g).to(device)
    mask = torch.ones_like(ids)
    yt = torch.randint(0, 2, (tb,), generator=g).to(device)
    r = measure(model, build_strategy("fine_tuning", {"backbone_lr_factor": 1.0}),
                lambda: {"x_s": {"input_ids": ids, "attention_mask": mask}, "y_s": yt}, device, steps, warmup,
                a.compile)
    results.append({"model": "minilm_l6", "input": "length 128", **r})

    for r in results:
        r.update({"device": name, "precision": precision_name(device), "compiled": a.compile,
                  "peak_bf16_tflops": peak,
                  "fraction_of_peak": round(r["tflops_achieved"] / peak, 4) if peak else None})
        print(json.dumps(r))
    print(json.dumps({"device": describe_device(device)}))


if __name__ == "__main__":
    main()
