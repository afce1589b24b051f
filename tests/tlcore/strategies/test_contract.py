"""Contract tests run over every registered strategy."""

import math

import pytest
import torch

from tlcore.config import RunConfig
from tlcore.errors import ConfigError
from tlcore.strategies import STRATEGIES, build_strategy, params_schema
from tlcore.strategies import params_to_dict
from tlcore.strategies.base import SetupContext
from tests.tlcore.helpers import make_teacher_run, tiny_image_data, tiny_model

NAMES = sorted(STRATEGIES)


def default_params(name, tmp_path, monkeypatch) -> dict:
    """Default params, plus a tiny teacher run (in a temporary TL_HOME) for distillation."""
    if name != "distillation":
        return {}
    from tlcore.runs.store import RunStore

    monkeypatch.setenv("TL_HOME", str(tmp_path / "tl_home"))
    return {"teacher_run_id": make_teacher_run(RunStore())}


@pytest.mark.parametrize("name", NAMES)
def test_params_round_trip_through_config(name):
    cls = STRATEGIES[name]
    assert cls.name == name and cls.title and cls.spec.doc.strip() and cls.describe()["doc"]
    defaults = params_to_dict(cls.Params())
    cfg = RunConfig.from_dict({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": name,
                               "params": defaults})
    again = RunConfig.from_dict(cfg.to_dict())
    assert params_to_dict(build_strategy(name, again.params).params) == defaults
    for p in params_schema(cls.Params):
        assert p["help"], f"{name}.{p['name']} needs help text for the form"


class Spy:
    """Wraps a strategy's hooks to record what the loop called: the groups ``configure`` returned, when
    ``on_fit_start`` and ``on_epoch_start`` ran, and every stage the real ``training_steps`` yielded."""

    def __init__(self, strat):
        self.groups, self.calls, self.stages = [], [], []
        configure, fit_start, epoch_start, steps = (strat.configure, strat.on_fit_start, strat.on_epoch_start,
                                                    strat.training_steps)

        def spy_configure(model, ctx):
            self.groups = configure(model, ctx)
            self.calls.append("configure")
            return self.groups

        def spy_fit_start(model, data):
            self.calls.append("fit_start")
            return fit_start(model, data)

        def spy_epoch_start(model, optimizer, state):
            self.calls.append("epoch_start")
            return epoch_start(model, optimizer, state)

        def spy_steps(model, batch, state):
            self.calls.append("step")
            for out in steps(model, batch, state):
                self.stages.append(out)
                yield out

        strat.configure, strat.on_fit_start = spy_configure, spy_fit_start
        strat.on_epoch_start, strat.training_steps = spy_epoch_start, spy_steps


@pytest.mark.parametrize("name", NAMES)
def test_the_loop_drives_each_strategys_steps_and_hooks_to_finite_losses_and_frozen_stays_frozen(
        name, tmp_path, monkeypatch):
    """The real loop (``fit``) over each strategy: its ``configure``, ``on_fit_start`` (TrAdaBoost's and the skada
    family's fitted heads), ``on_epoch_start`` and ``training_steps`` (MCD's three stages with two optimizers), not
    the base cross-entropy step."""
    from tlcore.training.loop import fit

    data = tiny_image_data(n=32, labeled_fraction=0.5)
    model = tiny_model()
    strat = build_strategy(name, default_params(name, tmp_path, monkeypatch))
    if name == "distillation":  # the teacher is looked up in the store the pipeline binds
        from tlcore.runs.store import RunStore

        strat.bind_store(RunStore())
    spy = Spy(strat)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    result = fit(model, strat, data, epochs=2, batch_size=16, lr=1e-3, weight_decay=0.0, device=torch.device("cpu"),
                 patience=0, checkpoint="last")
    steps = result.steps
    assert steps == 2 * (32 // 16) and spy.calls.count("step") == steps
    assert spy.calls[:3] == ["configure", "fit_start", "epoch_start"] and spy.calls.count("epoch_start") == 2
    assert len(spy.stages) >= steps and all(torch.isfinite(o.loss) for o in spy.stages)
    assert all(isinstance(v, float) for o in spy.stages for v in o.logs.values())
    names = {g.get("optimizer", "main") for g in spy.groups if g["params"]}
    assert all(set(o.optimizers or names) <= names for o in spy.stages), f"{name}: a stage names no optimizer"
    trainable = {id(p) for g in spy.groups for p in g["params"]}
    assert trainable, "a strategy must train something"
    owned = [p for m in strat.extra_modules() for p in m.parameters()]
    for p in [*model.parameters(), *owned]:
        if p.requires_grad:
            assert id(p) in trainable, "every trainable parameter must be in an optimizer group"
    for n, p in model.named_parameters():
        if not p.requires_grad:  # still frozen at the end (gradual unfreezing thaws some on the way)
            assert torch.equal(before[n], p.detach()), f"{name}: frozen parameter {n} changed"
    assert all(math.isfinite(v) for rec in result.history for v in rec.values() if isinstance(v, float))
    changed = [n for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())]
    assert changed, f"{name}: the loop changed no weight"


def test_the_contract_reaches_overridden_steps_and_fit_hooks():
    """The names above are not only base cross-entropy: MCD's stages, TrAdaBoost's and the skada family's fit
    hooks are each their own code (a regression there fails the loop test, not a copy of the base step)."""
    from tlcore.strategies.base import Strategy

    own = lambda hook: {n for n in NAMES if getattr(STRATEGIES[n], hook) is not getattr(Strategy, hook)}  # noqa: E731
    assert "mcd" in own("training_steps")
    assert "tradaboost" in own("on_fit_start")
    skada = {n for n in NAMES if "skada" in STRATEGIES[n].__module__}
    assert len(skada) >= 3 and skada <= own("on_fit_start")


def test_bad_params_are_named():
    with pytest.raises(ConfigError, match="params.trainable_groups"):
        build_strategy("fine_tuning", {"trainable_groups": -1})
    with pytest.raises(ConfigError, match="nope"):
        build_strategy("linear_probe", {"nope": 1})
    with pytest.raises(ConfigError, match="linear_probe"):
        build_strategy("no_such_strategy")


def test_partial_fine_tuning_trains_only_top_groups():
    model = tiny_model()
    strat = build_strategy("fine_tuning", {"trainable_groups": 1})
    strat.configure(model, SetupContext(1e-3, 0.0, 3, model.out_features, torch.device("cpu")))
    groups = model.backbone.layer_groups()
    assert all(p.requires_grad for p in groups[-1])
    assert not any(p.requires_grad for g in groups[:-1] for p in g)
    assert all(p.requires_grad for p in model.head.parameters())
