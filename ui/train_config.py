"""The Train page's rules, without widgets: which pairs it offers, what a domain spec holds, the defaults a
strategy's form starts from, and the ``RunConfig`` dict its settings make. Plain functions of plain data (the
page passes in what it read from the session and the widgets), tested in tests/app/test_train_config.py.
"""
from __future__ import annotations

import hashlib

from tlcore.config import RunConfig
from tlcore.data.demos import DEMO_CLASSES
from tlcore.errors import TLError
from tlcore.models.registry import BACKBONES
from tlcore.recommend import DEMO_MODALITY, has_gpu, recommend
from tlcore.strategies.specs import SPECS
from tlcore.validation import validate

MODALITIES = ("image", "text")
FROM_DOMAINS = "chosen on the Domains page"


def recommended_defaults() -> dict[str, dict]:
    """modality -> the recommended default settings (``tlcore.recommend``, for this server's device)."""
    gpu = has_gpu()
    return {m: recommend(m, gpu=gpu) for m in MODALITIES}


def pair_options(source: dict, target: dict, pair_label: str | None) -> tuple[dict, int]:
    """(option label -> (source spec, target spec), index of the pair chosen on the Domains page).

    That choice comes first (a demo pair chosen there is its demo option instead), then the demo pairs.
    """
    out = {}
    chosen_demo = source.get("demo") if source.get("demo") and source == target else None
    if not chosen_demo:
        out[f"{pair_label or FROM_DOMAINS} (from the Domains page)"] = (source, target)
    for demo in DEMO_MODALITY:
        out[f"demo: {demo} (generated)"] = ({"demo": demo}, {"demo": demo})
    index = list(DEMO_MODALITY).index(chosen_demo) if chosen_demo in DEMO_MODALITY else 0
    return out, index


def spec_info(spec: dict, library: list[dict]) -> tuple[str | None, int]:
    """(modality, number of classes) of a domain spec without reading the data; (None, 2) when a saved domain is
    no longer in ``library`` (the library's entries)."""
    if spec.get("demo"):
        return DEMO_MODALITY.get(spec["demo"]), DEMO_CLASSES.get(spec["demo"], 2)
    entry = next((e for e in library if e["path"] == spec.get("path")), None)
    return (entry["modality"], max(2, len(entry["classes"]))) if entry else (None, 2)


def backbone_choices(modality: str, default: str) -> list[str]:
    """The backbones of a modality in picker order: embedded (offline) first, the default first among them."""
    return sorted((n for n, s in BACKBONES.items() if s.modality == modality),
                  key=lambda n: (not BACKBONES[n].embedded, n != default, n))


def strategy_param_defaults(strategy: str, defaults: dict) -> dict:
    """The values a strategy's parameter form starts from: the recommended params, where they apply (the
    recommendation's ``freeze_backbone`` only for the recommended strategy and the ones that share it)."""
    if strategy in (defaults["strategy"], "fine_tuning", "multitask"):
        return dict(defaults["params"])
    return {k: v for k, v in defaults["params"].items() if k != "freeze_backbone"}


AUTO = "auto"  # the recommended default: a portfolio of recipes, one picked without target labels (issue 25)


def strategy_options() -> list[str]:
    """The strategy picker's options: ``auto`` first (the default), then every registered strategy."""
    return [AUTO, *SPECS]


def strategy_title(name: str) -> str:
    return "Recommended (auto): try a few recipes, pick one without target labels" if name == AUTO \
        else SPECS[name].title


def auto_description(modality: str, gpu: bool) -> str:
    """What ``auto`` runs for a modality on this server (from ``tlcore.recommend``), as one sentence."""
    from tlcore.recommend import PORTFOLIO

    if gpu:
        return ("On this GPU server auto runs the recommended recipe (" + recommend(modality, gpu=True)["evidence"]
                + ").")
    titles = [c["title"] for c in PORTFOLIO.get(modality, ())]
    return (f"Runs {len(titles)} recipes on the same split ({'; '.join(titles)}), then picks one without reading "
            "any target label. Each is a run of its own; the card lists them with the scores used and, beside the "
            "pick, its network's source-only run: what transfer buys. With target labels: one recipe "
            f"({recommend(modality, 0.1)['strategy']}).")


def uses_feature_views(strategy: str, params: dict) -> bool:
    """Augmented feature views apply to a frozen backbone only (cached features)."""
    if strategy == AUTO:
        return False
    return SPECS[strategy].requires.frozen_backbone or bool(params.get("freeze_backbone"))


def build_config(source: dict, target: dict, modality: str, settings: dict, params: dict) -> dict:
    """The ``RunConfig`` dict of the Train form (the same dict the CLI reads from a config file).

    Args:
        source, target: the domain specs.
        modality: ``image`` or ``text`` (image_size or max_length).
        settings: the form's values: backbone, strategy, epochs, batch_size, lr, size, max_samples (0 = all), seed,
            labeled_fraction, augment, bottleneck, feature_views, keep_last.
        params: the strategy's parameters.
    """
    s = settings
    if s["strategy"] == AUTO:  # the portfolio sets network and schedule per recipe: only the pair, seed and size
        return {"source": dict(source), "target": {**target, "labeled_fraction": s["labeled_fraction"]},
                "strategy": AUTO, "max_samples_per_domain": s["max_samples"] or None, "seed": s["seed"]}
    views = s.get("feature_views", 0) if modality == "image" and uses_feature_views(s["strategy"], params) else 0
    return {
        "source": dict(source), "target": {**target, "labeled_fraction": s["labeled_fraction"]},
        "backbone": s["backbone"], "strategy": s["strategy"], "params": params, "epochs": s["epochs"],
        "batch_size": s["batch_size"], "lr": s["lr"],
        ("image_size" if modality == "image" else "max_length"): s["size"],
        "max_samples_per_domain": s["max_samples"] or None, "seed": s["seed"], "augment": s["augment"],
        "bottleneck": s["bottleneck"], **({"feature_views": views} if views else {}),
        "checkpoint": "last" if s["keep_last"] else "best_val",
        **({"early_stopping_patience": 0} if s["keep_last"] else {}),
    }


def config_error(config: dict) -> str | None:
    """Why the engine would refuse this config (``tlcore.validation``), or None when it is valid."""
    try:
        validate(RunConfig.from_dict(config))
    except TLError as exc:
        return str(exc)
    return None


def remembered_settings(modality: str, settings: dict) -> dict:
    """The settings stored per user and modality (``ui.train_settings.remember``): the widget values as set."""
    keep = ("backbone", "strategy", "epochs", "batch_size", "lr", "max_samples", "seed", "labeled_fraction",
            "augment", "bottleneck")
    out = {k: settings[k] for k in keep}
    out["image_size" if modality == "image" else "max_length"] = settings["size"]
    if modality == "image":
        out["feature_views"] = settings.get("feature_views", 0)
    return out


def config_digest(cfg: dict) -> str:
    """The settings' identity: equal for configs that would train the same run."""
    return hashlib.sha256(RunConfig.from_dict(cfg).to_json().encode()).hexdigest()[:16]


def split_repeats(configs: list[tuple[str, dict]], waiting: dict[str, str],
                  allow_repeat: bool) -> tuple[list[tuple[str, dict, str]], list[str]]:
    """Duplicate-submission rule: which configs to queue and which are already queued or running.

    Args:
        configs: (label, config dict) to queue.
        waiting: digest -> job id of the train jobs queued or running now (any session).
        allow_repeat: queue identical settings again anyway.

    Returns:
        ([(label, config, digest) to queue], [job ids that already hold identical settings]).
    """
    to_queue, repeated = [], []
    for label, cfg in configs:
        digest = config_digest(cfg)
        if digest in waiting and not allow_repeat:
            repeated.append(waiting[digest])
        else:
            to_queue.append((label, cfg, digest))
    return to_queue, repeated
