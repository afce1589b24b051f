"""Small random-init backbones: the tiny test models and the LeNet-size from-scratch reference."""
from __future__ import annotations

from torch import nn

from tlcore.models.base import Backbone


class _BlockCNN(Backbone):
    """A CNN as a list of blocks, applied in order; each block is one layer group."""

    blocks: nn.ModuleList

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x

    def layer_groups(self):
        return [list(b.parameters()) for b in self.blocks]


class TinyCNN(_BlockCNN):
    """A 3-layer CNN with random init: fast enough for tests and smoke runs."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.blocks = nn.ModuleList([
            nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)),
            nn.Sequential(nn.Conv2d(width, width * 2, 3, padding=1), nn.BatchNorm2d(width * 2), nn.ReLU(),
                          nn.MaxPool2d(2)),
            nn.Sequential(nn.Conv2d(width * 2, width * 4, 3, padding=1), nn.BatchNorm2d(width * 4), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        ])
        self.out_features = width * 4


class SmallCNN(_BlockCNN):
    """LeNet-size CNN (two 5x5 conv + pool stages, 128-wide features), random init: the from-scratch
    reference a pretrained run must beat, trained at the data's native resolution (32 px by default)
    (LeCun et al., Proc. IEEE 1998; TLlib's digits LeNet).

    ``mixstyle=True`` (registry row ``small_cnn_mixstyle``) adds a :class:`~tlcore.models.mixstyle.MixStyle` layer
    after each of the two conv stages (Zhou et al., ICLR 2021): it mixes the samples' feature statistics in
    training and is the identity in eval; it holds no parameters, so the state dict keys are the plain model's."""

    def __init__(self, mixstyle: bool = False):
        super().__init__()
        self.mean, self.std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)

        def mix() -> list:
            if not mixstyle:
                return []
            from tlcore.models.mixstyle import MixStyle

            return [MixStyle()]

        self.blocks = nn.ModuleList([
            nn.Sequential(nn.Conv2d(3, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2), *mix()),
            nn.Sequential(nn.Conv2d(32, 64, 5, padding=2), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2), *mix(),
                          nn.AdaptiveAvgPool2d(4), nn.Flatten()),
            nn.Sequential(nn.Dropout(0.3), nn.Linear(64 * 16, 128), nn.ReLU()),
        ])
        self.out_features = 128


class TinyText(Backbone):
    """Token embeddings + one small transformer layer + mean pooling, on the MiniLM tokenizer."""

    modality = "text"

    def __init__(self, tokenizer, dim: int = 32):
        super().__init__()
        self.tokenizer = tokenizer
        self.embed = nn.Embedding(tokenizer.vocab_size, dim)
        self.layer = nn.TransformerEncoderLayer(dim, 2, dim * 2, dropout=0.0, batch_first=True)
        self.out_features = dim

    def forward(self, x):
        mask = x["attention_mask"]
        h = self.layer(self.embed(x["input_ids"]), src_key_padding_mask=mask == 0)
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp(min=1.0)

    def layer_groups(self):
        return [list(self.embed.parameters()), list(self.layer.parameters())]
