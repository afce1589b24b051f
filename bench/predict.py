"""Benchmark: the Predict page's latency and int8 compression of a text model, on the 2-core CPU.

    nice -n 10 .venv/bin/python bench/predict.py [--store DIR] [--max 1000]

1. Trains two quick runs in a scratch store: MiniLM-L6 linear probe on Amazon books -> kitchen (../shared/data,
   ``--max`` reviews per domain, max length 128) and EfficientNet-Lite0 linear probe on the digits demo (64 px).
2. Predict latency exactly as the dashboard gets it: a ``PredictClient`` starts ``python -m tlcore
   predict-server``; the first request (process start + model load) and then 30 single inputs per run (the
   round trip the page waits for: JSON over a pipe, preprocessing, forward), median and 90th percentile.
3. ``compress --quantize int8`` and ``--prune 0.5 --quantize int8`` of the text run: target accuracy with 95%
   bootstrap intervals, size, and CPU milliseconds per sample at batch 1 and 32, parent vs compressed (timed
   alternately on the same inputs).
4. The same text model through ONNX Runtime: the fp32 ONNX export vs ONNX Runtime's dynamic int8 quantization
   of it (``onnxruntime.quantization.quantize_dynamic``, per channel), with PyTorch fp32 timed alongside.

``--text-run ID --image-run ID`` reuse runs of ``--store`` instead of training.

Writes bench/results/predict.json and predict.md with the machine and the load average (other processes share
the 2 cores: the figures are what a busy machine gives).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SENTENCES = ["This blender is loud but it crushes ice in seconds.", "The pan warped after a week, avoid it.",
             "Great knife set for the price, very sharp.", "Stopped working after two uses. Returned it.",
             "The kettle boils fast and looks nice on the counter.", "Cheap plastic, the lid broke immediately."]


def train(store, cfg: dict) -> str:
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment

    t = time.time()
    rec = run_experiment(RunConfig.from_dict(cfg), store)
    print(f"trained {rec.run_id} ({cfg['backbone']}, {cfg['strategy']}) in {time.time() - t:.0f} s, "
          f"target acc {rec.target_acc:.3f}", file=sys.stderr)
    return rec.run_id


def latency(root: str, run_id: str, inputs: list, kind: str, n: int = 30) -> dict:
    from tlcore.export.client import PredictClient

    client = PredictClient(root)
    try:
        t = time.perf_counter()
        first = client.predict(run_id, **{kind: inputs[0]})
        cold = (time.perf_counter() - t) * 1000
        assert first.get("ok"), first
        rt, fw = [], []
        for i in range(n):
            ans = client.predict(run_id, **{kind: inputs[i % len(inputs)]})
            assert ans.get("ok"), ans
            rt.append(ans["roundtrip_ms"])
            fw.append(ans["ms"])
    finally:
        client.close()
    q = statistics.quantiles(rt, n=10)
    return {"run_id": run_id, "first_request_ms": round(cold, 1), "model_load_ms": first.get("load_ms"),
            "n": n, "roundtrip_median_ms": round(statistics.median(rt), 1), "roundtrip_p90_ms": round(q[-1], 1),
            "forward_median_ms": round(statistics.median(fw), 1), "under_1s": sum(x < 1000 for x in rt) / n}


def digit_pngs(k: int = 6) -> list[bytes]:
    from PIL import Image

    from tlcore.data.demos import load_demo

    dom = load_demo("digits", "target", 0)
    out = []
    for arr in dom.samples[:k]:
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default=None)
    ap.add_argument("--max", type=int, default=1000)
    ap.add_argument("--text-run", default=None)
    ap.add_argument("--image-run", default=None)
    ap.add_argument("--skip", nargs="*", default=[], choices=["latency", "compress", "ort"])
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads for the ONNX Runtime section "
                    "(torch and ORT alike; default: the libraries' own, 2 here)")
    a = ap.parse_args()
    root = a.store or tempfile.mkdtemp(prefix="tl_bench_predict_")
    os.environ["TL_HOME"] = root
    from cli_speed import machine

    from tlcore.export.compress import compress_run
    from tlcore.runs.store import RunStore

    store = RunStore(root)
    load0 = os.getloadavg()
    books, kitchen = SHARED / "amazon_reviews" / "books.csv", SHARED / "amazon_reviews" / "kitchen.csv"
    text = a.text_run or train(store, {
        "source": {"path": str(books), "text_column": "text", "label_column": "label"},
        "target": {"path": str(kitchen), "text_column": "text", "label_column": "label"},
        "backbone": "minilm_l6", "strategy": "linear_probe", "epochs": 30, "max_length": 128, "batch_size": 64,
        "lr": 1e-3, "max_samples_per_domain": a.max, "name": "books->kitchen probe"})
    image = a.image_run or train(store, {
        "source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "efficientnet_lite0",
        "strategy": "linear_probe", "epochs": 10, "image_size": 64, "max_samples_per_domain": 400,
        "name": "digits probe"})
    old = {}
    path = ROOT / "bench" / "results" / "predict.json"
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
    lat = old.get("predict_latency") if "latency" in a.skip else {
        "text": latency(root, text, SENTENCES, "text"), "image": latency(root, image, digit_pngs(), "image")}
    print(json.dumps(lat), file=sys.stderr)
    comp = old.get("compression") or {}
    if "compress" not in a.skip:
        for label, kw in (("int8", {"quantize": "int8"}), ("prune50_int8", {"prune": 0.5, "quantize": "int8"})):
            t = time.time()
            out = compress_run(store, text, latency_samples=64, **kw)
            comp[label] = {**out, "seconds": round(time.time() - t, 1)}
            print(json.dumps(comp[label]["table"]), file=sys.stderr)
    ort_res = old.get("onnxruntime") if "ort" in a.skip else onnxruntime_int8(store, text, root, a.threads)
    result = {"machine": machine(), "loadavg_start": load0, "loadavg_end": os.getloadavg(), "text_run": text,
              "image_run": image, "predict_latency": lat, "compression": comp, "onnxruntime": ort_res,
              "samples_per_domain": a.max}
    out = ROOT / "bench" / "results" / "predict.json"
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    (ROOT / "bench" / "results" / "predict.md").write_text(report(result), encoding="utf-8")
    print(json.dumps({"out": str(out)}))


def onnxruntime_int8(store, run_id: str, root: str, threads: int | None = None) -> dict:
    """fp32 ONNX export vs ONNX Runtime dynamic int8 of it: accuracy (95% CI) and ms/sample, with PyTorch fp32
    and PyTorch int8 (``compress``'s quantization) timed alternately on the same inputs."""
    import copy

    import numpy as np
    import torch
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from tlcore.config import RunConfig
    from tlcore.evaluation.metrics import classification_metrics
    from tlcore.export.compress import latency_pair
    from tlcore.export.formats import export_run
    from tlcore.export.predict import Predictor, softmax
    from tlcore.models.io import quantize_int8
    from tlcore.pipeline import prepare_data
    from tlcore.training.features import encode_split

    if threads:
        torch.set_num_threads(threads)
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    folder = Path(root) / "ort_export"
    if not (folder / "model.onnx").is_file() or (folder / "model.onnx.data").exists():
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        export_run(store, run_id, "onnx", folder)
    fp32, int8 = folder / "model.onnx", folder / "model.int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    pred = Predictor.from_run(store, run_id)
    cfg = RunConfig.from_dict(store.get(run_id).config)
    source, target, classes, split = prepare_data(cfg)
    ds = encode_split(source, target, classes, split, pred.model.backbone, cfg)["target_test"]
    sessions = {k: ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"]) for k, p in
                (("ort_fp32", fp32), ("ort_int8", int8))}

    def runner(sess):
        return lambda x: sess.run(["logits"], {k: v.numpy() for k, v in x.items()})[0]

    out = {"sizes_mb": {"onnx_fp32": round(fp32.stat().st_size / 2**20, 1),
                        "onnx_int8": round(int8.stat().st_size / 2**20, 1)}}
    for name, sess in sessions.items():
        logits = np.zeros((len(ds), len(classes)), np.float32)
        for i in range(0, len(ds), 32):
            idx = np.arange(i, min(i + 32, len(ds)))
            logits[idx] = runner(sess)(ds.batch(idx, "cpu"))
        m = classification_metrics(ds.labels, softmax(logits), classes, n_resamples=1000, seed=cfg.seed)
        out[name] = {"target_accuracy": m["accuracy"], "target_accuracy_ci": m["accuracy_ci"]}
    torch_int8 = quantize_int8(copy.deepcopy(pred.model))
    lats = latency_pair([pred.model, torch_int8, runner(sessions["ort_fp32"]), runner(sessions["ort_int8"])], ds, 64)
    out["threads"] = threads or torch.get_num_threads()
    for name, (b1, b32) in zip(("torch_fp32", "torch_int8", "ort_fp32", "ort_int8"), lats):
        out.setdefault(name, {}).update(latency_ms_batch1=b1, latency_ms_batch32=b32)
    print(json.dumps(out), file=sys.stderr)
    return out


def report(r: dict) -> str:
    m = r["machine"]
    lines = ["# Predict latency and int8 compression", "",
             f"Machine: {m['cpu']} ({m['cores']} cores), no GPU, torch {m['torch']}, {m['date']}. Load average "
             f"{r['loadavg_start'][0]:.1f} at the start, {r['loadavg_end'][0]:.1f} at the end (other processes "
             "shared the 2 cores). Command: `nice -n 10 .venv/bin/python bench/predict.py`.", "",
             "## Predict page: one input, after the first load", "",
             "| run | first request (process start + load) | model load | round trip median | p90 | forward median "
             "| answers < 1 s |", "|---|---|---|---|---|---|---|"]
    for kind, d in r["predict_latency"].items():
        lines.append(f"| {kind} (`{d['run_id']}`) | {d['first_request_ms'] / 1000:.1f} s | "
                     f"{(d['model_load_ms'] or 0) / 1000:.1f} s | {d['roundtrip_median_ms']:.0f} ms | "
                     f"{d['roundtrip_p90_ms']:.0f} ms | {d['forward_median_ms']:.0f} ms | {d['under_1s']:.0%} |")
    lines += ["", "Round trip = what the page waits for: JSON over the pipe to the long-lived `predict-server` "
              "child, decoding/tokenising, one fp32 forward pass. Text: MiniLM-L6, max length 128, single "
              "sentences; image: EfficientNet-Lite0 at 64 px.", "",
              "## int8 (and pruning) of the MiniLM books -> kitchen model", ""]
    for label, c in r["compression"].items():
        lines += [f"### {label}: run `{c['run_id']}` (parent `{c['parent_run_id']}`)", "",
                  "| model | target accuracy [95% CI] | size (MB) | zipped (MB) | ms/sample batch 1 "
                  "| ms/sample batch 32 "
                  "| zero weights |", "|---|---|---|---|---|---|---|"]
        for row in c["table"]:
            ci = row["target_accuracy_ci"]
            lines.append(f"| {row['model']} | {row['target_accuracy']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] | "
                         f"{row['size_mb']:.1f} | {row['size_zipped_mb']:.1f} | {row['latency_ms_batch1']:.1f} | "
                         f"{row['latency_ms_batch32']:.1f} | {row['sparsity']:.2f} |")
        p, q = c["table"]
        lines += ["", f"Speed-up per sample: {p['latency_ms_batch1'] / q['latency_ms_batch1']:.2f}x at batch 1, "
                  f"{p['latency_ms_batch32'] / q['latency_ms_batch32']:.2f}x at batch 32; accuracy change "
                  f"{100 * (q['target_accuracy'] - p['target_accuracy']):+.1f} points.", ""]
    o = r.get("onnxruntime")
    if o:
        lines += ["## PyTorch and ONNX Runtime, fp32 vs dynamic int8 (per channel), timed alternately", "",
                  f"Intra-op threads: {o.get('threads')}.", "",
                  "| engine | target accuracy [95% CI] | ms/sample batch 1 | ms/sample batch 32 |", "|---|---|---|---|"]
        for name in ("torch_fp32", "torch_int8", "ort_fp32", "ort_int8"):
            d = o.get(name, {})
            acc = d.get("target_accuracy")
            ci = d.get("target_accuracy_ci") or [0, 0]
            acc_s = "(see the int8 table above)" if acc is None else f"{acc:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
            lines.append(f"| {name} | {acc_s} | {d['latency_ms_batch1']:.1f} | {d['latency_ms_batch32']:.1f} |")
        f, q = o["ort_fp32"], o["ort_int8"]
        lines += ["", f"ONNX file {o['sizes_mb']['onnx_fp32']} MB fp32, {o['sizes_mb']['onnx_int8']} MB int8. "
                  f"ORT int8 vs ORT fp32: {f['latency_ms_batch1'] / q['latency_ms_batch1']:.2f}x at batch 1, "
                  f"{f['latency_ms_batch32'] / q['latency_ms_batch32']:.2f}x at batch 32; vs PyTorch fp32: "
                  f"{o['torch_fp32']['latency_ms_batch1'] / q['latency_ms_batch1']:.2f}x / "
                  f"{o['torch_fp32']['latency_ms_batch32'] / q['latency_ms_batch32']:.2f}x; PyTorch int8 vs fp32: "
                  f"{o['torch_fp32']['latency_ms_batch1'] / o['torch_int8']['latency_ms_batch1']:.2f}x / "
                  f"{o['torch_fp32']['latency_ms_batch32'] / o['torch_int8']['latency_ms_batch32']:.2f}x; ORT accuracy "
                  f"{100 * (q['target_accuracy'] - f['target_accuracy']):+.1f} points.", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
