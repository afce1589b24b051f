"""The Train page's rules (ui/train_config.py), without widgets: pair options, spec info, form defaults, the
config the form builds (valid for the engine) and the duplicate-submission rule."""
from __future__ import annotations

import apptest_paths  # noqa: F401 - the repository root on sys.path

from tlcore.config import RunConfig
from tlcore.recommend import recommend
from ui.train_config import (backbone_choices, build_config, config_digest, config_error, pair_options,
                             remembered_settings, spec_info, split_repeats, strategy_param_defaults)

DIGITS = {"demo": "digits"}
SAVED = {"path": "/data/office/amazon.zip", "name": "amazon"}


def settings(**over) -> dict:
    base = {"backbone": "small_cnn", "strategy": "dann", "epochs": 3, "batch_size": 32, "lr": "1e-3", "size": 32,
            "max_samples": 0, "seed": 1, "labeled_fraction": 0.0, "augment": False, "bottleneck": 0,
            "feature_views": 2, "keep_last": False}
    return {**base, **over}


def test_pair_options_put_the_domains_choice_first_then_the_demos():
    options, index = pair_options(SAVED, {**SAVED, "name": "webcam"}, "amazon → webcam")
    assert list(options) == ["amazon → webcam (from the Domains page)", "demo: digits (generated)",
                             "demo: reviews (generated)"]
    assert index == 0 and options["demo: reviews (generated)"] == ({"demo": "reviews"}, {"demo": "reviews"})


def test_a_demo_pair_chosen_on_domains_is_its_demo_option():
    options, index = pair_options({"demo": "reviews"}, {"demo": "reviews"}, None)
    assert list(options) == ["demo: digits (generated)", "demo: reviews (generated)"] and index == 1


def test_spec_info_reads_demos_and_the_library_without_the_data():
    assert spec_info(DIGITS, []) == ("image", 10)
    assert spec_info({"demo": "reviews"}, []) == ("text", 2)
    library = [{"path": SAVED["path"], "modality": "image", "classes": ["a", "b", "c"]}]
    assert spec_info(SAVED, library) == ("image", 3)
    assert spec_info(SAVED, []) == (None, 2)  # no longer in the library


def test_backbones_listed_embedded_first_with_the_default_leading():
    from tlcore.models.registry import BACKBONES

    names = backbone_choices("image", "small_cnn")
    embedded = [n for n in names if BACKBONES[n].embedded]
    assert names[:len(embedded)] == embedded and names[len(embedded)] == "small_cnn"
    assert set(names) == {n for n, s in BACKBONES.items() if s.modality == "image"}


def test_recommended_freeze_only_for_the_strategies_that_share_it():
    defaults = recommend("image", gpu=False)
    assert strategy_param_defaults(defaults["strategy"], defaults)["freeze_backbone"] is True
    assert strategy_param_defaults("fine_tuning", defaults)["freeze_backbone"] is True
    assert "freeze_backbone" not in strategy_param_defaults("dann", defaults)


def test_build_config_is_a_valid_run_config():
    cfg = build_config(DIGITS, DIGITS, "image", settings(labeled_fraction=0.1, max_samples=200), {})
    assert config_error(cfg) is None
    run = RunConfig.from_dict(cfg)
    assert run.target.labeled_fraction == 0.1 and run.max_samples_per_domain == 200 and run.checkpoint == "best_val"
    assert "feature_views" not in cfg  # the backbone trains: views apply to frozen features only
    assert cfg["image_size"] == 32 and "max_length" not in cfg


def test_build_config_keep_last_and_frozen_views():
    cfg = build_config(DIGITS, DIGITS, "image", settings(keep_last=True), {"freeze_backbone": True})
    assert cfg["checkpoint"] == "last" and cfg["early_stopping_patience"] == 0 and cfg["feature_views"] == 2
    text = build_config({"demo": "reviews"}, {"demo": "reviews"}, "text", settings(size=64), {})
    assert text["max_length"] == 64 and "image_size" not in text and "feature_views" not in text


def test_config_error_names_the_invalid_setting():
    assert "epochs" in config_error(build_config(DIGITS, DIGITS, "image", settings(epochs=0), {}))


def test_remembered_settings_keep_the_widget_values():
    kept = remembered_settings("image", settings())
    assert kept["image_size"] == 32 and kept["feature_views"] == 2 and "keep_last" not in kept
    assert "feature_views" not in remembered_settings("text", settings())


def test_duplicate_submissions_are_caught_unless_repeats_are_allowed():
    a = build_config(DIGITS, DIGITS, "image", settings(), {})
    b = build_config(DIGITS, DIGITS, "image", settings(seed=2), {})
    assert config_digest(a) == config_digest(dict(a)) != config_digest(b)
    waiting = {config_digest(a): "job-1"}
    to_queue, repeated = split_repeats([("a", a), ("b", b)], waiting, allow_repeat=False)
    assert [label for label, _, _ in to_queue] == ["b"] and repeated == ["job-1"]
    to_queue, repeated = split_repeats([("a", a)], waiting, allow_repeat=True)
    assert [d for _, _, d in to_queue] == [config_digest(a)] and repeated == []
