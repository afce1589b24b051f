"""Splitting a backbone into a frozen prefix and a trainable suffix at a layer-group boundary.

``suffix(prefix(x)) == backbone(x)`` (in eval mode). The suffix trains on the cached output of the prefix:
cached partial fine-tuning (tlcore/training/prefix.py). Units are the backbone's own ``layer_groups()``
(bottom to top), so ``top = N`` trains exactly the parameters ``trainable_groups = N`` would train:
EfficientNet-Lite0's inverted-residual blocks (the last one with ``conv_head``), a BERT-like encoder's
transformer layers, the blocks of the small CNNs.

The prefix output is a tensor for images (a feature map ``(B, C, H, W)``) and, for texts, a dict
``{"hidden": (B, L, H), "attention_mask": (B, L)}``.
"""
from __future__ import annotations

import torch
from torch import nn

from tlcore.errors import ModelError
from tlcore.models.base import Backbone

__all__ = ["split_backbone", "FrozenPrefix", "Suffix", "FrozenPrefixBackbone", "splittable_groups"]


class FrozenPrefix(nn.Module):
    """The bottom layer groups, frozen: always in eval mode (batch-norm statistics and dropout fixed), no
    gradients. Its parameters stay the backbone's own (shared, not copied)."""

    def __init__(self, units: list[nn.Module], run):
        super().__init__()
        self.units = nn.ModuleList(units)
        self._run = run  # run(x) -> prefix output

    def train(self, mode: bool = True):  # noqa: ARG002 - a frozen prefix never trains
        return super().train(False)

    @torch.no_grad()
    def forward(self, x):
        return self._run(x)


class Suffix(Backbone):
    """The top layer groups as a backbone of their own: input = the prefix output, output = the backbone's
    features ``(B, out_features)``. ``layer_groups()`` are the top groups of the full backbone."""

    def __init__(self, backbone: Backbone, units: list[nn.Module], extra: list[nn.Module], run, groups: list):
        super().__init__()
        self.modality = backbone.modality
        self.out_features = backbone.out_features
        self.mean, self.std, self.tokenizer = backbone.mean, backbone.std, backbone.tokenizer
        self.units = nn.ModuleList(units)
        self.extra = nn.ModuleList(extra)  # parameter-free or trailing modules (pooling, conv_head)
        self._run = run
        self._groups = groups
        self.spec = getattr(backbone, "spec", None)

    def forward(self, x):
        return self._run(x)

    def layer_groups(self):
        return self._groups


class FrozenPrefixBackbone(Backbone):
    """``suffix(prefix(x))`` on raw inputs: the uncached form of cached partial fine-tuning (the frozen prefix
    in eval mode, recomputed every step). Used when inputs change every epoch (augmentation) and to check
    that the cached run reproduces it."""

    def __init__(self, prefix: FrozenPrefix, suffix: Suffix):
        super().__init__()
        self.prefix, self.suffix = prefix, suffix
        self.modality, self.out_features = suffix.modality, suffix.out_features
        self.mean, self.std, self.tokenizer = suffix.mean, suffix.std, suffix.tokenizer

    def forward(self, x):
        return self.suffix(self.prefix(x))

    def layer_groups(self):
        return self.suffix.layer_groups()


def _units(backbone: Backbone) -> tuple[list[nn.Module], list[nn.Module], str]:
    """The backbone's sequential units (one per layer group), trailing modules, and its kind."""
    from tlcore.models.backbones import HFTextBackbone, TimmBackbone
    from tlcore.models.small import TinyText, _BlockCNN

    if isinstance(backbone, _BlockCNN):
        return list(backbone.blocks), [], "blocks"
    if isinstance(backbone, TinyText):
        return [backbone.embed, backbone.layer], [], "tiny_text"
    if isinstance(backbone, TimmBackbone):
        m = backbone.model
        if all(hasattr(m, a) for a in ("conv_stem", "bn1", "blocks", "conv_head", "bn2", "global_pool")) \
                and type(m).__name__ == "EfficientNet":
            stem = nn.Sequential(m.conv_stem, m.bn1)
            return [stem, *[b for stage in m.blocks for b in stage]], [m.conv_head, m.bn2], "efficientnet"
    if isinstance(backbone, HFTextBackbone):
        m = backbone.model
        if hasattr(m, "embeddings") and hasattr(getattr(m, "encoder", None), "layer"):
            return [m.embeddings, *m.encoder.layer], [], "bert"
    raise ModelError(f"cached partial fine-tuning: backbone {type(backbone).__name__} cannot be split into a "
                     "frozen prefix and trainable top layers (supported: EfficientNet (timm), BERT-like Hugging "
                     "Face encoders, the small CNNs, tiny_text); use trainable_groups instead")


def splittable_groups(backbone: Backbone) -> int:
    """How many layer groups the backbone has (``top`` may be 1 .. this - 1)."""
    return len(_units(backbone)[0])


def split_backbone(backbone: Backbone, top: int) -> tuple[FrozenPrefix, Suffix]:
    """Split ``backbone`` so that its top ``top`` layer groups form the suffix.

    Raises:
        ModelError: the backbone cannot be split, or ``top`` leaves no frozen prefix.
    """
    units, trailing, kind = _units(backbone)
    groups = backbone.layer_groups()
    _check_alignment(units, trailing, groups, type(backbone).__name__)
    if not 1 <= top < len(units):
        raise ModelError(f"params.train_last_groups: {top} must be between 1 and {len(units) - 1} for this "
                         f"backbone ({len(units)} layer groups); to train them all, use trainable_groups = 0")
    cut = len(units) - top
    low, high = units[:cut], units[cut:]
    if kind == "blocks":
        return FrozenPrefix(low, _seq(low)), Suffix(backbone, high, [], _seq(high), groups[cut:])
    if kind == "efficientnet":
        m = backbone.model

        def head(x):
            for u in high:
                x = u(x)
            return m.forward_head(m.bn2(m.conv_head(x)))

        return FrozenPrefix(low, _seq(low)), Suffix(backbone, high, trailing, head, groups[cut:])
    if kind == "tiny_text":  # top = 1: embeddings frozen, the transformer layer trains
        def low_run(x):
            return {"hidden": backbone.embed(x["input_ids"]), "attention_mask": x["attention_mask"]}

        def high_run(x):
            mask = x["attention_mask"]
            h = backbone.layer(x["hidden"], src_key_padding_mask=mask == 0)
            return _masked_mean(h, mask)

        return FrozenPrefix(low, low_run), Suffix(backbone, high, [], high_run, groups[cut:])
    m = backbone.model  # bert

    def layers(h, mask, mods):
        ext = _bert_mask(m, mask, h)
        for layer in mods:
            out = layer(h, ext)
            h = out[0] if isinstance(out, tuple) else out
        return h

    def bert_low(x):
        h = m.embeddings(input_ids=x["input_ids"])
        return {"hidden": layers(h, x["attention_mask"], low[1:]), "attention_mask": x["attention_mask"]}

    def bert_high(x):
        h = layers(x["hidden"], x["attention_mask"], high)
        return _masked_mean(h, x["attention_mask"])

    prefix, suffix = FrozenPrefix(low, bert_low), Suffix(backbone, high, [], bert_high, groups[cut:])
    _check_bert_split(backbone, prefix, suffix)
    return prefix, suffix


def _seq(mods):
    def run(x):
        for u in mods:
            x = u(x)
        return x
    return run


def _masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1.0)


def _bert_mask(model, mask: torch.Tensor, hidden: torch.Tensor):
    """The attention mask in the form the model's layers take, through public API only.

    transformers' own forward builds it with a private method whose signature changed in every 5.x release
    (``BertModel._create_attention_masks``: 5.20/5.22 take ``past_key_values``, 5.24 ``cache``, 5.25 requires
    ``position_ids``), so it is never called here. Two public paths, both checked by the tests:

    1. ``transformers.masking_utils.create_bidirectional_mask`` (public since the 4.5x releases; keyword arguments
       whose names have not changed): the mask for whatever attention implementation the model was loaded with.
    2. Fallback when that function is missing or refuses the call: the additive ``(B, 1, 1, L)`` mask (0 where a
       token is attended, the dtype's minimum where it is padding), which eager and SDPA attention both take.

    Whichever path runs, :func:`split_backbone` checks once that the split reproduces the backbone's own forward.
    """
    make = _public_mask_function()
    if make is not None:
        try:
            return make(config=model.config, inputs_embeds=hidden, attention_mask=mask)
        except TypeError:  # a release that renamed its keywords: the additive mask, checked at split time
            pass
    return additive_mask(mask, hidden.dtype)


def _public_mask_function():
    """``transformers.masking_utils.create_bidirectional_mask``, or None where this release lacks it."""
    try:
        from transformers.masking_utils import create_bidirectional_mask
    except ImportError:
        return None
    return create_bidirectional_mask


def additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``(B, L)`` 1/0 attention mask -> ``(B, 1, 1, L)`` additive mask for eager/SDPA attention."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def _check_bert_split(backbone, prefix, suffix) -> None:
    """The split of a Hugging Face encoder reproduces the backbone on a padded probe batch (cosine >= 0.999 per
    sample), or a clear error: a dependency change can never silently train a different network."""
    tok = getattr(backbone, "tokenizer", None)
    if tok is None:
        return
    enc = tok(["a short probe", "a longer probe sentence so that the first one is padded in this batch"],
              padding=True, return_tensors="pt")
    x = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    was = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            want, got = backbone(x), suffix(prefix(x))
    finally:
        backbone.train(was)
    cos = torch.nn.functional.cosine_similarity(want.float(), got.float(), dim=1)
    if not bool((cos >= 0.999).all()):
        raise ModelError("cached partial fine-tuning: this backbone's split does not reproduce its own forward "
                         f"(cosine {float(cos.min()):.4f} with the installed transformers); use trainable_groups "
                         "instead")


def _check_alignment(units, trailing, groups, name: str) -> None:
    """Each unit must hold exactly the parameters of one layer group (the last one with the trailing modules)."""
    ids = [{id(p) for p in u.parameters()} for u in units]
    ids[-1] |= {id(p) for t in trailing for p in t.parameters()}
    got = [{id(p) for p in g} for g in groups]
    # units without parameters (none here) would shift the groups: compare the non-empty ones in order
    if [s for s in ids if s] != got:
        raise ModelError(f"cached partial fine-tuning: {name}'s layer groups do not line up with its sequential "
                         "blocks; use trainable_groups instead")
