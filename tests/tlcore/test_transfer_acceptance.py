"""Acceptance: pretrained transfer beats training from scratch, on real models and small real subsets.

Kept small (a few hundred samples, small images, short texts) so the suite stays fast on 2 CPU cores;
bench/ runs the full pairs.
"""
import pytest

from tlcore.config import RunConfig
from tlcore.pipeline import run_experiment

from tests.conftest import shared_or_skip

pytestmark = pytest.mark.slow


def target_acc(store, **cfg):
    rec = run_experiment(RunConfig.from_dict(cfg), store)
    assert rec.status == "completed"
    return rec.target_acc


def image_pair(source, target):
    base = {"source": source, "target": target, "backbone": "efficientnet_lite0", "image_size": 64,
            "max_samples_per_domain": 300, "batch_size": 32, "seed": 0}
    probe = {**base, "strategy": "linear_probe", "epochs": 30, "lr": 1e-3}
    scratch = {**base, "strategy": "scratch", "epochs": 2, "lr": 1e-3, "image_size": 32}
    return probe, scratch


def test_linear_probe_beats_scratch_on_image_demo(store):
    probe, scratch = image_pair({"demo": "digits"}, {"demo": "digits"})
    p, s = target_acc(store, **probe), target_acc(store, **scratch)
    assert p > s + 0.05, (p, s)


def test_linear_probe_beats_scratch_on_mnist_to_usps(store):
    data = shared_or_skip("digits_mnist_usps")
    probe, scratch = image_pair({"path": str(data / "mnist.zip")}, {"path": str(data / "usps.zip")})
    p, s = target_acc(store, **probe), target_acc(store, **scratch)
    assert p > s + 0.1, (p, s)
    assert p > 0.4


def test_fine_tuning_beats_scratch_on_books_to_kitchen(store):
    data = shared_or_skip("amazon_reviews")
    base = {"source": {"path": str(data / "books.csv")}, "target": {"path": str(data / "kitchen.csv")},
            "backbone": "minilm_l6", "max_length": 64, "max_samples_per_domain": 300, "batch_size": 16,
            "epochs": 2, "seed": 0}
    ft = target_acc(store, **base, strategy="fine_tuning", lr=1e-4, params={"backbone_lr_factor": 1.0})
    sc = target_acc(store, **base, strategy="scratch", lr=1e-4)
    assert ft > sc + 0.05, (ft, sc)
    assert ft > 0.6
