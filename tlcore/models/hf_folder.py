"""Checks of a local Hugging Face model folder, made on its ``config.json`` before transformers reads it
(RELIABILITY.md items 51 and 52): a folder whose config asks for custom code (``auto_map``) is refused with
that reason, and one whose config describes an absurdly large model (an allocation bomb such as
``hidden_size: 1000000``) is refused from its estimated parameter count, before anything is allocated.
Plain JSON is read; nothing is imported or executed.
"""
from __future__ import annotations

import json
from pathlib import Path

from tlcore import settings
from tlcore.errors import ModelError

_HIDDEN = ("hidden_size", "d_model", "dim", "n_embd")
_LAYERS = ("num_hidden_layers", "num_layers", "n_layers", "n_layer")
_INTERMEDIATE = ("intermediate_size", "ffn_dim", "hidden_dim", "d_ff", "n_inner")


def check_folder(folder, name: str) -> None:
    """Refuse a local model folder whose ``config.json`` needs custom code or describes an oversized model.

    Args:
        folder: the model folder.
        name: the backbone name as the user gave it (for the message).

    Raises:
        ModelError: custom code asked for, an unreadable config, or more than ``TL_MAX_HF_PARAMS`` parameters.
    """
    path = Path(folder) / "config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return  # transformers names what is missing
    except (OSError, ValueError) as exc:
        raise ModelError(f"backbone {name!r}: unreadable config.json ({exc})"[:400]) from None
    if not isinstance(cfg, dict):
        raise ModelError(f"backbone {name!r}: config.json is not a JSON object")
    if cfg.get("auto_map") or cfg.get("custom_pipelines"):
        raise ModelError(f"backbone {name!r}: this checkpoint needs custom code (auto_map in config.json), which "
                         "is disabled on this server; use a model of a standard transformers architecture")
    limit = _limit()
    params = estimate_params(cfg)
    if params > limit:
        raise ModelError(f"backbone {name!r}: config.json describes a model of about {params:,} parameters "
                         f"(hidden size {_first(cfg, _HIDDEN)}, {_first(cfg, _LAYERS)} layers), more than the "
                         f"{limit:,} this server loads (TL_MAX_HF_PARAMS)")


def estimate_params(cfg: dict) -> int:
    """A transformer encoder's parameter count from its config: embeddings plus, per layer, attention
    (4 h^2) and the feed-forward block (2 h i). 0 when the config does not say."""
    h, layers = _first(cfg, _HIDDEN), _first(cfg, _LAYERS)
    vocab = _first(cfg, ("vocab_size",))
    inter = _first(cfg, _INTERMEDIATE) or 4 * h
    return vocab * h + layers * (4 * h * h + 2 * h * inter)


def _first(cfg: dict, keys) -> int:
    for key in keys:
        value = cfg.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def _limit() -> int:
    return settings.get_int("TL_MAX_HF_PARAMS")
