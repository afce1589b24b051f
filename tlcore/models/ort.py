"""ONNX Runtime for frozen image feature extraction on a CPU.

A frozen image backbone only encodes, once per sample, and PyTorch's eager CPU kernels for depthwise
convolutions are slow. On a 2-core AMD EPYC without native bf16 (2026-12-02, EfficientNet-Lite0 at 224 px,
batch 32, fp32, interleaved runs) the BN-folded channels_last eager model encodes 37-46 images/s and the same
model exported to ONNX and run by ONNX Runtime 78-132 images/s: the digits demo's feature caching drops from
42 s to 23 s (``bench/results/ort_extract.md``). On CPUs with native bf16 PyTorch's bf16 autocast reaches
~141 images/s, so ``TL_ORT=auto`` (the default) uses ONNX Runtime only on CPUs without it; ``TL_ORT=1`` uses it on
every CPU, ``TL_ORT=0`` never.

The export (the TorchScript-based exporter, ~1.5 s for EfficientNet-Lite0; the ``torch.export``-based one takes
~18 s, longer than it saves on a demo) happens in memory, once per extraction. :func:`ort_copy` checks the
session against the PyTorch module on a probe batch (fp32, cosine >= ``fuse.MIN_COSINE`` per sample) and returns
None, so callers keep the PyTorch module, whenever anything fails: an op the exporter does not know, a model
over protobuf's 2 GB, onnxruntime missing.
"""
from __future__ import annotations

import contextlib
import io
import sys
import warnings

import numpy as np
import torch
from torch import nn

from tlcore import settings
from tlcore.models.fuse import agrees

MAX_BYTES = 1_800_000_000  # one in-memory protobuf below its 2 GB limit


def ort_mode() -> str:
    """``TL_ORT``: ``auto`` (default), ``1`` or ``0``."""
    v = (settings.get("TL_ORT") or "auto").strip().lower()
    return {"1": "1", "true": "1", "yes": "1", "on": "1", "0": "0", "false": "0", "no": "0", "off": "0"}.get(v, "auto")


def ort_wanted(device: torch.device) -> bool:
    """Whether frozen image features on ``device`` should go through ONNX Runtime (see the module docstring)."""
    if device.type != "cpu":
        return False
    mode = ort_mode()
    if mode == "0":
        return False
    if mode == "auto":
        from tlcore.training.device import cpu_supports_bf16

        if cpu_supports_bf16():
            return False
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OrtBackbone(nn.Module):
    """A frozen image backbone run by an ONNX Runtime session: ``(N, 3, S, S)`` float -> ``(N, D)`` float."""

    modality = "image"

    def __init__(self, session, out_features: int):
        super().__init__()
        self.session, self.out_features = session, int(out_features)
        self.input_name = session.get_inputs()[0].name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self.session.run(None, {self.input_name: arr})[0])


def _session(model_bytes: bytes, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, threads)
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3  # errors only: no optimizer notes on the job log
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


@torch.no_grad()
def ort_copy(module: nn.Module, probe: torch.Tensor) -> OrtBackbone | None:
    """``module`` (an image backbone in eval mode) exported to ONNX and loaded in ONNX Runtime, or None when
    the export fails or its features on ``probe`` (a batch of real inputs) differ from ``module``'s."""
    if probe.dim() != 4 or len(probe) == 0:
        return None
    if sum(p.numel() * p.element_size() for p in module.parameters()) > MAX_BYTES:
        return None
    probe = probe.detach().to("cpu", torch.float32).contiguous()
    was_training = module.training
    module.eval()
    try:
        ref = module(probe).float()
        buf = io.BytesIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (probe[:2],), buf, input_names=["pixel_values"], output_names=["features"],
                              dynamic_axes={"pixel_values": {0: "batch"}, "features": {0: "batch"}},
                              opset_version=17, dynamo=False)
        ext = OrtBackbone(_session(buf.getvalue(), torch.get_num_threads()), ref.shape[1])
        got = ext(probe)
        return ext if np.isfinite(got.numpy()).all() and agrees(got, ref) else None
    except Exception:  # noqa: BLE001 - any export or runtime failure: the caller keeps the PyTorch module
        return None
    finally:
        module.train(was_training)
