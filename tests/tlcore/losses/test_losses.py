"""Transfer losses: small checks of their defining properties."""
import torch

from tlcore.losses import (ConditionalDomainAdversarialLoss, CoralLoss, DistillationLoss, DomainAdversarialLoss,
                           DomainDiscriminator, MultiKernelMMD, dann_schedule, grad_reverse)
from tlcore.losses.adversarial import MultilinearMap
from tlcore.strategies.instance_weighting import kmm_weights


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.randn(4, 3, requires_grad=True)
    y = grad_reverse(x, 0.5)
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, -0.5))


def test_dann_schedule_ramps_from_zero_to_max():
    assert dann_schedule(0.0) == 0.0
    assert 0.98 < dann_schedule(0.5) < 1.0 and abs(dann_schedule(1.0, 2.0) - 2.0) < 1e-3
    assert dann_schedule(0.1) < dann_schedule(0.2)


def test_coral_and_mmd_are_small_for_one_distribution_and_larger_under_shift():
    g = gen()
    a, b = torch.randn(200, 5, generator=g), torch.randn(200, 5, generator=g)
    scaled = torch.randn(200, 5, generator=g) * 3.0
    shifted = torch.randn(200, 5, generator=g) + 2.0
    coral, mmd = CoralLoss(), MultiKernelMMD()
    assert coral(a, b) < 0.01 < coral(a, scaled)
    assert mmd(a, b) < 0.05 and mmd(a, shifted) > 10 * mmd(a, b)
    assert float(mmd(a, a)) == 0.0 or float(mmd(a, a)) < 1e-6


def test_mmd_is_non_negative_and_takes_weights():
    g = gen(1)
    for _ in range(5):
        s, t = torch.randn(16, 4, generator=g), torch.randn(16, 4, generator=g)
        assert float(MultiKernelMMD()(s, t)) >= 0.0
        assert float(MultiKernelMMD()(s, t, torch.rand(16, generator=g), torch.rand(16, generator=g))) >= 0.0


def test_discriminator_loss_decreases_on_separable_domains():
    torch.manual_seed(0)
    f_s, f_t = torch.randn(64, 4) + 2.0, torch.randn(64, 4) - 2.0
    adv = DomainAdversarialLoss(DomainDiscriminator(4, 16))
    opt = torch.optim.Adam(adv.parameters(), lr=1e-2)
    first = None
    for _ in range(50):
        loss, acc = adv(f_s, f_t)
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < first / 2 and float(acc) > 0.95


def test_conditional_loss_shapes_and_randomized_map():
    f_s, f_t, l_s, l_t = torch.randn(8, 6), torch.randn(8, 6), torch.randn(8, 3), torch.randn(8, 3)
    full = MultilinearMap(6, 3)
    assert full(f_s, torch.softmax(l_s, 1)).shape == (8, 18) and not full.randomized
    rnd = MultilinearMap(6, 3, max_dim=10)
    assert rnd.randomized and rnd(f_s, torch.softmax(l_s, 1)).shape == (8, 10)
    for e in (False, True):
        cdan = ConditionalDomainAdversarialLoss(DomainDiscriminator(18, 8), full, entropy_conditioning=e)
        loss, acc = cdan(f_s, f_t, l_s, l_t)
        assert torch.isfinite(loss) and 0.0 <= float(acc) <= 1.0


def test_distillation_loss_is_zero_for_equal_logits_and_positive_otherwise():
    z = torch.randn(5, 4)
    kd = DistillationLoss(temperature=3.0)
    assert float(kd(z, z)) < 1e-6
    assert float(kd(z, torch.randn(5, 4))) > 0.0


def test_kmm_upweights_source_samples_near_the_target():
    g = gen(2)
    f_s = torch.cat([torch.randn(20, 2, generator=g) - 3.0, torch.randn(20, 2, generator=g) + 3.0])
    f_t = torch.randn(40, 2, generator=g) + 3.0
    w = kmm_weights(f_s, f_t, bound=10.0)
    assert w[20:].mean() > 5 * w[:20].mean() and abs(float(w.mean()) - 1.0) < 1e-4


def test_mcc_is_zero_for_confident_distinct_predictions_and_maximal_for_uniform_ones():
    from tlcore.losses.mcc import MinimumClassConfusionLoss

    mcc = MinimumClassConfusionLoss(temperature=1.0)
    one_hot = torch.tensor([[50.0, 0, 0], [0, 50.0, 0], [0, 0, 50.0], [50.0, 0, 0]])
    assert float(mcc(one_hot)) < 1e-6
    assert abs(float(mcc(torch.zeros(8, 3))) - 2 / 3) < 1e-6  # (C - 1) / C
    mixed = torch.tensor([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.5, 2.0]], requires_grad=True)
    loss = mcc(mixed)
    assert 0 < float(loss) < 2 / 3
    loss.backward()  # differentiable: pushes the confused classes apart
    assert torch.isfinite(mixed.grad).all() and mixed.grad.abs().sum() > 0
    assert float(MinimumClassConfusionLoss(5.0)(mixed)) > float(loss)  # a higher temperature is softer
