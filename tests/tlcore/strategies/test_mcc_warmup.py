"""MCC's optional warm-up: the transfer weight ramps linearly from 0 over the first ``warmup`` of training."""
import torch

from tlcore.strategies import build_strategy
from tlcore.strategies.base import TrainState


def _term(params, step, total=10):
    torch.manual_seed(0)
    logits_t = torch.randn(16, 4)
    s = build_strategy("mcc", params)
    loss, logs = s.transfer(None, None, None, logits_t, {}, TrainState(step=step, total_steps=total))
    return float(loss), logs


def test_warmup_ramps_the_mcc_term_and_zero_keeps_it_whole():
    full, logs = _term({}, 0)
    assert full > 0 and logs == {}
    assert _term({"warmup": 0.5}, 0)[0] == 0.0
    half, logs = _term({"warmup": 0.5}, 2)  # progress 0.2 of a 0.5 ramp
    assert abs(half - 0.4 * full) < 1e-6 and abs(logs["mcc_ramp"] - 0.4) < 1e-9
    assert abs(_term({"warmup": 0.5}, 7)[0] - full) < 1e-6  # past the ramp: the whole term
