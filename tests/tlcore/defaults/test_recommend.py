"""The recommended default ('strategy: auto') and the backbone's own input size."""
import json
import subprocess
import sys

import pytest

from tlcore.config import DEMO_CONFIGS, RunConfig
from tlcore.errors import ConfigError
from tlcore.recommend import infer_modality, recommend, resolve, resolve_auto

from tests.conftest import ROOT


def auto(raw: dict, gpu: bool = False) -> RunConfig:
    """Parse, then resolve as a run start does with the device probe's answer ``gpu``."""
    return resolve(RunConfig.from_dict(raw), gpu=gpu)


def test_image_size_defaults_to_the_backbone_pretrained_size():
    base = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": "linear_probe"}
    assert RunConfig.from_dict(base).image_size == 224  # efficientnet_lite0's pretrained input
    assert RunConfig.from_dict({**base, "backbone": "tiny_cnn"}).image_size == 32
    assert RunConfig.from_dict({**base, "backbone": "small_cnn"}).image_size == 32
    assert RunConfig.from_dict({**base, "image_size": 96}).image_size == 96


@pytest.mark.parametrize("spec,modality", [({"demo": "digits"}, "image"), ({"demo": "reviews"}, "text"),
                                           ({"path": "x/a.zip"}, "image"), ({"path": "b.CSV"}, "text"),
                                           ({"path": "b.parquet"}, "text"), ({"path": "c.bin"}, None)])
def test_modality_is_read_from_the_domain_spec(spec, modality):
    assert infer_modality(spec) == modality


def test_auto_resolves_per_modality_and_label_situation():
    img = auto({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": "auto"})
    assert (img.strategy, img.backbone, img.image_size, img.bottleneck) == ("mcc", "efficientnet_lite0", 224, 256)
    assert img.params == {"freeze_backbone": True} and img.resolved_from == "auto"
    txt = auto({"source": {"demo": "reviews"},
                               "target": {"demo": "reviews", "labeled_fraction": 0.1}, "strategy": "auto"})
    assert (txt.strategy, txt.backbone) == ("multitask", "minilm_l6")
    assert recommend("image", 0.0)["target_labels"] == "none"
    assert recommend("image", 0.1)["target_labels"] == "few"
    assert recommend("text", 1.0)["target_labels"] == "all"
    assert "bench/results" in recommend("image")["evidence"]


def test_auto_keeps_what_the_user_set():
    c = auto({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": "auto",
                             "backbone": "tiny_cnn", "epochs": 2, "params": {"trade_off": 0.5}})
    assert (c.backbone, c.epochs, c.image_size, c.strategy) == ("tiny_cnn", 2, 32, "mcc")
    assert c.params == {"freeze_backbone": True, "trade_off": 0.5}
    # a non-auto config is untouched
    raw = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": "dann"}
    assert resolve_auto(raw, gpu=True) is raw


def test_auto_with_unknown_modality_names_the_problem():
    with pytest.raises(ConfigError, match="auto"):
        auto({"source": {"path": "a.bin"}, "target": {"path": "b.bin"}, "strategy": "auto"})


def test_demos_use_the_recommended_default():
    for name, raw in DEMO_CONFIGS.items():
        assert auto(raw).resolved_from == "auto", name


def test_cli_records_what_auto_resolved_to(tmp_path):
    env = {"TL_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "tlcore", "train", "--demo", "digits", "--quiet",
                          "--set", "backbone=tiny_cnn", "--set", "epochs=1", "--set", "max_samples_per_domain=200"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last["resolved_from"] == "auto" and last["strategy"] == "mcc"
    assert last["resolved"]["params"] == {"freeze_backbone": True} and last["resolved"]["image_size"] == 32
    cfg = json.loads((tmp_path / "runs" / last["run_id"] / "config.json").read_text())
    assert cfg["resolved_from"] == "auto" and cfg["strategy"] == "mcc"


def test_adaptation_default_keeps_the_last_epoch():
    c = auto({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": "auto"})
    assert c.checkpoint == "last" and c.early_stopping_patience == 0
    with pytest.raises(ConfigError, match="checkpoint"):
        RunConfig.from_dict({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "checkpoint": "best"})


def test_text_default_trains_the_last_layer_on_a_cpu_and_the_encoder_on_a_gpu():
    raw = {"source": {"demo": "reviews"}, "target": {"demo": "reviews"}, "strategy": "auto"}
    cpu = auto(raw, gpu=False)
    assert cpu.params == {"train_last_groups": 1, "backbone_lr_factor": 1.0, "warmup": 0.5} and cpu.bottleneck == 256
    assert (cpu.strategy, cpu.epochs, cpu.checkpoint) == ("mcc", 2, "last")
    few_cpu = auto({**raw, "target": {"demo": "reviews", "labeled_fraction": 0.2}})
    assert few_cpu.strategy == "multitask" and few_cpu.params == {"train_last_groups": 1, "backbone_lr_factor": 1.0,
                                                                  "mcc_weight": 1.0}  # MCC kept beside few labels
    gpu = auto(raw, gpu=True)
    assert gpu.strategy == "mcc" and gpu.params == {"backbone_lr_factor": 0.1} and gpu.bottleneck == 0
    assert (gpu.epochs, gpu.lr, gpu.checkpoint) == (3, 1e-4, "last")
    assert auto({**raw, "device": "cuda"}, gpu=False).params == {"backbone_lr_factor": 0.1}
    # images on a GPU: the backbone trains (FixMatch + MCC), no cached feature views; on a CPU frozen features
    img = auto({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": "auto"}, gpu=True)
    assert img.strategy == "fixmatch" and img.params == {"freeze_backbone": False, "backbone_lr_factor": 0.1,
                                                        "with_mcc": True}
    assert img.feature_views == 0 and img.augment == "auto" and img.backbone == "efficientnet_lite0"
    img_cpu = auto({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": "auto"}, gpu=False)
    assert img_cpu.params == {"freeze_backbone": True} and img_cpu.feature_views == 2
    # few labels on a GPU: multitask with the encoder training
    few = auto({**raw, "target": {"demo": "reviews", "labeled_fraction": 0.2}}, gpu=True)
    assert few.strategy == "multitask" and few.params == {"backbone_lr_factor": 0.1, "mcc_weight": 1.0}


def test_source_only_twin_is_the_same_run_without_transfer():
    import dataclasses

    from tlcore.recommend import FINE_TUNING_FIELDS, source_only_twin
    from tlcore.strategies.specs.tuning import FineTuningParams

    assert set(FINE_TUNING_FIELDS) == {f.name for f in dataclasses.fields(FineTuningParams)}
    cfg = auto({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": "auto"})
    twin = RunConfig.from_dict(source_only_twin(cfg.to_dict()))
    assert twin.strategy == "fine_tuning" and twin.params == {"freeze_backbone": True}
    assert twin.checkpoint == "best_val" and twin.resolved_from == ""
    same = ("source", "target", "seed", "backbone", "image_size", "bottleneck", "epochs", "max_samples_per_domain")
    assert all(getattr(twin, k) == getattr(cfg, k) for k in same)


def test_image_default_caches_two_augmented_views_unless_the_user_says_otherwise():
    base = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": "auto"}
    assert auto(base).feature_views == 2
    assert auto({**base, "feature_views": 0}).feature_views == 0  # the user's choice wins
    assert auto({**base, "feature_views": 4}).feature_views == 4
    # a backbone the user unfroze trains on images, not on cached views: no views, no refusal
    unfrozen = auto({**base, "params": {"freeze_backbone": False}})
    assert unfrozen.feature_views == 0 and unfrozen.params["freeze_backbone"] is False
    assert auto({"source": {"demo": "reviews"}, "target": {"demo": "reviews"},
                 "strategy": "auto"}).feature_views == 0
