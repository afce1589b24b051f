"""The torch-free strategy table (tlcore/strategies/specs) and its implementations agree."""
import subprocess
import sys

import pytest

from tlcore.config import RunConfig
from tlcore.errors import ConfigError
from tlcore.strategies.specs import SPECS, Requirements, get_spec
from tlcore.validation import validate


def test_the_table_validation_and_help_text_load_without_torch():
    code = ("import sys\n"
            "from tlcore.strategies import SPECS, get_spec\n"
            "from tlcore.validation import validate\n"
            "from tlcore.config import RunConfig\n"
            "validate(RunConfig.from_dict({'source': {'demo': 'digits'}, 'target': {'demo': 'digits'},"
            " 'strategy': 'dann', 'params': {'trade_off': 0.5}}))\n"
            "[s.describe() for s in SPECS.values()]\n"
            "bad = sorted(m for m in ('torch', 'torchvision', 'transformers', 'timm') if m in sys.modules)\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_every_row_has_an_implementation_that_names_it_back():
    from tlcore.strategies import STRATEGIES

    assert list(STRATEGIES) == list(SPECS)
    for name, spec in SPECS.items():
        cls = STRATEGIES[name]
        assert cls.spec is spec and cls.name == name and cls.Params is spec.Params and cls.requires is spec.requires
        assert spec.impl == f"{cls.__module__}:{cls.__name__}"


def test_requirements_replace_the_flags():
    assert get_spec("linear_probe").requires == Requirements(backbone="frozen")
    assert get_spec("scratch").requires.pretrained is False
    assert get_spec("mcc").requires.target == "unlabeled"
    assert get_spec("tradaboost").requires == Requirements(target="labeled", backbone="frozen", bottleneck=False)
    with pytest.raises(ValueError):
        Requirements(target="some")
    p = get_spec("fine_tuning").parse_params({"freeze_backbone": True})
    assert get_spec("fine_tuning").caches_features(p) and not get_spec("fine_tuning").caches_features(
        get_spec("fine_tuning").parse_params({}))


def _cfg(strategy, **kw):
    return RunConfig.from_dict({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": strategy,
                                **kw})


def test_validation_reads_the_spec_and_names_the_field():
    checked = validate(_cfg("dann", params={"trade_off": 0.5}))
    assert checked.strategy is SPECS["dann"] and checked.params.trade_off == 0.5
    with pytest.raises(ConfigError, match="params.trade_off"):
        validate(_cfg("dann", params={"trade_off": -1}))
    with pytest.raises(ConfigError, match="unknown strategy"):
        validate(_cfg("no_such"))
    with pytest.raises(ConfigError, match="bottleneck"):
        validate(_cfg("tradaboost", bottleneck=64, target={"demo": "digits", "labeled_fraction": 0.1}))
    with pytest.raises(ConfigError, match="labeled_fraction"):
        validate(_cfg("multitask"))
    with pytest.raises(ConfigError, match="unfreeze_epochs"):
        validate(_cfg("gradual_unfreezing", params={"unfreeze_epochs": "two"}))
    with pytest.raises(ConfigError, match="teacher_run_id"):
        validate(_cfg("distillation"))
