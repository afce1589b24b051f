"""checkpoint=last vs best_val, and AdaBN (per-domain batch-norm statistics of a frozen backbone)."""
import numpy as np
import torch

from tlcore.strategies import build_strategy
from tlcore.training.features import adapt_batchnorm, extract_features
from tlcore.training.loop import fit

from tests.tlcore.helpers import tiny_image_data, tiny_model


def _fit(checkpoint):
    data = tiny_image_data(shift=40)
    model = tiny_model()
    res = fit(model, build_strategy("fine_tuning"), data, epochs=6, batch_size=16, lr=3e-2, weight_decay=0.0,
              device=torch.device("cpu"), seed=0, patience=0, checkpoint=checkpoint)
    return res, {k: v.clone() for k, v in model.state_dict().items()}


def test_last_checkpoint_keeps_the_last_epoch_and_best_val_restores():
    res_best, best = _fit("best_val")
    res_last, last = _fit("last")
    assert len(res_last.history) == 6  # patience 0: every epoch runs
    if res_best.best_epoch != 6:  # the best epoch was not the last: the two must differ
        assert any(not torch.equal(best[k], last[k]) for k in best)
    else:
        assert all(torch.equal(best[k], last[k]) for k in best)


def test_adapt_batchnorm_sets_the_exact_target_statistics():
    data = tiny_image_data(shift=80)
    model = tiny_model()
    bn = model.backbone.blocks[0][1]
    adapt_batchnorm(model.backbone, data.target_train, torch.device("cpu"), batch_size=16)
    conv = model.backbone.blocks[0][0]
    with torch.no_grad():
        x = torch.cat([data.target_train.batch(np.arange(len(data.target_train)), torch.device("cpu"))])
        act = conv(x)
    assert torch.allclose(bn.running_mean, act.mean((0, 2, 3)), atol=1e-4)
    assert not model.backbone.training and bn.momentum == 0.1


def test_domain_bn_encodes_each_domain_with_its_own_statistics():
    data = tiny_image_data(shift=80)
    sets = {"source_train": data.source_train, "source_val": data.source_val, "target_train": data.target_train,
            "target_test": data.target_train, "target_labeled_mask": np.zeros(len(data.target_train), bool)}
    model = tiny_model()
    plain, _ = extract_features(model, sets, torch.device("cpu"), 16)
    model2 = tiny_model()
    ada, _ = extract_features(model2, sets, torch.device("cpu"), 16, domain_bn=True)
    # each domain's features are centred by its own statistics: the domain-mean gap shrinks
    gap = lambda fs: (fs["source_train"].features.mean(0) - fs["target_train"].features.mean(0)).norm()  # noqa: E731
    assert gap(ada) < gap(plain)
    # the model keeps the target statistics (the saved model is the target model)
    bn = model2.backbone.blocks[0][1]
    ref = tiny_model()
    adapt_batchnorm(ref.backbone, data.target_train, torch.device("cpu"), 16)
    assert torch.allclose(bn.running_mean, ref.backbone.blocks[0][1].running_mean)
