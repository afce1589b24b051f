"""Batch-norm folding for frozen inference: each ``Conv2d`` immediately followed (in registration order) by a
batch-norm layer becomes one convolution with the normalisation folded into its weights and bias.

Used where a frozen image backbone only encodes (feature extraction for the linear-probe / frozen-feature
regime). Measured on the 2-core Xeon at load ~4, EfficientNet-Lite0 at 224 px, batch 64, bf16 autocast +
channels_last: 26 -> 41 images/s, features at cosine >= 0.9999 to the unfolded model. Registration order is
not data flow in every model, so :func:`folded_copy` checks the folded copy against the original on a probe
batch (in fp32, where folding is exact up to rounding) and callers fall back to the original when it
disagrees.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

MIN_COSINE = 0.999
# Every batch-norm layer, by its public classes (torch's common base class ``_BatchNorm`` is private). timm's
# BatchNormAct2d subclasses BatchNorm2d; lazy batch norms become these classes at their first forward.
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def _plain_bn(bn: BATCH_NORMS) -> nn.BatchNorm2d:
    """A plain ``BatchNorm2d`` with ``bn``'s statistics and affine weights (timm's BatchNormAct2d subclasses it)."""
    plain = nn.BatchNorm2d(bn.num_features, eps=bn.eps, affine=bn.affine, track_running_stats=True)
    with torch.no_grad():
        plain.running_mean.copy_(bn.running_mean)
        plain.running_var.copy_(bn.running_var)
        if bn.affine:
            plain.weight.copy_(bn.weight)
            plain.bias.copy_(bn.bias)
    return plain.eval()


def _after_norm(bn: nn.Module) -> nn.Module:
    """What remains of a norm layer once folded: timm's fused norm+activation keeps its dropout and activation."""
    rest = [m for m in (getattr(bn, "drop", None), getattr(bn, "act", None)) if isinstance(m, nn.Module)]
    return nn.Sequential(*rest) if rest else nn.Identity()


def fold_batchnorm(module: nn.Module) -> int:
    """Fold in place; returns how many conv + norm pairs were folded. ``module`` must be in eval mode."""
    n = 0
    children = list(module.named_children())
    for (name, child), (next_name, nxt) in zip(children, children[1:] + [(None, None)]):
        if (type(child) is nn.Conv2d and isinstance(nxt, nn.BatchNorm2d) and nxt.track_running_stats
                and nxt.running_mean is not None and nxt.num_features == child.out_channels):
            setattr(module, name, fuse_conv_bn_eval(child.eval(), _plain_bn(nxt)))
            setattr(module, next_name, _after_norm(nxt))
            n += 1
    for name, child in module.named_children():
        if not isinstance(child, nn.Conv2d):
            n += fold_batchnorm(child)
    return n


@torch.no_grad()
def min_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """The lowest per-sample cosine between two feature batches of the same shape."""
    a, b = a.float().flatten(1), b.float().flatten(1)
    return float(torch.nn.functional.cosine_similarity(a, b, dim=1, eps=1e-6).min())


def agrees(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Two encodings of the same batch agree: same shape, every sample at cosine >= MIN_COSINE."""
    return a.shape == b.shape and min_cosine(a, b) >= MIN_COSINE


def folded_copy(backbone: nn.Module, probe, forward=None) -> nn.Module | None:
    """A folded deep copy of ``backbone`` that encodes ``probe`` like the original (cosine >= MIN_COSINE per
    sample), or None when nothing folds or the copy disagrees. ``forward(model, probe)`` runs a model
    (default: ``model(probe)``) and returns features."""
    forward = forward or (lambda m, x: m(x))
    if not any(isinstance(m, BATCH_NORMS) for m in backbone.modules()):
        return None
    was_training = backbone.training
    backbone.eval()
    try:
        folded = copy.deepcopy(backbone).eval()
        if not fold_batchnorm(folded):
            return None
        return folded if agrees(forward(backbone, probe), forward(folded, probe)) else None
    finally:
        backbone.train(was_training)
