"""Unsupervised validators: formulas checked against skada where it has them, orientation (higher is better),
and that every pipeline run carries them."""
import numpy as np
import pytest

from tlcore.evaluation.validators import (VALIDATORS, RunOutputs, deep_embedded_validation, entropy,
                                          information_maximization, score_run, soft_neighborhood_density)


def _blobs(n=200, d=5, c=3, sep=4.0, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    means = rng.normal(size=(c, d)) * sep
    return means[y] + rng.normal(size=(n, d)), y


def test_confident_diverse_beats_uniform_and_collapsed():
    n, c = 300, 4
    y = np.arange(n) % c
    sharp = np.full((n, c), 0.01)
    sharp[np.arange(n), y] = 0.97
    uniform = np.full((n, c), 1 / c)
    collapsed = np.tile(sharp[0], (n, 1))  # confident, always the same class
    for fn in (entropy, information_maximization):
        assert fn(RunOutputs(sharp)) > fn(RunOutputs(uniform))
    im = information_maximization
    assert im(RunOutputs(sharp)) > im(RunOutputs(collapsed)) + 1.0  # IM punishes collapse, entropy does not
    assert entropy(RunOutputs(collapsed)) == pytest.approx(entropy(RunOutputs(sharp)))
    assert information_maximization(RunOutputs(uniform)) == pytest.approx(0.0, abs=1e-9)
    # SND: dense clusters (sharp predictions) have higher soft-neighbourhood entropy than scattered ones
    rng = np.random.default_rng(0)
    scattered = rng.dirichlet(np.ones(c) * 0.3, n)
    assert soft_neighborhood_density(RunOutputs(sharp)) > soft_neighborhood_density(RunOutputs(scattered))


def _skada_setup():
    skada = pytest.importorskip("skada")
    from sklearn.linear_model import LogisticRegression

    import sklearn

    xs, ys = _blobs(seed=1)
    xt, _ = _blobs(seed=1)
    xt = xt + 0.7
    with sklearn.config_context(enable_metadata_routing=True):  # skada needs it; tlcore keeps it off globally
        clf = skada.make_da_pipeline(LogisticRegression(max_iter=500)).fit(
            np.concatenate([xs, xt]), np.concatenate([ys, -np.ones(len(xt), int)]),
            sample_domain=np.r_[np.ones(len(xs)), -np.ones(len(xt))].astype(int))
    return skada, clf, xs, ys, xt


def test_entropy_matches_skada():
    import sklearn

    skada, clf, xs, ys, xt = _skada_setup()
    sd = -np.ones(len(xt), int)
    with sklearn.config_context(enable_metadata_routing=True):
        p_t = clf.predict_proba(xt, sample_domain=sd)
        theirs = skada.metrics.PredictionEntropyScorer(reduction="mean")(
            clf, np.concatenate([xs, xt]), np.concatenate([ys, -np.ones(len(xt), int)]),
            sample_domain=np.r_[np.ones(len(xs)), sd].astype(int))
    # skada averages over samples x classes; ours is the mean per-sample entropy
    assert entropy(RunOutputs(p_t)) / p_t.shape[1] == pytest.approx(theirs, rel=1e-4, abs=1e-6)


def test_dev_weights_shifted_source_samples_and_tracks_the_loss():
    """DEV's importance weights: a model that errs on source samples that look like the target has a worse
    (lower) DEV score than one that errs equally often on source samples unlike the target."""
    rng = np.random.default_rng(0)
    n = 400
    f_s = rng.normal(size=(n, 2))
    f_t = rng.normal(size=(n, 2)) + np.array([2.0, 0.0])
    y_s = np.zeros(n, int)
    near = f_s[:, 0] > np.quantile(f_s[:, 0], 0.7)  # source samples closest to the target
    far = f_s[:, 0] < np.quantile(f_s[:, 0], 0.3)

    def probs(wrong):
        p = np.tile([0.95, 0.05], (n, 1))
        p[wrong] = [0.05, 0.95]
        return p

    p_t = np.tile([0.5, 0.5], (n, 1))
    bad_near = deep_embedded_validation(RunOutputs(p_t, f_t, probs(near), f_s, y_s))
    bad_far = deep_embedded_validation(RunOutputs(p_t, f_t, probs(far), f_s, y_s))
    assert bad_near < bad_far


def test_score_run_shapes_and_missing_inputs():
    xs, ys = _blobs(seed=2)
    p = np.eye(3)[ys] * 0.9 + 0.1 / 3
    out = score_run(p, xs, p, xs, ys, seed=0)
    assert set(out["scores"]) == set(VALIDATORS)
    assert all(isinstance(v, float) for v in out["scores"].values())
    assert out["scores"]["source_accuracy"] == pytest.approx(1.0)
    assert out["scores"]["circular"] > 0.9  # the pseudo-labels explain the source perfectly
    only_probs = score_run(p)  # no features, no source: those validators are None, not an error
    assert only_probs["scores"]["dev"] is None and only_probs["scores"]["im"] is not None


def test_every_run_carries_unsupervised_scores_without_target_labels(store):
    from tlcore.config import RunConfig
    from tlcore.pipeline import run_experiment

    cfg = RunConfig.from_dict({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn",
                               "strategy": "linear_probe", "epochs": 1, "image_size": 16, "batch_size": 32,
                               "max_samples_per_domain": 200})
    rec = run_experiment(cfg, store)
    tu = store.metrics(rec.run_id)["target_unsupervised"]
    assert set(tu["scores"]) == set(VALIDATORS)
    assert tu["scores"]["im"] is not None and tu["scores"]["dev"] is not None
    assert tu["n_target"] > 0 and tu["seconds"] >= 0  # recorded (measured by bench/refusal_timings.py)


def test_calibrated_im_ignores_a_run_being_overconfident():
    """Two runs with the same decisions, one with sharpened probabilities: plain IM prefers the sharp one,
    IM after temperature scaling on source validation scores them (nearly) the same."""
    from tlcore.evaluation.validators import calibrated_information_maximization, temperature

    rng = np.random.default_rng(0)
    n, c = 400, 3
    y_s = rng.integers(0, c, n)
    logits_s = np.eye(c)[y_s] * 1.5 + rng.normal(size=(n, c))
    logits_t = np.eye(c)[rng.integers(0, c, n)] * 1.0 + rng.normal(size=(n, c))

    def soft(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    mild = RunOutputs(soft(logits_t), p_s=soft(logits_s), y_s=y_s)
    sharp = RunOutputs(soft(4 * logits_t), p_s=soft(4 * logits_s), y_s=y_s)
    assert information_maximization(sharp) > information_maximization(mild) + 0.2
    assert calibrated_information_maximization(sharp) == pytest.approx(calibrated_information_maximization(mild),
                                                                       abs=0.02)
    assert temperature(soft(4 * logits_s), y_s) == pytest.approx(4 * temperature(soft(logits_s), y_s), rel=0.15)


def test_train_cli_json_carries_the_scores(tl_home, tmp_path):
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    conf = tmp_path / "run.yaml"
    conf.write_text("source: {demo: reviews}\ntarget: {demo: reviews}\nbackbone: tiny_text\nstrategy: linear_probe\n"
                    "epochs: 1\nmax_length: 32\nmax_samples_per_domain: 150\n")
    out = subprocess.run([sys.executable, "-m", "tlcore", "train", str(conf)], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    tu = json.loads(out.stdout.strip().splitlines()[-1])["metrics"]["target_unsupervised"]
    assert set(tu["scores"]) == set(VALIDATORS) and tu["scores"]["im_calibrated"] is not None


def test_classical_baseline_carries_output_validators(store):
    from tlcore.evaluation.baseline import classical_baseline

    rec = classical_baseline({"source": {"demo": "digits"}, "target": {"demo": "digits"},
                              "max_samples_per_domain": 200}, store)
    s = store.metrics(rec.run_id)["target_unsupervised"]["scores"]
    assert s["im"] is not None and s["im_calibrated"] is not None and s["source_accuracy"] is not None
    assert s["dev"] is None and s["circular"] is None  # no deep features to read


def test_gated_validator_stores_the_calibrated_im_once():
    rng = np.random.default_rng(1)
    p_t, p_s = rng.dirichlet(np.ones(4), 80), rng.dirichlet(np.ones(4), 60)
    y_s = rng.integers(0, 4, 60)
    s = score_run(p_t, p_s=p_s, y_s=y_s)["scores"]
    assert s["im_calibrated_gated"] is not None and s["im_calibrated_gated"] == s["im_calibrated"]
    assert VALIDATORS["im_calibrated_gated"].gate == "source_accuracy"
    assert score_run(p_t)["scores"]["im_calibrated_gated"] is None  # no source outputs: no score
