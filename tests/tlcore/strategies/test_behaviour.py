"""Behaviour of the transfer strategies, in the spirit of adapt-python's tests.

On a small shifted pair (two moons; the target rotated by 35 degrees, the classic DANN toy problem) with a
two-layer MLP backbone over the raw 2-D inputs: first the shift exists (source-only drops on the target),
then for each alignment method trade-off 0 reproduces source-only exactly and its default trade-off
improves the target accuracy.
"""
import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from tlcore.errors import ConfigError
from tlcore.models.backbones import Backbone
from tlcore.models.classifier import Classifier
from tlcore.strategies import build_strategy
from tlcore.strategies.alignment import forward_pair
from tlcore.strategies.base import SetupContext, TrainState
from tlcore.strategies.specs import SPECS
from tlcore.training.batches import FeatureSet
from tlcore.training.loop import TrainData, fit, predict
from tests.tlcore.helpers import make_teacher_run, tiny_image_data, tiny_model

CPU = torch.device("cpu")
SEEDS = (0, 1, 2)
FT = {"backbone_lr_factor": 1.0}  # the MLP is random: train it at the head's lr


class MLP(Backbone):
    def __init__(self, d_in=2, d=16):
        super().__init__()
        self.l1 = nn.Sequential(nn.Linear(d_in, 32), nn.ReLU())
        self.l2 = nn.Sequential(nn.Linear(32, d), nn.ReLU())
        self.out_features = d

    def forward(self, x):
        return self.l2(self.l1(x))

    def layer_groups(self):
        return [list(self.l1.parameters()), list(self.l2.parameters())]


def moons(n=300, seed=0, labeled_fraction=0.0):
    g = np.random.default_rng(seed)

    def make(n, rotate):
        y = g.integers(0, 2, n)
        t = g.uniform(0, np.pi, n)
        x = np.where(y[:, None] == 0, np.stack([np.cos(t), np.sin(t)], 1),
                     np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)) + g.normal(0, 0.1, (n, 2))
        if rotate:
            a, c = np.deg2rad(35), np.array([0.5, 0.25])
            x = (x - c) @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T + c
        return FeatureSet(torch.tensor(x, dtype=torch.float32), y)

    src, val, tgt, test = make(n, False), make(n // 2, False), make(n, True), make(n, True)
    mask = np.zeros(n, bool)
    mask[: int(labeled_fraction * n)] = True
    tgt.labels = np.where(mask, tgt.labels, -1)
    return TrainData(src, val, tgt, 2, mask), test


def train(name, params=None, seed=0, epochs=20, labeled_fraction=0.0):
    data, test = moons(labeled_fraction=labeled_fraction)
    torch.manual_seed(seed)
    model = Classifier(MLP(), 2)
    fit(model, build_strategy(name, params), data, epochs=epochs, batch_size=32, lr=1e-2, weight_decay=0.0,
        device=CPU, seed=seed, patience=0)
    p_val, p_test = predict(model, data.source_val, 256, CPU), predict(model, test, 256, CPU)
    return (float((p_val.argmax(1) == data.source_val.labels).mean()),
            float((p_test.argmax(1) == test.labels).mean()), p_test)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These fits are many tiny steps: one thread avoids oversubscription on a shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def source_only(one_thread):
    return [train("fine_tuning", FT, seed) for seed in SEEDS]


def test_the_shift_exists(source_only):
    for val_acc, target_acc, _ in source_only:
        assert val_acc > 0.95 and target_acc < val_acc - 0.15


# derived from the strategy table: every strategy with a transfer trade-off over a trainable backbone is covered
# (a new alignment strategy is tested without touching this file)
# (strategies that need image views of the target, FixMatch, are tested on tiny images in test_fixmatch.py)
ALIGNMENT = [n for n, s in SPECS.items()
             if "trade_off" in {f.name for f in dataclasses.fields(s.Params)} and s.requires.backbone == "trainable"
             and s.requires.target_views == 1]
UNLABELED = [n for n in ALIGNMENT if SPECS[n].requires.target == "unlabeled"]
KNOWN_NOT_IMPROVING = {
    "coral": "a rotation barely changes the feature covariances; CORAL does not help on this toy pair",
    "mmd": "with the default trade-off 1 MK-MMD helps on some seeds and hurts on others on this toy pair",
    # measured 2026-12-01 (seeds 0-2, source-only 76.1 %): self-training 77.9, instance weighting 75.9, MCD 76.8
    # (83.3 / 64.3 / 82.7: two seeds +7 points, one -12); each is measured on real pairs in bench/
    "self_training": "+1.8 points on this toy pair, under the +2 bar",
    "instance_weighting": "no gain on this toy pair (75.9 vs 76.1 %)",
    "mcd": "+7 points on two seeds and -12 on the third on this toy pair (lr 1e-2 on a random MLP)",
}


def test_the_table_has_the_alignment_strategies():
    assert {"dann", "cdan", "coral", "mmd", "mcc", "mcd", "self_training", "instance_weighting"} <= set(ALIGNMENT)


@pytest.mark.parametrize("name", ALIGNMENT)
def test_trade_off_zero_is_exactly_source_only(name, source_only):
    _, _, p = train(name, {**FT, "trade_off": 0.0}, seed=0)
    assert np.array_equal(p, source_only[0][2])


# the known cases run (non-strict): a regression or a fix there shows as XFAIL/XPASS in the report
IMPROVES = [pytest.param(n, marks=pytest.mark.xfail(strict=False, reason=KNOWN_NOT_IMPROVING[n]))
            if n in KNOWN_NOT_IMPROVING else n for n in UNLABELED]


@pytest.mark.parametrize("name", IMPROVES)
def test_default_trade_off_improves_the_target(name, source_only):
    base = np.mean([r[1] for r in source_only])
    adapted = np.mean([train(name, FT, seed)[1] for seed in SEEDS])
    assert adapted > base + 0.02, f"{name}: {adapted:.3f} vs source-only {base:.3f}"


def test_multitask_and_tradaboost_use_target_labels():
    base = train("fine_tuning", FT, 0, labeled_fraction=0.1)[1]
    assert train("multitask", FT, 0, labeled_fraction=0.1)[1] > base + 0.05
    val_acc, target_acc, _ = train("tradaboost", {}, 0, epochs=1, labeled_fraction=0.1)
    assert val_acc > 0.6 and target_acc > 0.6  # a linear ensemble on raw 2-D moons: no better than ~0.85


def test_tradaboost_writes_its_ensemble_into_the_head_and_needs_target_labels():
    data, _ = moons(labeled_fraction=0.2)
    model = Classifier(MLP(), 2)
    strat = build_strategy("tradaboost", {"rounds": 4})
    strat.configure(model, SetupContext(1e-3, 0.0, 2, 16, CPU))
    before = model.head.weight.detach().clone()
    strat.on_fit_start(model, data)
    assert not torch.equal(before, model.head.weight)
    data.target_labeled_mask[:] = False
    with pytest.raises(ConfigError, match="target.labeled_fraction"):
        strat.on_fit_start(model, data)


def test_gradual_unfreezing_schedule_and_discriminative_lrs():
    model = tiny_model()  # TinyCNN: 3 layer groups
    strat = build_strategy("gradual_unfreezing", {"unfreeze_every": 2, "lr_decay": 2.0})
    groups = strat.configure(model, SetupContext(1e-2, 0.0, 3, model.out_features, CPU))
    assert [g["lr"] for g in groups] == [1e-2, 5e-3, 2.5e-3, 1.25e-3]
    opt = torch.optim.AdamW(groups)
    layers = model.backbone.layer_groups()
    for epoch, n in [(0, 0), (1, 0), (2, 1), (3, 1), (4, 2), (6, 3), (9, 3)]:
        strat.on_epoch_start(model, opt, TrainState(epoch=epoch, epochs=10))
        assert [all(p.requires_grad for p in g) for g in layers] == [i >= 3 - n for i in range(3)], epoch
    explicit = build_strategy("gradual_unfreezing", {"unfreeze_epochs": "2, 5"})
    assert [explicit.unfrozen_groups(e) for e in range(6)] == [0, 1, 1, 1, 2, 2]
    with pytest.raises(ConfigError, match="params.unfreeze_epochs"):
        build_strategy("gradual_unfreezing", {"unfreeze_epochs": "two"})


def test_every_new_strategy_runs_in_the_loop_on_images(tmp_path, monkeypatch):
    from tlcore.runs.store import RunStore

    monkeypatch.setenv("TL_HOME", str(tmp_path))
    store = RunStore()
    teacher = make_teacher_run(store)
    data = tiny_image_data(n=32, shift=60, labeled_fraction=0.5)
    for name, params in [("gradual_unfreezing", {}), ("dann", {"disc_hidden": 16}),
                         ("cdan", {"disc_hidden": 16, "entropy_conditioning": True}), ("coral", {}), ("mmd", {}),
                         ("mcc", {}),
                         ("self_training", {"threshold": 0.0}), ("instance_weighting", {"weighting": "kmm"}),
                         ("instance_weighting", {"disc_hidden": 16}), ("multitask", {}),
                         ("distillation", {"teacher_run_id": teacher})]:
        strat = build_strategy(name, params)
        strat.bind_store(store)
        res = fit(tiny_model(), strat, data, epochs=1, batch_size=16, lr=1e-3,
                  weight_decay=0.0, device=CPU, seed=0)
        logs = res.history[-1]
        assert np.isfinite(logs["loss"]), name
        if name in ("dann", "cdan") or params.get("disc_hidden") and name == "instance_weighting":
            assert 0.0 <= logs["domain_acc"] <= 1.0, name


def test_distillation_refuses_a_missing_teacher(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_HOME", str(tmp_path))
    ctx = SetupContext(1e-3, 0.0, 3, 32, CPU)
    with pytest.raises(ConfigError, match="params.teacher_run_id"):
        build_strategy("distillation").configure(tiny_model(), ctx)
    strat = build_strategy("distillation", {"teacher_run_id": "nope"})
    with pytest.raises(ConfigError, match="params.teacher_run_id.*no run store"):
        strat.configure(tiny_model(), ctx)
    from tlcore.runs.store import RunStore

    strat.bind_store(RunStore())
    with pytest.raises(ConfigError, match="params.teacher_run_id.*not found"):
        strat.configure(tiny_model(), ctx)


def test_text_inputs_take_two_forwards():
    class Bag(Backbone):
        modality = "text"
        out_features = 8

        def __init__(self):
            super().__init__()
            self.embed = nn.EmbeddingBag(50, 8)

        def forward(self, x):
            return self.embed(x["input_ids"], per_sample_weights=None)

    model = Classifier(Bag(), 2)
    x_s = {"input_ids": torch.randint(0, 50, (4, 7)), "attention_mask": torch.ones(4, 7, dtype=torch.long)}
    x_t = {"input_ids": torch.randint(0, 50, (3, 11)), "attention_mask": torch.ones(3, 11, dtype=torch.long)}
    f_s, l_s, f_t, l_t = forward_pair(model, x_s, x_t)
    assert f_s.shape == (4, 8) and f_t.shape == (3, 8) and l_t.shape == (3, 2)
    strat = build_strategy("dann", {"disc_hidden": 8})
    strat.configure(model, SetupContext(1e-3, 0.0, 2, 8, CPU))
    out = strat.training_step(model, {"x_s": x_s, "y_s": torch.tensor([0, 1, 0, 1]), "x_t": x_t,
                                      "y_t": torch.full((3,), -1), "m_t": torch.zeros(3, dtype=torch.bool)},
                              TrainState(step=5, total_steps=10))
    assert torch.isfinite(out.loss) and "domain_acc" in out.logs
