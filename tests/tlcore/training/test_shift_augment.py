"""Augmentation for colour, texture and style shift (issue 25 item 2): the ``colour``, ``randconv`` and ``style``
policies (tlcore/training/augment.py), MixStyle (tlcore/models/mixstyle.py) in the small CNN, and FixMatch's
``strong_augment``."""
import numpy as np
import pytest
import torch

from tlcore.config import RunConfig
from tlcore.models.backbones import create_backbone
from tlcore.models.classifier import Classifier
from tlcore.models.mixstyle import MixStyle
from tlcore.models.small import SmallCNN
from tlcore.strategies import build_strategy
from tlcore.training.augment import apply_policy, rand_conv
from tlcore.training.loop import fit
from tests.tlcore.helpers import tiny_image_data, tiny_model

CPU = torch.device("cpu")
SHIFT = ["colour", "randconv", "style"]


def _red_digits(n=64, size=24, seed=0) -> torch.Tensor:
    """Red strokes on a dark-green background with a little noise: one dominant channel per region."""
    g = np.random.default_rng(seed)
    x = np.zeros((n, 3, size, size), np.uint8)
    x[:, 1] = 60
    x[:, :, :, :] += g.integers(0, 20, (n, 3, size, size)).astype(np.uint8)
    x[:, 0, 4:20, 8:12] = 220
    x[:, 0, 4:8, 8:18] = 220
    return torch.from_numpy(x)


@pytest.mark.parametrize("policy", SHIFT)
def test_shape_dtype_and_a_seed_reproduce_the_draw(policy):
    x = _red_digits()
    a = apply_policy(x, policy, generator=torch.Generator().manual_seed(3))
    b = apply_policy(x, policy, generator=torch.Generator().manual_seed(3))
    c = apply_policy(x, policy, generator=torch.Generator().manual_seed(4))
    assert a.shape == x.shape and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(5)
    d = apply_policy(x, policy)
    torch.manual_seed(5)
    assert torch.equal(d, apply_policy(x, policy))  # the global seed reproduces it too (training batches)
    assert not torch.equal(a[0], a[1])  # a draw per sample


def test_colour_policy_moves_channel_means_and_dominant_colours():
    x = _red_digits()
    out = apply_policy(x, "colour", generator=torch.Generator().manual_seed(0))
    m_in, m_out = x.float().mean((2, 3)), out.float().mean((2, 3))  # (n, 3)
    assert (m_out - m_in).abs().mean() > 15  # grey levels out of 255
    # the stroke is red in every input; after the policy it is not red in a good share of the samples
    stroke_in = x[:, :, 10, 9].float()
    stroke_out = out[:, :, 10:11, 8:11].float().mean((2, 3))
    assert (stroke_in.argmax(1) == 0).all()
    red = (stroke_out.argmax(1) == 0) & (stroke_out[:, 0] > stroke_out[:, 1:].max(1).values + 10)
    assert 0.05 < red.float().mean() < 0.5  # hue (any), channel order and inversion are drawn per sample
    # some samples turned grey: equal channels
    spread = (out.float().amax(1) - out.float().amin(1)).mean((1, 2))
    assert (spread < 2).any()


def _edges(x: torch.Tensor) -> torch.Tensor:
    g = x.float().mean(1)
    return (g[:, 1:, 1:] - g[:, :-1, 1:]).abs() + (g[:, 1:, 1:] - g[:, 1:, :-1]).abs()


def test_randconv_changes_texture_and_colour_but_keeps_the_shape():
    x = _red_digits(n=48)
    xf = x.float() / 255
    gen = torch.Generator().manual_seed(0)
    out = rand_conv(xf, generator=gen)
    assert out.shape == xf.shape and out.dtype == xf.dtype and 0 <= float(out.min()) and float(out.max()) <= 1
    assert (out - xf).abs().mean((1, 2, 3)).min() > 0  # every sample changed (p = 1)
    assert torch.equal(rand_conv(xf, p=0.0, generator=torch.Generator().manual_seed(0)), xf)
    # colour statistics move (the stroke's channels are remapped), the stroke's outline stays where it was
    assert (out.mean((2, 3)) - xf.mean((2, 3))).abs().mean() > 0.03
    e_in, e_out = _edges(xf).flatten(1), _edges(out).flatten(1)
    e_in, e_out = e_in - e_in.mean(1, keepdim=True), e_out - e_out.mean(1, keepdim=True)
    corr = (e_in * e_out).sum(1) / (e_in.norm(dim=1) * e_out.norm(dim=1) + 1e-9)
    assert float(corr.median()) > 0.3
    # kernel sizes are drawn per batch from {1, 3, 5, 7}: a 1x1 kernel keeps edges exactly where they were,
    # larger kernels blur them; over seeds, outputs differ in sharpness
    sharp = [float(_edges(rand_conv(xf[:4], generator=torch.Generator().manual_seed(s))).mean()) for s in range(12)]
    assert max(sharp) > 1.5 * min(sharp)


def test_mixstyle_mixes_statistics_keeps_content_and_is_identity_in_eval():
    torch.manual_seed(0)
    feats = torch.randn(8, 4, 6, 6) * (torch.rand(8, 4, 1, 1) + 0.5) * 3 + torch.randn(8, 4, 1, 1) * 2
    ms = MixStyle(p=1.0)
    ms.eval()
    assert ms(feats) is feats
    ms.train()
    torch.manual_seed(1)
    out = ms(feats)
    torch.manual_seed(1)
    assert torch.equal(out, ms(feats))  # reproducible under the seed
    assert out.shape == feats.shape

    def norm(t):
        return (t - t.mean((2, 3), keepdim=True)) / (t.var((2, 3), keepdim=True) + 1e-6).sqrt()

    # content (the instance-normalised map) is each sample's own; only its statistics changed
    assert torch.allclose(norm(out), norm(feats), atol=1e-3)
    assert (out.mean((2, 3)) - feats.mean((2, 3))).abs().amax() > 0.1
    assert torch.equal(MixStyle(p=0.0).train()(feats), feats)
    x = feats.clone().requires_grad_(True)
    torch.manual_seed(1)
    ms(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_small_cnn_mixstyle_option_same_weights_same_eval_outputs():
    plain, mixed = SmallCNN(), SmallCNN(mixstyle=True)
    assert set(plain.state_dict()) == set(mixed.state_dict())
    mixed.load_state_dict(plain.state_dict())
    assert sum(isinstance(m, MixStyle) for m in mixed.modules()) == 2
    x = torch.randn(4, 3, 32, 32)
    plain.eval(), mixed.eval()
    assert torch.equal(plain(x), mixed(x))
    bb = create_backbone("small_cnn_mixstyle", pretrained=False)
    assert any(isinstance(m, MixStyle) for m in bb.modules()) and bb.out_features == 128


@pytest.mark.parametrize("policy", SHIFT)
def test_a_training_step_runs_with_each_policy(policy):
    data = tiny_image_data(shift=40.0)
    data.source_train.augment = policy
    data.target_train.augment = policy
    res = fit(tiny_model(), build_strategy("fine_tuning", {"backbone_lr_factor": 1.0}), data, epochs=1,
              batch_size=16, lr=1e-2, weight_decay=0.0, device=CPU, patience=0)
    assert res.history and np.isfinite(res.history[0]["loss"])


def test_fixmatch_strong_view_takes_the_style_policy_and_mixstyle_trains():
    seen = []
    strat = build_strategy("fixmatch", {"backbone_lr_factor": 1.0, "strong_augment": "style", "with_mcc": True})
    step = strat.training_step

    def spy(model, batch, state):
        seen.append(float((batch["x_t"] - batch["x_t_strong"]).abs().mean()))
        return step(model, batch, state)

    strat.training_step = spy
    torch.manual_seed(0)
    model = Classifier(SmallCNN(mixstyle=True), 3)
    res = fit(model, strat, tiny_image_data(shift=40.0, size=32), epochs=1, batch_size=16, lr=1e-2,
              weight_decay=0.0, device=CPU, patience=0)
    assert seen and all(d > 0 for d in seen) and "pseudo_ratio" in res.history[0]
    assert np.isfinite(res.history[0]["loss"])


def test_config_and_params_name_the_new_policies():
    base = {"source": {"demo": "digits"}, "target": {"demo": "digits"}}
    for p in SHIFT:
        assert RunConfig.from_dict({**base, "augment": p}).augment == p
    from tlcore.errors import ConfigError

    with pytest.raises(ConfigError, match="strong_augment"):
        build_strategy("fixmatch", {"strong_augment": "sepia"})
