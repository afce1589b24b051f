import json

import pytest

from tlcore.config import RunConfig, apply_override, load_config_file, parse_value
from tlcore.errors import ConfigError

BASE = {"source": {"demo": "digits"}, "target": {"demo": "digits", "labeled_fraction": 0.1}}


def test_round_trip_json():
    cfg = RunConfig.from_dict({**BASE, "epochs": 3, "params": {"head_lr_scale": 5}})
    again = RunConfig.from_dict(json.loads(cfg.to_json()))
    assert again == cfg
    assert again.target.labeled_fraction == 0.1


@pytest.mark.parametrize("key,value,field", [
    ("epochs", 0, "epochs"), ("batch_size", -1, "batch_size"), ("lr", "nan", "lr"), ("lr", "abc", "lr"),
    ("image_size", 10_000, "image_size"), ("device", "tpu", "device"), ("augment", "maybe", "augment"),
])
def test_item_69_bad_values_name_the_field(key, value, field):
    with pytest.raises(ConfigError, match=field):
        RunConfig.from_dict({**BASE, key: value})


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="learning_rate"):
        RunConfig.from_dict({**BASE, "learning_rate": 0.1})
    with pytest.raises(ConfigError, match="colour"):
        RunConfig.from_dict({**BASE, "source": {"demo": "digits", "colour": 1}})


def test_domain_needs_exactly_one_of_path_or_demo():
    with pytest.raises(ConfigError, match="exactly one"):
        RunConfig.from_dict({**BASE, "source": {"demo": "digits", "path": "x.zip"}})
    with pytest.raises(ConfigError, match="source"):
        RunConfig.from_dict({"target": BASE["target"]})


def test_overrides_and_files(tmp_path):
    d = apply_override(json.loads(json.dumps(BASE)), "target.labeled_fraction", parse_value("0.25"))
    assert RunConfig.from_dict(d).target.labeled_fraction == 0.25
    y = tmp_path / "c.yaml"
    y.write_text("source: {demo: digits}\ntarget: {demo: digits}\nepochs: 2\n")
    assert RunConfig.from_dict(load_config_file(y)).epochs == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config_file(bad)
