"""Augmentation policies (tlcore/training/augment.py): batched, per-sample, and digits never flip."""
import numpy as np
import pytest
import torch

from tlcore.config import RunConfig
from tlcore.errors import ConfigError
from tlcore.training.augment import apply_policy, choose_policy, resolve_policy
from tlcore.training.batches import encode_images


def _asymmetric_batch(n=48, size=32, seed=0):
    """Left-right asymmetric images (a bar in the left third plus noise): a flip moves the bar."""
    g = np.random.default_rng(seed)
    x = g.integers(0, 40, (n, 3, size, size)).astype(np.uint8)
    x[:, :, 4:28, 3:10] = 230
    return torch.from_numpy(x)


def _left_right_match(out: torch.Tensor, inp: torch.Tensor) -> np.ndarray:
    """Per sample: |corr| with the input minus |corr| with the mirrored input (> 0: not flipped).
    Absolute correlations, so a colour inversion (also a policy op) does not read as a flip."""
    o = out.float().mean(1).flatten(1)
    a, b = inp.float().mean(1).flatten(1), inp.flip(-1).float().mean(1).flatten(1)

    def corr(u, v):
        u, v = u - u.mean(1, keepdim=True), v - v.mean(1, keepdim=True)
        return (u * v).sum(1) / (u.norm(dim=1) * v.norm(dim=1) + 1e-9)

    return (corr(o, a).abs() - corr(o, b).abs()).numpy()


@pytest.mark.parametrize("policy", ["shapes", "strong"])
def test_digit_policies_never_flip(policy):
    x = _asymmetric_batch()
    torch.manual_seed(0)
    for _ in range(3):
        out = apply_policy(x, policy)
        assert out.shape == x.shape and out.dtype == torch.uint8
        assert (_left_right_match(out, x) > 0).all()


def test_natural_policy_flips_some_and_draws_per_sample():
    x = _asymmetric_batch()
    torch.manual_seed(0)
    out = apply_policy(x, "natural")
    m = _left_right_match(out, x)
    assert (m < 0).any() and (m > 0).any()  # a per-sample draw: some flipped, some not
    assert not torch.equal(out[0], out[1]) or not torch.equal(x[0], x[1])


def test_auto_policy_fits_the_classes():
    assert choose_policy([str(i) for i in range(10)]) == "shapes"
    assert choose_policy(["A", "B", "C"]) == "shapes"
    assert choose_policy(["backpack", "bike", "mug"]) == "natural"
    assert resolve_policy(True, ["0", "1"]) == "shapes"
    assert resolve_policy(False, ["0", "1"]) is None


def test_config_accepts_policy_names_and_names_the_field():
    base = {"source": {"demo": "digits"}, "target": {"demo": "digits"}}
    assert RunConfig.from_dict({**base, "augment": "shapes"}).augment == "shapes"
    assert RunConfig.from_dict({**base, "augment": True}).augment is True
    with pytest.raises(ConfigError, match="augment"):
        RunConfig.from_dict({**base, "augment": "mirror"})


def test_lazy_image_set_serves_the_same_batches_as_the_eager_one():
    g = np.random.default_rng(0)
    samples = [g.integers(0, 255, (h, w, 3), dtype=np.uint8) for h, w in ((20, 30), (32, 32), (7, 9), (40, 12))]
    labels = np.arange(4)
    eager = encode_images(samples, labels, 24, (0.5,) * 3, (0.2,) * 3)
    lazy = encode_images(samples, labels, 24, (0.5,) * 3, (0.2,) * 3, lazy=True)
    idx = np.array([2, 0, 3])
    dev = torch.device("cpu")
    assert lazy._images is None
    assert torch.equal(eager.batch(idx, dev), lazy.batch(idx, dev))
    assert lazy._images is None  # a forward-only batch did not resize the whole set
    assert torch.equal(eager.batch(idx, dev, train=True), lazy.batch(idx, dev, train=True))
    assert lazy._images is not None and torch.equal(lazy.images, eager.images)
