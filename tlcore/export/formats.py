"""Exports of a run's artifact to the formats people deploy.

``python -m tlcore export RUN_ID --format onnx|torchscript|hf|safetensors --out DIR``. Every format writes a
folder holding the model, ``model.json`` (classes, preprocessing), a model card (``README.md``) with a loading
snippet, and for text models the tokenizer files. The folder is built under a temporary name and renamed into
place at the end, so a failed export leaves nothing behind.

- ``onnx``: logits from ``pixel_values`` (N, 3, S, S) or ``input_ids``/``attention_mask`` (N, L); dynamic batch
  (and sequence) axes; opset 18; checked against ONNX Runtime at export time (max |logit diff| <= 1e-4).
- ``torchscript``: ``model.pt`` (``torch.jit.trace``), the same inputs and output.
- ``safetensors``: the TL Studio artifact itself (``model.safetensors`` + ``model.json``), loadable with
  :func:`tlcore.models.io.load_model` or, for image models, plain torch + timm (see the card).
- ``hf``: text runs: a Hugging Face ``BertForSequenceClassification`` folder that
  ``transformers.pipeline("text-classification", model=DIR)`` loads (see :mod:`tlcore.export.hf`); image runs:
  the safetensors artifact plus ``config.json``/``classes`` for plain torch/timm loading.
"""
from __future__ import annotations

import json
import shutil
import time
import uuid
import warnings
from pathlib import Path

from tlcore.errors import ExportError
from tlcore.models.io import META_FILE, WEIGHTS_FILE, load_model, run_model_folder

FORMATS = ("onnx", "torchscript", "hf", "safetensors")
OPSET = 18
ONNX_TOLERANCE = 1e-4


def export_run(store, run_id: str, fmt: str, out, int8: bool = False, force: bool = False) -> dict:
    """Export run ``run_id`` as ``fmt`` into the new folder ``out``. Returns a summary dict. With ``int8`` (ONNX
    only) the folder also holds ``model.int8.onnx``: ONNX Runtime's dynamic int8 quantization (per channel).

    ``out`` must not exist (an empty folder is fine) unless ``force``, which replaces a file or an earlier export
    (a folder with a model card); a path inside the data root is always refused (:mod:`tlcore.runs.outputs`)."""
    if int8 and fmt != "onnx":
        raise ExportError("--int8: only with --format onnx (ONNX Runtime dynamic quantization)")
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt!r}: unknown; choose one of {', '.join(FORMATS)}")
    from tlcore.runs.outputs import OutputRefused, check_output

    try:
        out = check_output(out, force=force, folder=True, root=store.root)
        check_output(out, force=force, folder=True)  # TL_HOME too, when the store lives elsewhere
    except OutputRefused as exc:
        raise ExportError(str(exc)) from None
    out = out.resolve()
    replace = out.exists() and (not out.is_dir() or any(out.iterdir()))
    if replace and out.is_dir() and not (out / "README.md").is_file():
        raise ExportError(f"--out {out}: a folder that is not an earlier export (no README.md model card); "
                          "--force replaces only files and earlier exports; choose a new folder")
    if not out.parent.is_dir():
        raise ExportError(f"--out {out}: folder {out.parent} does not exist")
    return export_into(store, run_id, fmt, out, int8)


def export_into(store, run_id: str, fmt: str, out: Path, int8: bool = False) -> dict:
    """The export itself, into ``out`` (a new or empty folder, or an earlier export), once the path was checked:
    by :func:`export_run` for a user's ``--out``, or chosen by TL Studio (an ``export`` job's own output folder
    inside the data root, :mod:`tlcore.export.job_kinds`)."""
    out = Path(out).resolve()
    src = run_model_folder(store, run_id)
    t0 = time.perf_counter()
    loaded = load_model(src)
    if loaded.meta.get("quantization"):
        raise ExportError(f"run {run_id!r} is dynamically quantized (int8): export its parent run, or use "
                          "the ONNX export of the parent and quantize with ONNX Runtime")
    tmp = out.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{out.name}")
    tmp.mkdir()
    try:
        _write(fmt, loaded, src, tmp, int8)
        from tlcore.export.card import model_card

        (tmp / "README.md").write_text(model_card(store, run_id, loaded.meta, fmt), encoding="utf-8")
        old = None
        if out.exists() or out.is_symlink():  # an empty folder, or what --force replaces: moved aside, then removed
            old = out.with_name(f".old-{uuid.uuid4().hex[:8]}-{out.name}")
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return {"run_id": run_id, "format": fmt, "out": str(out), "files": files,
            "seconds": round(time.perf_counter() - t0, 2)}


def _write(fmt: str, loaded, src: Path, dst: Path, int8: bool = False) -> list[str]:
    hf_text = fmt == "hf" and loaded.modality == "text"
    sub = "tlstudio/" if hf_text else ""  # the HF folder's own model.safetensors takes the root name
    (dst / sub).mkdir(exist_ok=True)
    files = [sub + WEIGHTS_FILE, sub + META_FILE]
    shutil.copy2(src / WEIGHTS_FILE, dst / sub / WEIGHTS_FILE)
    shutil.copy2(src / META_FILE, dst / sub / META_FILE)
    if loaded.modality == "text" and not hf_text:
        files += save_tokenizer(loaded.model.backbone.tokenizer, dst / "tokenizer")
    if fmt == "onnx":
        check = export_onnx(loaded, dst / "model.onnx")
        if int8:
            check["int8"] = quantize_onnx(loaded, dst / "model.onnx", dst / "model.int8.onnx")
        (dst / "onnx_check.json").write_text(json.dumps(check), encoding="utf-8")
        files.append("onnx_check.json")
        files.append("model.onnx")
    elif fmt == "torchscript":
        export_torchscript(loaded, dst / "model.pt")
        files.append("model.pt")
    elif fmt == "hf":
        if loaded.modality == "text":
            from tlcore.export.hf import export_hf_text

            files += export_hf_text(loaded, dst)
        else:
            (dst / "config.json").write_text(json.dumps(_image_config(loaded.meta), indent=1), encoding="utf-8")
            files.append("config.json")
    return files


def save_tokenizer(tokenizer, folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(folder))
    return sorted(f"tokenizer/{p.name}" for p in folder.iterdir())


def LogitsOnly(model, modality: str):  # noqa: N802 - builds a module, used like a class
    """Wraps a Classifier so ``forward`` takes named plain tensors and returns logits only (for exporters)."""
    import torch

    class TextLogits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model({"input_ids": input_ids, "attention_mask": attention_mask})[1]

    class ImageLogits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, pixel_values):
            return self.model(pixel_values)[1]

    return (TextLogits() if modality == "text" else ImageLogits()).eval()


def example_inputs(meta: dict, batch: int = 2):
    import torch

    if meta["modality"] == "image":
        s = int(meta["preprocessing"]["image_size"])
        return (torch.randn(batch, 3, s, s),)
    ids = torch.randint(1000, 2000, (batch, 12))
    mask = torch.ones(batch, 12, dtype=torch.long)
    mask[1:, 8:] = 0
    return ids, mask


def input_names(meta: dict) -> list[str]:
    return ["pixel_values"] if meta["modality"] == "image" else ["input_ids", "attention_mask"]


def export_onnx(loaded, path: Path) -> dict:
    """``torch.onnx.export`` with dynamic batch (and sequence) axes, then a parity check with ONNX Runtime on
    inputs of another batch size and length (max |logit difference| <= ``ONNX_TOLERANCE``, fp32).

    The ``torch.export``-based exporter (``dynamo=True``) is tried first; the legacy TorchScript-based one is the
    fallback. Returns ``{"exporter", "max_abs_diff"}``."""
    import contextlib
    import sys

    import torch

    names = input_names(loaded.meta)
    wrapped = LogitsOnly(loaded.model, loaded.modality)
    errors = []
    for exporter in ("dynamo", "legacy"):
        kwargs = dict(input_names=names, output_names=["logits"], opset_version=OPSET)
        if exporter == "dynamo":
            from torch.export import Dim

            batch, seq = Dim("batch", min=1, max=65536), Dim("sequence", min=2, max=8192)
            kwargs["dynamic_shapes"] = {n: ({0: batch} if n == "pixel_values" else {0: batch, 1: seq}) for n in names}
            kwargs["dynamo"] = True
            size = sum(p.numel() * p.element_size() for p in loaded.model.parameters())
            kwargs["external_data"] = size > 1_800_000_000  # one self-contained file below protobuf's 2 GB
        else:
            kwargs["dynamic_axes"] = {**{n: ({0: "batch"} if n == "pixel_values" else {0: "batch", 1: "sequence"})
                                         for n in names}, "logits": {0: "batch"}}
            kwargs["dynamo"] = False
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
                warnings.simplefilter("ignore")
                torch.onnx.export(wrapped, example_inputs(loaded.meta, batch=3), str(path), **kwargs)
            diff = onnx_parity(loaded, path)
        except Exception as exc:  # noqa: BLE001 - exporter failures become one message
            errors.append(f"{exporter}: {type(exc).__name__}: {str(exc)[:300]}")
            continue
        if diff <= ONNX_TOLERANCE:
            return {"exporter": exporter, "max_abs_diff": diff}
        errors.append(f"{exporter}: ONNX Runtime logits differ from PyTorch's by {diff:.2e}")
    path.unlink(missing_ok=True)
    raise ExportError("ONNX export failed: " + "; ".join(errors))


def quantize_onnx(loaded, src: Path, dst: Path) -> dict:
    """ONNX Runtime dynamic int8 quantization (weights int8 per channel, activations per batch) of ``src``;
    returns how far its probabilities move on the parity inputs: ``{"max_abs_prob_diff", "same_argmax"}``."""
    import contextlib
    import logging
    import sys

    import numpy as np
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from tlcore.export.predict import softmax

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs its advice to pre-process as a root warning
    try:
        with contextlib.redirect_stdout(sys.stderr):
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)
    feed = _parity_feed(loaded.meta)
    p = [softmax(ort.InferenceSession(str(f), providers=["CPUExecutionProvider"]).run(["logits"], feed)[0])
         for f in (src, dst)]
    return {"file": dst.name, "max_abs_prob_diff": float(np.abs(p[0] - p[1]).max()),
            "same_argmax": float((p[0].argmax(1) == p[1].argmax(1)).mean())}


def _parity_feed(meta: dict) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    if meta["modality"] == "image":
        s = int(meta["preprocessing"]["image_size"])
        return {"pixel_values": rng.standard_normal((5, 3, s, s)).astype(np.float32)}
    ids = rng.integers(1000, 2000, (5, 17)).astype(np.int64)
    mask = np.ones((5, 17), np.int64)
    mask[1:, 9:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def onnx_parity(loaded, path: Path) -> float:
    """Max |logit difference| between ONNX Runtime and PyTorch (fp32) on 5 inputs of a new length."""
    import numpy as np
    import onnxruntime as ort
    import torch

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = _parity_feed(loaded.meta)
    x = tuple(torch.from_numpy(feed[n]) for n in input_names(loaded.meta))
    with torch.no_grad():
        ref = LogitsOnly(loaded.model, loaded.modality)(*x).float().numpy()
    got = sess.run(["logits"], feed)[0]
    return float(np.abs(got - ref).max())


def export_torchscript(loaded, path: Path) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            traced = torch.jit.trace(LogitsOnly(loaded.model, loaded.modality), example_inputs(loaded.meta),
                                     check_trace=False)  # deprecated upstream in favour of torch.export; still works
            torch.jit.save(traced, str(path))
        except Exception as exc:  # noqa: BLE001
            raise ExportError(f"TorchScript export failed: {type(exc).__name__}: {exc}"[:600]) from None


def _image_config(meta: dict) -> dict:
    pre = meta["preprocessing"]
    return {"architecture": meta["backbone"]["name"], "num_classes": len(meta["classes"]),
            "label_names": meta["classes"], "bottleneck": meta.get("bottleneck", 0),
            "pretrained_cfg": {"input_size": [3, pre["image_size"], pre["image_size"]], "mean": pre["mean"],
                               "std": pre["std"], "interpolation": "bilinear", "crop_pct": 1.0}}
