"""Self-training's warm-up and class balancing."""
from __future__ import annotations

import torch

from tlcore.strategies import build_strategy
from tlcore.strategies.base import TrainState


def _logits(preds, n_classes=2, conf=5.0):
    out = torch.zeros(len(preds), n_classes)
    out[torch.arange(len(preds)), torch.as_tensor(preds)] = conf
    return out


def test_no_pseudo_labels_during_warmup_then_a_ramp():
    s = build_strategy("self_training", {"warmup": 0.2, "threshold": 0.5})
    logits = _logits([0, 1, 1, 1])
    at = lambda p: s.transfer(None, None, None, logits, {}, TrainState(step=int(p * 100), total_steps=100))[0]  # noqa: E731
    assert float(at(0.1)) == 0.0 and float(at(0.2)) == 0.0
    assert 0 < float(at(0.3)) < float(at(0.5))
    assert float(at(0.5)) == float(at(0.9))


def test_class_balanced_loss_weighs_each_pseudo_class_equally():
    logits = _logits([0] * 9 + [1], conf=1.0)
    logits[9, 1] = 3.0  # the rare class is predicted with a different confidence: a different CE
    state = TrainState(step=100, total_steps=100)
    bal = build_strategy("self_training", {"warmup": 0.0, "threshold": 0.5, "class_balanced": True})
    flat = build_strategy("self_training", {"warmup": 0.0, "threshold": 0.5, "class_balanced": False})
    ce = torch.nn.functional.cross_entropy(logits, logits.argmax(1), reduction="none")
    assert torch.isclose(flat.transfer(None, None, None, logits, {}, state)[0], ce.mean())
    assert torch.isclose(bal.transfer(None, None, None, logits, {}, state)[0], (ce[:9].mean() + ce[9]) / 2)
