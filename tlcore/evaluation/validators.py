"""Unsupervised validators: scores that rank runs without target labels.

Each validator reads only what a run already produced: its softmax outputs and features on the *unlabeled*
target-train split (``p_t (N_t, C)``, ``f_t (N_t, D)``) and, for the two that use source labels, its outputs,
features and labels on the source validation split (``p_s``, ``f_s``, ``y_s``). No target label and no extra
pass over the data. Every score is oriented so that **higher is better** (losses are negated).

Formulas are written here on plain arrays (no estimator wrapper): skada's scorers (0.6.0) need a fitted
scikit-learn estimator to call ``predict_proba`` on raw inputs, which a torch run recorded on disk is not.
``tests/tlcore/evaluation/test_validators.py`` checks the entropy and DEV values against skada's
``PredictionEntropyScorer`` and ``DeepEmbeddedValidation`` on a scikit-learn model.

References:
  * entropy: Morerio, Cavazza & Murino, "Minimal-entropy correlation alignment", ICLR 2018 (as a validator:
    Musgrave et al. 2022).
  * im: information maximization, Gomes, Krause & Perona, NeurIPS 2010; Shi & Sha, ICML 2012; Liang et al.
    (SHOT), ICML 2020.
  * im_calibrated: IM after temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML
    2017) fitted on the run's labeled source validation outputs (ours; see bench/results/validators.md).
  * bnm: batch nuclear-norm maximization, Cui et al., CVPR 2020 (as a validator: Musgrave et al. 2022).
  * snd: soft neighborhood density, Saito et al., "Tune it the Right Way", ICCV 2021.
  * dev: deep embedded validation, You et al., "Towards Accurate Model Selection in Deep Unsupervised
    Domain Adaptation", ICML 2019.
  * circular: reverse/circular validation, Bruzzone & Marconcini, TPAMI 2010; Zhong et al., ECML 2010.
  * source_accuracy: accuracy on the labeled source validation split (the naive baseline).
  * im_calibrated_gated: ``im_calibrated`` among the runs whose source validation accuracy is at or above the
    median of the candidates (a source-accuracy floor; the target risk is bounded by the source risk plus a
    divergence term, Ben-David et al., "A theory of learning from different domains", MLJ 2010). Its stored
    score is ``im_calibrated``'s; the floor depends on the set of runs compared, so it is applied when runs
    are ranked (:func:`gate_passes`, used by ``tlcore.evaluation.selection``). Chosen as the default with
    leave-pairs-out checks (bench/results/validators.md).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

EPS = 1e-12
CAP = 2000  # samples per domain a validator reads (seeded subsample); keeps SND's N x N matrix small
DIM = 64  # DEV and circular read the features' top principal components (joint PCA of both domains)
DEFAULT = "im_calibrated_gated"  # the benchmark's best validator, also held out (bench/results/validators.md)
GATE_MIN_RUNS = 3  # the median floor applies from 3 runs with a gate score (with 2 it would just be the gate)


@dataclass(frozen=True)
class RunOutputs:
    """What the validators read. ``f_*`` may be None for runs without stored features."""

    p_t: np.ndarray
    f_t: np.ndarray | None = None
    p_s: np.ndarray | None = None
    f_s: np.ndarray | None = None
    y_s: np.ndarray | None = None


def _entropy_rows(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1.0)
    return -(p * np.log(p)).sum(1)


def entropy(o: RunOutputs, seed: int = 0) -> float:
    """Negated mean prediction entropy on the target: ``-1/N sum_i H(p_i)``."""
    return float(-_entropy_rows(o.p_t).mean())


def information_maximization(o: RunOutputs, seed: int = 0) -> float:
    """``H(mean_i p_i) - mean_i H(p_i)``: confident *and* diverse target predictions."""
    return float(_entropy_rows(o.p_t.mean(0, keepdims=True))[0] - _entropy_rows(o.p_t).mean())


def temperature(p_s: np.ndarray, y_s: np.ndarray) -> float:
    """The temperature ``T`` that minimises the source-validation NLL of ``softmax(log p / T)`` (temperature
    scaling, Guo et al., ICML 2017), on a log grid over [0.05, 20]."""
    z = np.log(np.clip(p_s, EPS, 1.0))
    best, best_t = np.inf, 1.0
    for t in np.exp(np.linspace(np.log(0.05), np.log(20.0), 61)):
        a = z / t
        a = a - a.max(1, keepdims=True)
        nll = float(-(a[np.arange(len(y_s)), y_s] - np.log(np.exp(a).sum(1))).mean())
        if nll < best:
            best, best_t = nll, float(t)
    return best_t


def calibrated_information_maximization(o: RunOutputs, seed: int = 0) -> float:
    """IM after temperature scaling fitted on the labeled source validation split. Runs of different methods
    differ in how confident they are (a logistic regression is sharper than a briefly trained head); scaling
    each run to calibrated confidence on its own source data removes that difference before IM compares them."""
    if o.p_s is None or o.y_s is None or not len(o.y_s):
        return float("nan")
    t = temperature(o.p_s, o.y_s)
    z = np.log(np.clip(o.p_t, EPS, 1.0)) / t
    z = z - z.max(1, keepdims=True)
    p = np.exp(z)
    return information_maximization(RunOutputs(p / p.sum(1, keepdims=True)))


def batch_nuclear_norm(o: RunOutputs, seed: int = 0) -> float:
    """``||P_t||_* / N``: the nuclear norm of the target prediction matrix (high when confident and diverse)."""
    return float(np.linalg.svd(o.p_t.astype(np.float64), compute_uv=False).sum() / max(1, len(o.p_t)))


def soft_neighborhood_density(o: RunOutputs, seed: int = 0, temperature: float = 0.05) -> float:
    """SND (Saito et al. 2021): L2-normalise the target softmax outputs, similarities ``s_ij = <p_i, p_j>``
    for ``j != i``, row-wise softmax of ``s_ij / T`` (T = 0.05, the paper's value), mean entropy of the rows.
    High when target samples have many soft neighbours (dense clusters)."""
    p = o.p_t.astype(np.float64)
    p = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), EPS)
    s = p @ p.T / temperature
    np.fill_diagonal(s, -np.inf)
    s -= s.max(1, keepdims=True)
    e = np.exp(s)
    a = e / e.sum(1, keepdims=True)
    return float(-(a * np.log(np.clip(a, EPS, 1.0))).sum(1).mean())


def _standardise(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    both = np.concatenate([a, b]).astype(np.float64)
    mu, sd = both.mean(0), both.std(0) + 1e-6
    return (a - mu) / sd, (b - mu) / sd


def deep_embedded_validation(o: RunOutputs, seed: int = 0) -> float:
    """Negated DEV risk (You et al. 2019).

    A logistic-regression domain classifier on the run's features (source validation vs target train) gives
    density ratios ``w_i = (N_s / N_t) p(target|f_i) / p(source|f_i)`` on source validation samples
    (2-fold cross-fitting: each half is weighted by a classifier that did not see it). With the per-sample
    cross-entropy ``l_i``, the control-variate estimate is ``mean(w l) + eta mean(w) - eta`` with
    ``eta = -Cov(w l, w) / Var(w)``.
    """
    from sklearn.linear_model import LogisticRegression

    if o.f_s is None or o.f_t is None or o.y_s is None or len(o.f_s) < 4:
        return float("nan")
    fs, ft = _standardise(o.f_s, o.f_t)
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(fs)) % 2
    w = np.empty(len(fs))
    for k in (0, 1):
        train = fold != k
        x = np.concatenate([fs[train], ft])
        d = np.concatenate([np.zeros(train.sum()), np.ones(len(ft))])
        clf = LogisticRegression(C=1.0, max_iter=200).fit(x, d)
        pt = np.clip(clf.predict_proba(fs[~train])[:, 1], 1e-6, 1 - 1e-6)
        w[~train] = (train.sum() / len(ft)) * pt / (1 - pt)
    loss = -np.log(np.clip(o.p_s[np.arange(len(o.y_s)), o.y_s], 1e-15, 1.0))
    wl = w * loss
    var_w = np.var(w, ddof=1)
    eta = 0.0 if var_w == 0 else -np.cov(wl, w)[0, 1] / var_w
    return float(-(wl.mean() + eta * w.mean() - eta))


def circular_validation(o: RunOutputs, seed: int = 0) -> float:
    """Reverse validation: fit a ridge classifier on the target features with the run's pseudo-labels
    (argmax of ``p_t``), predict the labeled source validation features, return that accuracy. A model whose
    target decision rule also explains the source is trusted more (Bruzzone & Marconcini 2010)."""
    from sklearn.linear_model import RidgeClassifier

    if o.f_s is None or o.f_t is None or o.y_s is None:
        return float("nan")
    pseudo = o.p_t.argmax(1)
    if len(np.unique(pseudo)) < 2:
        return float((o.y_s == pseudo[0]).mean())
    ft, fs = _standardise(o.f_t, o.f_s)
    clf = RidgeClassifier(alpha=1.0).fit(ft, pseudo)
    return float((clf.predict(fs) == o.y_s).mean())


def source_accuracy(o: RunOutputs, seed: int = 0) -> float:
    """Accuracy on the labeled source validation split (uses no target information)."""
    if o.p_s is None or o.y_s is None or not len(o.y_s):
        return float("nan")
    return float((o.p_s.argmax(1) == o.y_s).mean())


@dataclass(frozen=True)
class Validator:
    name: str
    title: str
    fn: Callable[[RunOutputs, int], float]
    reads: str  # what it reads, for the UI
    paper: str
    # another validator whose score must be at or above the candidates' median for a run to be ranked first
    # (runs below it are ranked after all others); None: rank by the score alone
    gate: str | None = None


VALIDATORS: dict[str, Validator] = {v.name: v for v in (
    Validator("im", "Information maximization", information_maximization, "target outputs",
              "Gomes et al. 2010; Shi & Sha 2012"),
    Validator("im_calibrated", "Information maximization, temperature-scaled on source val",
              calibrated_information_maximization, "target outputs, source outputs and labels",
              "IM with Guo et al. 2017's temperature scaling"),
    Validator("entropy", "Prediction entropy (negated)", entropy, "target outputs", "Morerio et al. 2018"),
    Validator("bnm", "Batch nuclear norm", batch_nuclear_norm, "target outputs", "Cui et al. 2020"),
    Validator("snd", "Soft neighborhood density", soft_neighborhood_density, "target outputs",
              "Saito et al. 2021"),
    Validator("dev", "Deep embedded validation (negated risk)", deep_embedded_validation,
              "features of both domains, source labels", "You et al. 2019"),
    Validator("circular", "Circular (reverse) validation", circular_validation,
              "features of both domains, source labels", "Bruzzone & Marconcini 2010"),
    Validator("source_accuracy", "Source validation accuracy", source_accuracy, "source outputs and labels",
              "baseline"),
    Validator("im_calibrated_gated", "Temperature-scaled IM among runs with source accuracy >= the median",
              calibrated_information_maximization, "target outputs, source outputs and labels",
              "IM with Guo et al. 2017's temperature scaling; source floor after Ben-David et al. 2010",
              gate="source_accuracy"),
)}


def gate_passes(name: str, gate_scores: list) -> list[bool]:
    """For validator ``name``, which of the runs whose gate scores are ``gate_scores`` (None: missing) pass its
    gate: gate score at or above the median of the present ones. Everything passes when the validator has no
    gate or fewer than ``GATE_MIN_RUNS`` runs have a gate score; a run without a gate score then fails."""
    gate = VALIDATORS[name].gate
    present = [float(g) for g in gate_scores if g is not None and np.isfinite(g)]
    if gate is None or len(present) < GATE_MIN_RUNS:
        return [True] * len(gate_scores)
    med = float(np.median(present))
    return [g is not None and np.isfinite(g) and float(g) >= med - 1e-12 for g in gate_scores]


def _cap(n: int, cap: int, seed: int) -> np.ndarray:
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


def reduce_features(f_t: np.ndarray, f_s: np.ndarray, dim: int = DIM, seed: int = 0):
    """Both domains' features projected on the top ``dim`` principal components of their union (randomised
    SVD on at most ``8 dim`` of the samples), so DEV's domain classifier and the circular classifier fit in
    milliseconds on wide features."""
    from sklearn.utils.extmath import randomized_svd

    f_t, f_s = np.asarray(f_t, np.float32), np.asarray(f_s, np.float32)
    if f_t.shape[1] <= dim:
        return f_t, f_s
    both = np.concatenate([f_t, f_s])
    mu = both.mean(0)
    fit = both[_cap(len(both), 8 * dim, seed)]  # the basis from a seeded subsample: a tenth of the cost
    _, _, vt = randomized_svd(fit - mu, dim, n_iter=2, random_state=seed)
    return (f_t - mu) @ vt.T, (f_s - mu) @ vt.T


def score_run(p_t, f_t=None, p_s=None, f_s=None, y_s=None, seed: int = 0, names=None) -> dict:
    """All validators on one run's outputs. Returns ``{"scores": {name: float|None}, "n_target", "n_source",
    "seconds"}`` (None where a validator lacks its inputs or fails), JSON-ready for ``metrics.json``.

    Runs with one BLAS thread: the arrays are small, and on a busy CPU several threads cost 10-30x more."""
    from threadpoolctl import threadpool_limits

    t0, c0 = time.perf_counter(), time.process_time()
    with threadpool_limits(1):
        o = _outputs(p_t, f_t, p_s, f_s, y_s, seed)
        scores = _scores(o, names, seed)
    return {"scores": scores, "n_target": int(len(o.p_t)), "n_source": int(0 if o.y_s is None else len(o.y_s)),
            "seconds": round(time.perf_counter() - t0, 4), "cpu_seconds": round(time.process_time() - c0, 4)}


def _outputs(p_t, f_t, p_s, f_s, y_s, seed) -> RunOutputs:
    it = _cap(len(p_t), CAP, seed)
    o = RunOutputs(p_t=np.asarray(p_t, np.float64)[it], f_t=None if f_t is None else np.asarray(f_t)[it])
    if p_s is not None and y_s is not None:
        y_s = np.asarray(y_s)
        keep = np.flatnonzero(y_s >= 0)
        keep = keep[_cap(len(keep), CAP, seed + 1)]
        f_t2, f_s2 = o.f_t, None if f_s is None else np.asarray(f_s)[keep]
        if f_t2 is not None and f_s2 is not None:
            f_t2, f_s2 = reduce_features(f_t2, f_s2, seed=seed)
        o = RunOutputs(p_t=o.p_t, f_t=f_t2, p_s=np.asarray(p_s, np.float64)[keep], f_s=f_s2, y_s=y_s[keep])
    return o


def _scores(o: RunOutputs, names, seed: int) -> dict:
    scores, done = {}, {}  # done: one computation per formula (a gated validator shares its base's)
    for name in names or VALIDATORS:
        fn = VALIDATORS[name].fn
        if fn not in done:
            try:
                done[fn] = fn(o, seed)
            except (ValueError, np.linalg.LinAlgError):
                done[fn] = float("nan")
        v = done[fn]
        scores[name] = round(v, 6) if np.isfinite(v) else None
    return scores
