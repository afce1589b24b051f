"""RELIABILITY.md item 66: a DataLoader worker that dies or hangs, or an exception in a transform.

TL Studio's training prepares samples in the job's own process (images are decoded when the domain is read and
resized/augmented per batch in tlcore/training/batches.py; no DataLoader worker processes), so there is no worker to
die of a small /dev/shm or to hang. What remains is a transform that raises: the run must fail with a message that
names the sample and its file, not a bare traceback. A sweep keeps any future DataLoader with worker processes
honest (a ``timeout``, so a dead or hung worker fails the run instead of hanging it)."""
import ast
import dataclasses

import numpy as np
import pytest

from tests.conftest import ROOT
from tlcore.config import RunConfig
from tlcore.training.batches import SampleError, encode_images

FAST = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
        "image_size": 16, "max_samples_per_domain": 120, "strategy": "scratch", "device": "cpu"}
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def images(n=5):
    return [np.full((20, 20, 3), 40 * i, dtype=np.uint8) for i in range(n)]


@pytest.mark.parametrize("lazy", [False, True])
def test_item_66_a_sample_whose_transform_raises_is_named_with_its_file(lazy):
    samples = images()
    samples[3] = np.zeros((20, 20, 3), dtype=np.float64)  # Pillow cannot make an image of it
    ds = encode_images(samples, np.zeros(5), 16, MEAN, STD, lazy=True) if lazy else None
    if lazy:
        ds.sources = [f"cats/img{i}.png" for i in range(5)]
        ds.batch(np.array([0, 1]), "cpu")  # fine samples pass
        with pytest.raises(SampleError, match=r"sample 3 \(cats/img3\.png\).*TypeError"):
            ds.batch(np.array([2, 3]), "cpu")
    else:
        with pytest.raises(SampleError, match=r"could not prepare sample 3 for the model \(resize to 16 px\)"):
            encode_images(samples, np.zeros(5), 16, MEAN, STD)


def test_item_66_an_augmentation_that_raises_names_the_batch(monkeypatch):
    import tlcore.training.augment as augment

    ds = encode_images(images(), np.zeros(5), 16, MEAN, STD, augment="default")
    ds.sources = [f"row {i}" for i in range(5)]

    def broken(x, policy):
        raise ValueError("bad crop box")

    monkeypatch.setattr(augment, "apply_policy", broken)
    with pytest.raises(SampleError, match=r"augmentation 'default' failed on a batch of 2 samples \(sample 1 "
                                          r"\(row 1\), sample 4 \(row 4\)\): ValueError: bad crop box"):
        ds.batch(np.array([1, 4]), "cpu", train=True)


def test_item_66_a_run_with_a_sample_that_breaks_its_transform_fails_with_the_file(store, monkeypatch):
    import tlcore.pipeline as pipeline

    real = pipeline.prepare_data

    def with_a_bad_sample(cfg):
        source, target, classes, split = real(cfg)
        samples = list(source.samples)
        k = int(split.source_train[2])
        samples[k] = np.zeros((8, 8, 3), dtype=np.float64)
        return dataclasses.replace(source, samples=samples), target, classes, split

    monkeypatch.setattr(pipeline, "prepare_data", with_a_bad_sample)
    with pytest.raises(SampleError):
        pipeline.run_experiment(RunConfig.from_dict(FAST), store)
    [rec] = store.list()
    assert rec.status == "failed"
    assert rec.error.startswith("could not prepare sample ") and "TypeError" in rec.error, rec.error
    source = real(RunConfig.from_dict(FAST))[0]
    assert any(f"({name})" in rec.error for name in source.sources), "the message names the sample's file"


def _unsafe_dataloaders(text: str) -> list[int]:
    """Lines of ``DataLoader(...)`` calls that start worker processes (``num_workers``) without a ``timeout``."""
    return [n.lineno for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call)
            and getattr(n.func, "attr", getattr(n.func, "id", None)) == "DataLoader"
            and "num_workers" in {k.arg for k in n.keywords} and "timeout" not in {k.arg for k in n.keywords}]


def test_item_66_any_dataloader_with_worker_processes_has_a_timeout():
    files = [p for d in ("tlcore", "ui", "views") for p in (ROOT / d).rglob("*.py")]
    found = [f"{p.relative_to(ROOT)}:{line}" for p in files for line in _unsafe_dataloaders(p.read_text("utf-8"))]
    assert found == [], "a dead or hung DataLoader worker would hang the run: pass timeout= (and name the sample)"
    assert _unsafe_dataloaders("DataLoader(ds, num_workers=2)\n") == [1]  # the sweep itself can fail
    assert _unsafe_dataloaders("torch.utils.data.DataLoader(ds, num_workers=2, timeout=120)\n") == []
