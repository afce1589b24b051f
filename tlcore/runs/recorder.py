"""The one writer of a run's artifacts: every file in a run folder goes through :class:`Recorder`.

A recorder is bound to ``(store, run_id)``. The composition root (:mod:`tlcore.pipeline`), the classical
baseline and compression record runs through it, so the file names and formats live in one place:

``split.json``, ``labels.json``, ``domains.json``, ``repro.json``, ``history.json``,
``predictions_<key>.csv``, ``features_after.npz``, ``features_before.npz``, ``model.safetensors`` +
``model.json`` (:func:`tlcore.models.io.save_model`) and ``metrics.json`` (through the store's ``finish``).

Prediction CSVs stored in run folders keep the original text (the engine reads them back); the
formula-neutralised copy (:mod:`tlcore.runs.csvsafe`) is made when users download or export them.
"""
from __future__ import annotations

import io

import numpy as np

from tlcore.runs import artifacts
from tlcore.runs.store import RunStore


class Recorder:
    """Writes the artifacts of run ``run_id`` in ``store``."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id

    # inputs ---------------------------------------------------------------------------------------------
    def split(self, split) -> None:
        self.store.write_json(self.run_id, artifacts.SPLIT, split.to_dict())

    def labels(self, classes: list[str]) -> None:
        self.store.write_json(self.run_id, artifacts.LABELS, {"classes": classes})

    def domains(self, source, target) -> dict:
        domains = {"source": source.summary(), "target": target.summary(),
                   "source_fingerprint": source.fingerprint(), "target_fingerprint": target.fingerprint()}
        self.store.write_json(self.run_id, artifacts.DOMAINS, domains)
        return domains

    def repro(self, config: dict, domains: dict, split, device: dict) -> None:
        from tlcore.reports.repro import repro_card

        self.store.write_json(self.run_id, artifacts.REPRO, repro_card(config, domains, split.to_dict(), device))

    def inputs(self, config: dict, source, target, classes, split, device: dict) -> None:
        """Modality, split, labels, domains and the reproducibility card, before training."""
        self.store.update(self.run_id, modality=source.modality)
        self.split(split)
        self.labels(classes)
        self.repro(config, self.domains(source, target), split, device)

    def copy_inputs(self, parent_id: str) -> None:
        """A derived run (e.g. compression) shares its parent's split, labels, domains and card."""
        for name in artifacts.INPUTS:
            obj = self.store.read_json(parent_id, name)
            if obj is not None:
                self.store.write_json(self.run_id, name, obj)

    def adopt(self, run_id: str) -> None:
        """An ``auto`` portfolio run (:mod:`tlcore.portfolio`) becomes a copy of the candidate it picked: every file
        of ``run_id`` except its config and progress log (model, predictions, features, history, inputs)."""
        src = self.store.folder(run_id)
        for f in sorted(src.iterdir()) if src.is_dir() else []:
            if f.is_file() and f.name not in (artifacts.CONFIG, artifacts.EVENTS, artifacts.METRICS):
                self.store.write_bytes(self.run_id, f.name, f.read_bytes())

    # outputs --------------------------------------------------------------------------------------------
    def history(self, history: list) -> None:
        self.store.write_json(self.run_id, artifacts.HISTORY, history)

    def predictions(self, key: str, dom, idx, labels, probs, classes: list[str]) -> None:
        """``predictions_<key>.csv``: index, source, (text), true, pred, confidence, p_<class>..."""
        import pandas as pd

        df = pd.DataFrame({"index": list(idx), "source": [dom.sources[i] for i in idx],
                           "true": [classes[y] if y >= 0 else "" for y in labels],
                           "pred": [classes[p] for p in probs.argmax(1)], "confidence": probs.max(1).round(5)})
        if dom.modality == "text":
            df.insert(2, "text", [dom.samples[i][:300] for i in idx])
        for j, c in enumerate(classes):
            df[f"p_{c}"] = probs[:, j].round(5)
        buf = io.StringIO()
        df.to_csv(buf, index=False)
        self.store.write_bytes(self.run_id, artifacts.predictions(key), buf.getvalue().encode("utf-8"))

    def features(self, features: dict, when: str = "after") -> None:
        """``features_after.npz`` / ``features_before.npz``: ``{key: {features, labels, index}}`` flattened to
        ``<key>.<field>`` arrays, features as float16 (read back by
        :func:`tlcore.embeddings.project.load_features_npz`)."""
        name = artifacts.features(when)  # ValueError unless "after" or "before"
        buf = io.BytesIO()
        arrays = {f"{key}.{k}": np.asarray(v, dtype=np.float16) if k == "features" else np.asarray(v)
                  for key, d in features.items() for k, v in d.items()}
        np.savez_compressed(buf, **arrays)
        self.store.write_bytes(self.run_id, name, buf.getvalue())

    def model(self, model, cfg, classes: list[str], extra: dict | None = None) -> None:
        """``model.safetensors`` + ``model.json`` (:func:`tlcore.models.io.save_model`)."""
        from tlcore.models.io import build_meta, save_model

        meta = build_meta(model, classes, cfg.backbone, image_size=cfg.image_size, max_length=cfg.max_length,
                          extra={"run_id": self.run_id, **(extra or {})})
        save_model(self.store.folder(self.run_id), model, meta)

    def metrics(self, metrics: dict) -> None:
        """Rewrite ``metrics.json`` of a finished run (e.g. to add flags computed from the stored run)."""
        self.store.write_json(self.run_id, artifacts.METRICS, metrics)

    def finish(self, status: str, *, seconds: float, metrics: dict | None = None, error: str | None = None) -> None:
        """Record the run's end (``metrics.json``, its status; the store then publishes its files to the artifact
        store). With ``MLFLOW_TRACKING_URI`` set the run is logged to MLflow first (:mod:`tlcore.runs.tracking`)
        and the outcome is added to ``metrics`` (in place) as ``tracking``; a tracking failure is a warning."""
        from tlcore.runs import tracking

        outcome = tracking.track(self.store, self.run_id, status, metrics=metrics, error=error)
        if outcome is not None and metrics is not None:
            metrics["tracking"] = outcome
        self.store.finish(self.run_id, status, metrics=metrics, error=error, seconds=seconds)
