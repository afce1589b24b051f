"""Parameter counts of a backbone x strategy choice, without data (random init)."""
from __future__ import annotations


def trainable_parameters(backbone: str, strategy: str, params: dict | None = None, num_classes: int = 2,
                         bottleneck: int = 0) -> dict:
    """Trainable and total parameter counts for a backbone x strategy choice (random init, no data)."""
    import torch

    from tlcore.models.backbones import create_backbone
    from tlcore.models.classifier import Classifier, count_parameters
    from tlcore.strategies import build_strategy
    from tlcore.strategies.base import SetupContext

    strat = build_strategy(strategy, params)
    model = Classifier(create_backbone(backbone, pretrained=False), num_classes, bottleneck=bottleneck)
    strat.configure(model, SetupContext(lr=1e-3, weight_decay=0.0, num_classes=num_classes,
                                        feature_dim=model.out_features, device=torch.device("cpu")))
    extra = sum(count_parameters(m) for m in strat.extra_modules())
    return {"trainable": count_parameters(model) + extra,
            "total": count_parameters(model, trainable_only=False) + extra}
