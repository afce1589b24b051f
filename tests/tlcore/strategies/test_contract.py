"""Contract tests run over every registered strategy."""

import numpy as np
import pytest
import torch

from tlcore.config import RunConfig
from tlcore.errors import ConfigError
from tlcore.strategies import STRATEGIES, build_strategy, params_schema
from tlcore.strategies import params_to_dict
from tlcore.strategies.base import SetupContext, TrainState
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


@pytest.mark.parametrize("name", NAMES)
def test_configure_and_steps_give_finite_losses_and_frozen_stays_frozen(name, tmp_path, monkeypatch):
    data = tiny_image_data(labeled_fraction=0.5)
    model = tiny_model()
    strat = build_strategy(name, default_params(name, tmp_path, monkeypatch))
    if name == "distillation":  # the teacher is looked up in the store the pipeline binds
        from tlcore.runs.store import RunStore

        strat.bind_store(RunStore())
    groups = strat.configure(model, SetupContext(lr=1e-3, weight_decay=0.0, num_classes=3,
                                                 feature_dim=model.out_features, device=torch.device("cpu")))
    trainable = {id(p) for g in groups for p in g["params"]}
    assert trainable, "a strategy must train something"
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    owned = [p for m in strat.extra_modules() for p in m.parameters()]
    for p in [*model.parameters(), *owned]:
        if p.requires_grad:
            assert id(p) in trainable, "every trainable parameter must be in an optimizer group"
    opt = torch.optim.AdamW([g for g in groups if g["params"]], lr=1e-3)
    state = TrainState(epochs=1, total_steps=2, num_classes=3)
    for step in range(2):
        idx = np.arange(8 * step, 8 * step + 8)
        batch = {"x_s": data.source_train.batch(idx, "cpu", True),
                 "y_s": torch.as_tensor(data.source_train.labels[idx])}
        if strat.requires.needs_target:
            batch.update(x_t=data.target_train.batch(idx, "cpu", True),
                         y_t=torch.as_tensor(np.where(data.target_labeled_mask[idx], data.target_train.labels[idx], -1)),
                         m_t=torch.as_tensor(data.target_labeled_mask[idx]))
        if strat.requires.target_views > 1:
            batch["x_t_strong"] = data.target_train.batch(idx, "cpu", True, policy="strong")
        strat.on_epoch_start(model, opt, state)
        out = strat.training_step(model, batch, state)
        assert torch.isfinite(out.loss)
        assert all(isinstance(v, float) for v in out.logs.values())
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        state.step += 1
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(frozen[n], p.detach()), f"{name}: frozen parameter {n} changed"


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
