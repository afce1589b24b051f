"""``python -m tlcore export | predict | compress | predict-server``: using what a run trained."""
from __future__ import annotations

import json
import sys


def register(sub, commands: dict) -> None:
    e = sub.add_parser("export", help="export a completed run's model (onnx, torchscript, hf, safetensors) "
                                      "with a model card")
    e.add_argument("run_id")
    e.add_argument("--format", required=True, help="onnx, torchscript, hf or safetensors")
    e.add_argument("--out", required=True, help="a new (or empty) folder, outside the data root")
    e.add_argument("--force", action="store_true", help="replace --out when it holds an earlier export")
    e.add_argument("--int8", action="store_true", help="with --format onnx: also model.int8.onnx (ONNX Runtime "
                                                       "dynamic int8 quantization)")
    p = sub.add_parser("predict", help="predict with a completed run: an image, a ZIP/folder of images, a "
                                       "CSV/TSV/JSONL/Parquet of texts, or a sentence")
    p.add_argument("run_id")
    p.add_argument("input", help="file, folder or a literal sentence (text runs)")
    p.add_argument("--text-column", default=None, help="column holding the texts (default: guessed)")
    p.add_argument("--out", required=True, help="CSV file to write (atomically): input, predicted, probability, "
                                                "top-k")
    p.add_argument("--force", action="store_true", help="replace --out when it exists (never inside the data root)")
    p.add_argument("--top-k", type=int, default=3)
    c = sub.add_parser("compress", help="prune and/or int8-quantize a completed run into a new, linked run, "
                                        "with an accuracy / size / CPU latency table")
    c.add_argument("run_id")
    c.add_argument("--prune", type=float, default=0.0, help="fraction of weights to zero by global L1 magnitude "
                                                            "(0-0.95)")
    c.add_argument("--quantize", default="none", choices=("none", "int8"), help="dynamic int8 quantization")
    c.add_argument("--finetune-epochs", type=int, default=0, help="short fine-tune on the source after pruning")
    c.add_argument("--latency-samples", type=int, default=64, help="samples timed per setting")
    sub.add_parser("predict-server", help="long-lived prediction process for the dashboard (JSON lines on "
                                          "stdin/stdout)")
    commands.update({"export": _export, "predict": _predict, "compress": _compress,
                     "predict-server": _server})


def _store():
    from tlcore.runs.store import RunStore

    return RunStore()


def _export(a) -> int:
    from tlcore.export.formats import export_run

    print(json.dumps(export_run(_store(), a.run_id, a.format, a.out, int8=a.int8, force=a.force)))
    return 0


def _predict(a) -> int:
    from tlcore.export.predict import predict_to_csv

    out = predict_to_csv(_store(), a.run_id, a.input, a.out, text_column=a.text_column, top_k=a.top_k,
                         force=a.force)
    print(f"{out['n']} prediction(s) written to {out['out']}", file=sys.stderr)
    print(json.dumps(out))
    return 0


def _compress(a) -> int:
    from tlcore.export.compress import compress_run

    def progress(msg):
        print(msg, file=sys.stderr, flush=True)

    out = compress_run(_store(), a.run_id, prune=a.prune, quantize=None if a.quantize == "none" else a.quantize,
                       finetune_epochs=a.finetune_epochs, latency_samples=a.latency_samples, progress=progress)
    print(json.dumps(out))
    return 0


def _server(a) -> int:
    from tlcore.export.server import serve

    return serve(_store())
