"""The few-labels default keeps MCC beside the labels (bench/results/active_labels.md): multitask's ``mcc_weight``."""
import pytest
import torch

from tests.tlcore.helpers import tiny_model
from tlcore.strategies.registry import build_strategy
from tlcore.strategies.base import TrainState


def _batch():
    g = torch.Generator().manual_seed(0)
    x_s, x_t = torch.randn(16, 3, 16, 16, generator=g), torch.randn(16, 3, 16, 16, generator=g)
    y = torch.randint(0, 3, (16,), generator=g)
    m_t = torch.zeros(16, dtype=torch.bool)
    m_t[:4] = True
    return {"x_s": x_s, "y_s": y, "x_t": x_t, "y_t": torch.where(m_t, y, -1), "m_t": m_t}


def _step(params):
    model = tiny_model()
    model.train()
    s = build_strategy("multitask", params)
    return s.training_step(model, _batch(), TrainState(epoch=0, step=0, total_steps=10, num_classes=3))


def test_multitask_adds_mcc_on_the_target_only_when_asked():
    plain, with_mcc = _step({}), _step({"mcc_weight": 1.0})
    assert "mcc_loss" not in plain.logs and with_mcc.logs["mcc_loss"] > 0
    assert float(with_mcc.loss.detach()) == pytest.approx(float(plain.loss.detach()) + with_mcc.logs["mcc_loss"], rel=1e-5)


def test_the_few_labels_default_keeps_mcc_and_all_labels_do_not_need_it():
    from tlcore.recommend import recommend

    assert recommend("image", 0.1)["params"]["mcc_weight"] == 1.0
    assert recommend("image", 0.1, label_set=False)["strategy"] == "multitask"
    assert "mcc_weight" not in recommend("image", 1.0)["params"]


def test_the_mcc_term_ramps_over_its_warm_up_as_the_mcc_strategy_does():
    full, ramped = _step({"mcc_weight": 1.0}), _step({"mcc_weight": 1.0, "warmup": 0.5})
    plain = _step({})
    # step 0 of 10: progress 0, so the ramp is 0 and the loss is the labels' alone
    assert ramped.logs["mcc_ramp"] == 0.0 and "mcc_ramp" not in full.logs
    assert float(ramped.loss.detach()) == pytest.approx(float(plain.loss.detach()), rel=1e-5)
