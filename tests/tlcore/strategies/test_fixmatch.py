"""FixMatch: weak/strong target views through the loop, the consistency loss, and the settings it refuses."""
import numpy as np
import pytest
import torch

from tlcore.config import RunConfig
from tlcore.errors import ConfigError
from tlcore.strategies import build_strategy
from tlcore.training.loop import fit, predict
from tlcore.validation import validate
from tests.tlcore.helpers import tiny_image_data, tiny_model

CPU = torch.device("cpu")


def test_the_loop_hands_a_strong_view_of_the_same_target_samples():
    seen = []
    strat = build_strategy("fixmatch", {"backbone_lr_factor": 1.0})
    step = strat.training_step

    def spy(model, batch, state):
        seen.append((batch["x_t"].shape, batch["x_t_strong"].shape,
                     float((batch["x_t"] - batch["x_t_strong"]).abs().mean())))
        return step(model, batch, state)

    strat.training_step = spy
    res = fit(tiny_model(), strat, tiny_image_data(shift=40.0), epochs=1, batch_size=16, lr=1e-2, weight_decay=0.0,
              device=CPU, patience=0)
    assert seen and all(a == b for a, b, _ in seen) and all(d > 0 for _, _, d in seen)  # same shape, augmented
    assert "pseudo_ratio" in res.history[0]


def test_confident_weak_predictions_label_the_strong_view_and_others_do_not_count():
    strat = build_strategy("fixmatch", {"threshold": 0.9})
    weak = torch.tensor([[10.0, 0.0], [0.2, 0.0]])  # confident class 0; unsure
    strong = torch.tensor([[0.0, 3.0], [0.0, 50.0]], requires_grad=True)
    loss, logs = strat.consistency(weak, strong, {})
    expected = torch.nn.functional.cross_entropy(strong[:1].detach(), torch.tensor([0])) / 2  # mean over both
    assert torch.isclose(loss.detach(), expected) and logs["pseudo_ratio"] == 0.5
    loss.backward()
    assert strong.grad[1].abs().sum() == 0  # the unsure sample contributes nothing


def test_trade_off_zero_is_exactly_fine_tuning():
    data = tiny_image_data(shift=40.0)
    out = []
    for name, params in (("fine_tuning", {}), ("fixmatch", {"trade_off": 0.0})):
        model = tiny_model(seed=0)
        fit(model, build_strategy(name, params), data, epochs=2, batch_size=16, lr=1e-2, weight_decay=0.0,
            device=CPU, seed=0, patience=0)
        out.append(predict(model, data.target_train, 64, CPU))
    assert np.array_equal(out[0], out[1])


def _cfg(**kw):
    return RunConfig.from_dict({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "strategy": "fixmatch",
                                **kw})


def test_settings_without_image_views_are_refused_with_the_reason():
    validate(_cfg(backbone="tiny_cnn"))
    with pytest.raises(ConfigError, match="freeze_backbone"):
        validate(_cfg(backbone="tiny_cnn", params={"freeze_backbone": True}))
    with pytest.raises(ConfigError, match="reads texts"):
        validate(RunConfig.from_dict({"source": {"demo": "reviews"}, "target": {"demo": "reviews"},
                                      "strategy": "fixmatch", "backbone": "tiny_text"}))
    with pytest.raises(ConfigError, match="train_last_groups"):
        validate(_cfg(backbone="tiny_cnn", params={"train_last_groups": 1}))
    validate(_cfg(backbone="tiny_cnn", params={"train_last_groups": 1}, augment=True))


def test_with_mcc_adds_the_mcc_term():
    weak = torch.tensor([[2.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    strong = weak.clone()
    plain, _ = build_strategy("fixmatch", {"threshold": 0.99}).consistency(weak, strong, {})
    both, logs = build_strategy("fixmatch", {"threshold": 0.99, "with_mcc": True}).consistency(weak, strong, {})
    assert float(plain) == 0.0 and float(both) > 0 and logs["mcc_loss"] > 0
