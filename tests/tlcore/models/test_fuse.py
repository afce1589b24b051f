"""Batch-norm folding for frozen feature extraction (tlcore/models/fuse.py)."""
import torch
from torch import nn

from tlcore.models.fuse import fold_batchnorm, folded_copy


def _net():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8)),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten())
    for m in net.modules():  # non-trivial statistics, as after training
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return net.eval()


def test_folding_removes_every_batch_norm_and_keeps_the_output():
    net, x = _net(), torch.randn(4, 3, 16, 16)
    want = net(x)
    assert fold_batchnorm(net) == 2
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert torch.allclose(net(x), want, atol=1e-5)


class _Misleading(nn.Module):
    """conv registered right before a norm that actually normalises the input, not the conv's output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.bn = nn.BatchNorm2d(3)
        with torch.no_grad():
            self.bn.running_mean.fill_(2.0)
            self.bn.running_var.fill_(4.0)

    def forward(self, x):
        return self.conv(self.bn(x)).mean((2, 3))


def test_a_copy_that_disagrees_is_refused_and_the_original_is_untouched():
    net, x = _Misleading().eval(), torch.randn(4, 3, 8, 8)
    want = net(x)
    assert folded_copy(net, x) is None
    assert isinstance(net.bn, nn.BatchNorm2d) and torch.equal(net(x), want)


def test_the_embedded_image_backbone_folds_timm_norm_act_layers():
    from tlcore.models.backbones import create_backbone

    bb = create_backbone("efficientnet_lite0")
    bb.train()
    x = torch.randn(2, 3, 64, 64)
    folded = folded_copy(bb, x)
    assert folded is not None and bb.training  # the caller's mode comes back
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    bb.eval()
    with torch.no_grad():
        cos = nn.functional.cosine_similarity(bb(x), folded(x), dim=1)
    assert bool((cos > 0.9999).all())
