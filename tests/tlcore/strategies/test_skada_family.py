"""The skada family (classical DA on frozen features): the fitted pipeline is written exactly into the linear
head, each method runs through the ordinary pipeline, and a shift that CORAL-type methods correct is corrected."""
import numpy as np
import pytest

pytest.importorskip("skada")

from tlcore.strategies import STRATEGIES, build_strategy  # noqa: E402
from tlcore.strategies.skada_da import SKADA_STRATEGIES, fit_skada_head  # noqa: E402

NAMES = [cls.name for cls in SKADA_STRATEGIES]


def shifted_blobs(n=240, d=12, c=3, seed=0, sep=3.0):
    """Source: class blobs. Target: the same classes, each feature rescaled and offset (a linear shift)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(c, d)) * sep
    ys, yt = rng.integers(0, c, n), rng.integers(0, c, n)
    xs = means[ys] + rng.normal(size=(n, d))
    scale = rng.uniform(0.4, 2.5, d)
    xt = (means[yt] + rng.normal(size=(n, d))) * scale + rng.normal(size=d) * 4
    return xs, ys, xt, yt


def test_family_is_registered_with_a_family_label():
    assert len(NAMES) >= 7 and all(n in STRATEGIES for n in NAMES)
    assert {"skada_coral", "skada_subspace_alignment", "skada_tca", "skada_ot_mapping", "skada_kmm",
            "skada_kliep", "skada_jdot"} <= set(NAMES)
    assert all("skada" in STRATEGIES[n].describe()["family"] for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_head_reproduces_the_skada_pipeline_and_leaves_sklearn_config_alone(name):
    import sklearn

    before = sklearn.get_config()["enable_metadata_routing"]
    xs, ys, xt, yt = shifted_blobs()
    # 4 classes, one never seen: never predicted; PCA to 8 of the 12 dims, so the fold goes through it too
    w, b = fit_skada_head(build_strategy(name, {"pca_components": 8}), xs, ys, xt, 4)
    assert w.shape == (4, xs.shape[1]) and np.isfinite(w).all()  # the head reads the raw 12-dim features
    pred = (xt @ w.T + b).argmax(1)
    assert (pred != 3).all()
    assert (pred == yt).mean() > 0.4  # better than chance (1/3) on the shifted target
    assert sklearn.get_config()["enable_metadata_routing"] == before


def test_coral_beats_source_only_on_a_linear_shift():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.pipeline import make_pipeline

    xs, ys, xt, yt = shifted_blobs(seed=3, sep=1.0)  # source-only: 41% on the target
    src_only = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(xs, ys).score(xt, yt)
    w, b = fit_skada_head(build_strategy("skada_coral"), xs, ys, xt, 3)
    assert ((xt @ w.T + b).argmax(1) == yt).mean() > src_only + 0.05


def test_runs_through_the_pipeline_in_seconds(store):
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment

    cfg = RunConfig.from_dict({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn",
                               "strategy": "skada_coral", "epochs": 2, "image_size": 16, "batch_size": 32,
                               "max_samples_per_domain": 200})
    rec = run_experiment(cfg, store)
    m = store.metrics(rec.run_id)
    assert rec.status == "completed" and 0 <= m["target_test"]["accuracy"] <= 1
    assert m["target_unsupervised"]["scores"]["im"] is not None
    assert store.path(rec.run_id, "model.safetensors").is_file()
