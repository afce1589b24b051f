"""Strategies with several optimizers and an update order (issue 11 step 6): the loop steps only the optimizers
a stage names, and a later stage sees the weights an earlier one updated."""
import torch
from torch import nn

from tlcore.models.classifier import head_parameters
from tlcore.strategies.base import StepOutput, Strategy
from tlcore.strategies.specs import StrategySpec
from tlcore.training.loop import fit
from tests.tlcore.helpers import tiny_image_data, tiny_model

SPEC = StrategySpec(name="two_stage_probe", title="test", doc="two stages", impl="tests:TwoStage")


class TwoStage(Strategy):
    """Stage 1 moves the head only; stage 2 moves the backbone only and records what it saw."""

    spec = SPEC

    def __init__(self):
        super().__init__()
        self.seen = []

    def configure(self, model, ctx):
        return [{"params": head_parameters(model), "lr": 0.1, "name": "head", "optimizer": "head"},
                {"params": list(model.backbone.parameters()), "lr": 0.1, "name": "bb", "optimizer": "backbone"}]

    def training_steps(self, model, batch, state):
        head_before = model.head.weight.detach().clone()
        bb_before = [p.detach().clone() for p in model.backbone.parameters()]
        _, logits = model(batch["x_s"])
        yield StepOutput(nn.functional.cross_entropy(logits, batch["y_s"]), {"a": 1.0}, optimizers=("head",))
        head_moved = not torch.equal(head_before, model.head.weight)
        bb_still = all(torch.equal(a, b) for a, b in zip(bb_before, model.backbone.parameters()))
        head_mid = model.head.weight.detach().clone()
        _, logits = model(batch["x_s"])
        yield StepOutput(nn.functional.cross_entropy(logits, batch["y_s"]), {"b": 2.0}, optimizers=("backbone",))
        self.seen.append((head_moved, bb_still, torch.equal(head_mid, model.head.weight),
                          any(not torch.equal(a, b) for a, b in zip(bb_before, model.backbone.parameters()))))


def test_each_stage_steps_only_its_optimizer_in_order():
    torch.manual_seed(0)
    model, strat = tiny_model(), TwoStage()
    res = fit(model, strat, tiny_image_data(), epochs=1, batch_size=16, lr=0.1, weight_decay=0.0,
              device=torch.device("cpu"), patience=0)
    assert strat.seen and all(s == (True, True, True, True) for s in strat.seen), strat.seen
    assert {"a", "b", "loss"} <= set(res.history[0])


def test_mcd_stage_b_moves_only_the_classifiers_and_c_only_the_features():
    from tlcore.strategies import build_strategy
    from tlcore.strategies.base import SetupContext, TrainState

    torch.manual_seed(0)
    data, model = tiny_image_data(), tiny_model()
    strat = build_strategy("mcd", {"generator_steps": 2})
    groups = strat.configure(model, SetupContext(lr=1e-2, weight_decay=0.0, num_classes=3,
                                                 feature_dim=model.out_features, device=torch.device("cpu")))
    assert {g["optimizer"] for g in groups} == {"classifiers", "generator"}
    idx = list(range(8))
    batch = {"x_s": data.source_train.batch(idx, "cpu", True), "y_s": torch.as_tensor(data.source_train.labels[idx]),
             "x_t": data.target_train.batch(idx, "cpu", True)}
    stages = list(strat.training_steps(model, batch, TrainState(num_classes=3)))
    assert [s.optimizers for s in stages] == [None, ("classifiers",), ("generator",), ("generator",)]
    assert stages[1].loss.requires_grad and "discrepancy_b" in stages[1].logs
