"""Read-only access to one run for pages: its record, config, metrics, history, predictions, confusion data
and features, by meaning rather than by file name (the names live in :mod:`tlcore.runs.artifacts`).

Torch-free (pages import it). Heavier readers (features, which join the prediction CSVs) import numpy/pandas
when called.
"""
from __future__ import annotations

from tlcore.runs import artifacts
from tlcore.runs.csvsafe import safe_csv_bytes
from tlcore.runs.store import RunRecord, RunStore


class RunView:
    """One run of ``store``, read through the engine. Every read is lazy; ``metrics`` is read once per view."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id = store, run_id
        self._metrics: dict | None = None

    # the index row and the inputs -------------------------------------------------------------------------
    @property
    def record(self) -> RunRecord:
        return self.store.get(self.run_id)

    @property
    def config(self) -> dict:
        """The run's config dict (the index copy, same as its config file)."""
        return dict(self.record.config)

    def classes(self) -> list[str]:
        """Class names: from the metrics, else the labels file."""
        return [str(c) for c in (self.metrics().get("classes") or
                                 (self.store.read_json(self.run_id, artifacts.LABELS, {}) or {}).get("classes") or [])]

    # results -------------------------------------------------------------------------------------------
    def metrics(self) -> dict:
        """The run's metrics (``{}`` while it runs or when it failed early)."""
        if self._metrics is None:
            self._metrics = self.store.metrics(self.run_id)
        return self._metrics

    def evaluation(self, key: str = "target_test") -> dict:
        """One evaluation block of the metrics (``target_test``, ``source_val``...), ``{}`` when absent."""
        return self.metrics().get(key) or {}

    def confusion(self) -> dict | None:
        """``{"matrix", "classes"}`` of the labelled target test set, or None (no labelled target test)."""
        tt = self.evaluation("target_test")
        if not tt.get("confusion_matrix"):
            return None
        return {"matrix": tt["confusion_matrix"], "classes": tt.get("classes") or self.metrics().get("classes")}

    def events(self) -> list[dict]:
        return self.store.events(self.run_id)

    def history(self) -> list[dict]:
        """Per-epoch history, or the run's epoch events while it is still running."""
        hist = self.store.read_json(self.run_id, artifacts.HISTORY)
        if isinstance(hist, list) and hist:
            return hist
        return [e for e in self.events() if e.get("type") == "epoch"]

    def has_predictions(self, key: str = "target_test") -> bool:
        return self.store.local(self.run_id, artifacts.predictions(key)).is_file()

    def predictions_download(self, key: str = "target_test") -> bytes | None:
        """The predictions CSV of ``key`` as users download it (formula-neutralised), or None when absent."""
        path = self.store.local(self.run_id, artifacts.predictions(key))
        return safe_csv_bytes(path.read_bytes()) if path.is_file() else None

    def has_model(self) -> bool:
        """Whether the run saved a trained model (the classical baseline and failed runs do not)."""
        return self.store.local(self.run_id, artifacts.MODEL).is_file()

    # features ------------------------------------------------------------------------------------------
    def has_features(self, which: str = "after") -> bool:
        return self.store.local(self.run_id, artifacts.features(which)).is_file()

    def features_version(self, which: str = "after") -> float:
        """A number that changes when the stored features change (for caches): the file's mtime, 0 if absent."""
        p = self.store.local(self.run_id, artifacts.features(which))
        return p.stat().st_mtime if p.is_file() else 0.0

    def features(self, which: str = "after") -> dict:
        """The stored features joined with the predictions (:func:`tlcore.embeddings.load_run_features`)."""
        from tlcore.embeddings.project import load_run_features

        return load_run_features(self.store, self.run_id, which)

    def frozen_backbone(self) -> bool:
        """True when only a head was trained on a frozen backbone (features before and after are the same)."""
        return bool((self.metrics().get("embeddings") or {}).get("frozen_backbone"))
