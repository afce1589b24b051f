"""The classical baseline every sweep includes: no deep model, so users see whether deep transfer pays off.

* text: TF-IDF of word 1-2 grams + logistic regression (backbone ``tfidf_logreg``);
* images: raw pixels at 16x16 RGB, standardised, + logistic regression (backbone ``pixels_logreg``).

It trains on exactly what a deep run of the same config trains on with labels: the source train split plus
the labelled part of the target train split, and is evaluated on the same source validation and target test
samples, so its metrics (with intervals) and predictions are comparable and pairable. It is recorded as a
normal run (strategy ``classical``) by the ``classical`` producer (:mod:`tlcore.producers`), through the same
recorder as every run. A few thousand rows take about a second on a CPU.
"""
from __future__ import annotations

import time

import numpy as np

from tlcore.config import RunConfig
from tlcore.runs.store import RunRecord, RunStore

STRATEGY = "classical"
BACKBONES = {"text": "tfidf_logreg", "image": "pixels_logreg"}
PIXELS = 16


def _pixels(samples) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(samples), PIXELS * PIXELS * 3), dtype=np.float32)
    for i, s in enumerate(samples):
        img = Image.fromarray(np.asarray(s, dtype=np.uint8)).convert("RGB").resize((PIXELS, PIXELS),
                                                                                Image.BILINEAR)
        out[i] = np.asarray(img, dtype=np.float32).ravel() / 255.0
    return out


def _model(modality: str, seed: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = LogisticRegression(max_iter=1000, C=1.0, random_state=seed)
    if modality == "text":
        return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1), clf)
    return make_pipeline(StandardScaler(), clf)


def produce(cfg: RunConfig, store: RunStore, run_id: str | None = None, callbacks=None, cancel_check=None) -> RunRecord:
    """The ``classical`` producer (:func:`tlcore.producers.produce_run`): about a second of scikit-learn, so it
    reports no progress events and is not cancelled midway."""
    return classical_baseline(cfg, store, run_id=run_id)


def classical_baseline(config: dict | RunConfig, store: RunStore, run_id: str | None = None) -> RunRecord:
    """Train and evaluate the classical baseline for ``config``'s pair, split and seed; record it as a run."""
    from tlcore.evaluation.metrics import classification_metrics
    from tlcore.data.prepare import prepare_data
    from tlcore.evaluation.run_eval import BOOTSTRAP
    from tlcore.runs.recorder import Recorder

    cfg = config if isinstance(config, RunConfig) else RunConfig.from_dict(config)
    t0 = time.time()
    source, target, classes, split = prepare_data(cfg)
    modality = source.modality
    cfg = cfg.replace(strategy=STRATEGY, backbone=BACKBONES[modality], params={})
    rid = store.create(cfg.to_dict(), status="running", run_id=run_id)
    rec = Recorder(store, rid)
    try:
        rec.inputs(cfg.to_dict(), source, target, classes, split, {"type": "cpu", "name": "CPU (scikit-learn)"})
        index = {c: i for i, c in enumerate(classes)}

        def xs(dom, idx):
            samples = [dom.samples[i] for i in idx]
            return samples if modality == "text" else _pixels(samples)

        s_idx, t_idx = list(split.source_train), list(split.target_labeled)
        if modality == "text":
            train_x = xs(source, s_idx) + xs(target, t_idx)
        else:
            train_x = np.concatenate([xs(source, s_idx), xs(target, t_idx)]) if t_idx else xs(source, s_idx)
        train_y = [index[source.labels[i]] for i in s_idx] + [index[target.labels[i]] for i in t_idx]
        model = _model(modality, cfg.seed).fit(train_x, np.array(train_y))
        metrics = {"classes": classes, "device": {"type": "cpu", "name": "CPU (scikit-learn)"},
                   "model": {"text": "TF-IDF (1-2 grams) + logistic regression",
                             "image": f"raw pixels ({PIXELS}x{PIXELS} RGB) + logistic regression"}[modality]}
        for key, dom, idx in (("source_val", source, split.source_val), ("target_test", target, split.target_test)):
            probs = np.zeros((len(idx), len(classes)))
            probs[:, model.classes_] = model.predict_proba(xs(dom, idx))
            labels = np.array([index.get(dom.labels[i], -1) for i in idx] if dom.labels is not None
                              else [-1] * len(idx), dtype=np.int64)
            lab = labels >= 0
            metrics[key] = classification_metrics(labels[lab], probs[lab], classes, n_resamples=BOOTSTRAP,
                                                  seed=cfg.seed) if lab.any() else {"n": len(idx), "unlabeled": True}
            rec.predictions(key, dom, idx, labels, probs, classes)
            if key == "source_val":
                p_sv, y_sv = probs, labels
        if len(split.target_train):  # label-free validators from outputs only (no deep features: dev/circular None)
            from tlcore.evaluation.validators import score_run

            p_tt = np.zeros((len(split.target_train), len(classes)))
            p_tt[:, model.classes_] = model.predict_proba(xs(target, list(split.target_train)))
            metrics["target_unsupervised"] = score_run(p_tt, None, p_sv, None, y_sv, seed=cfg.seed)
        rec.history([])
    except Exception as exc:
        rec.finish("failed", error=f"{type(exc).__name__}: {exc}", seconds=round(time.time() - t0, 2))
        raise
    rec.finish("completed", metrics=metrics, seconds=round(time.time() - t0, 2))
    return store.get(rid)
