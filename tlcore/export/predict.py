"""Predicting with a model artifact: inputs -> the preprocessing recorded in ``model.json`` -> probabilities.

Preprocessing is the training code's own (``encode_for`` and its batches), with the
sizes and statistics the artifact records, so a prediction here equals the model's output on the same sample in
training. Inference runs in fp32 (no autocast).
"""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np

from tlcore.errors import DataError, TLError
from tlcore.export.inputs import Inputs, read_inputs, read_inputs_limited
from tlcore.models.io import LoadedModel, load_model, load_run_model
from tlcore.runs.csvsafe import safe_cell

TOP_K = 3


class Predictor:
    """A loaded model plus its preprocessing. Thread-compatible (no shared mutable state besides the model)."""

    def __init__(self, loaded: LoadedModel):
        self.model = loaded.model
        self.meta = loaded.meta
        self.classes = loaded.classes
        self.modality = loaded.modality
        self.pre = self.meta["preprocessing"]

    @classmethod
    def from_folder(cls, folder) -> "Predictor":
        return cls(load_model(folder))

    @classmethod
    def from_run(cls, store, run_id: str) -> "Predictor":
        return cls(load_run_model(store, run_id))

    def read(self, spec: str, text_column: str | None = None, work_root: Path | None = None) -> Inputs:
        """The inputs of ``spec``; with ``work_root`` (a data root) a file or folder is read in the limited parse
        child (:func:`~tlcore.export.inputs.read_inputs_limited`)."""
        side = int(self.pre.get("decode_max_side", 256))
        if work_root is not None:
            return read_inputs_limited(spec, self.modality, text_column, side, work_root)
        return read_inputs(spec, self.modality, text_column, side)

    def encode(self, samples: list):
        from tlcore.training.batches import encode_for

        labels = np.full(len(samples), -1)
        bb = self.model.backbone
        if self.modality == "image":  # the preprocessing stored with the model, not today's backbone defaults
            return encode_for(bb, samples, labels, image_size=self.pre["image_size"], mean=self.pre["mean"],
                              std=self.pre["std"])
        bad = [i for i, s in enumerate(samples) if not isinstance(s, str)]
        if bad:
            raise DataError(f"input {bad[0] + 1}: a text model needs text, got {type(samples[bad[0]]).__name__}")
        return encode_for(bb, samples, labels, max_length=self.pre["max_length"])

    def logits(self, samples: list, batch_size: int = 32) -> np.ndarray:
        """fp32 logits ``(N, C)`` in input order."""
        import torch

        enc = self.encode(samples)
        n = len(enc)
        out = np.zeros((n, len(self.classes)), dtype=np.float32)
        lengths = enc.lengths()
        order = np.argsort(lengths, kind="stable") if lengths is not None else np.arange(n)
        self.model.eval()
        with torch.inference_mode():
            for i in range(0, n, batch_size):
                idx = order[i:i + batch_size]
                x = enc.batch(idx, torch.device("cpu"))
                if self.modality == "image":
                    x = x.contiguous()
                out[idx] = self.model(x)[1].float().numpy()
        return out

    def predict_proba(self, samples: list, batch_size: int = 32) -> np.ndarray:
        return softmax(self.logits(samples, batch_size))

    def top(self, probs: np.ndarray, k: int = TOP_K) -> list[list[tuple[str, float]]]:
        k = max(1, min(k, len(self.classes)))
        idx = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        return [[(self.classes[j], float(p[j])) for j in row] for row, p in zip(idx, probs)]


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def prediction_rows(names: list, top: list[list[tuple[str, float]]]) -> tuple[list[str], list[list]]:
    """CSV header and rows: ``input, predicted, probability, top2, top2_probability, ...``."""
    k = len(top[0]) if top else 1
    header = ["input", "predicted", "probability"]
    for r in range(2, k + 1):
        header += [f"top{r}", f"top{r}_probability"]
    rows = []
    for name, t in zip(names, top):
        row = [name, t[0][0], round(t[0][1], 6)]
        for c, p in t[1:]:
            row += [c, round(p, 6)]
        rows.append(row)
    return header, rows


def write_csv_atomic(out: Path, header: list[str], rows: list[list]) -> None:
    from tlcore.models.io import write_atomic

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([safe_cell(c) for c in header])
    w.writerows([[safe_cell(c) for c in r] for r in rows])  # no spreadsheet formulas from input text
    write_atomic(out, buf.getvalue().encode("utf-8"))


def predict_to_csv(store, run_id: str, spec: str, out, text_column: str | None = None, top_k: int = TOP_K,
                   batch_size: int = 32, force: bool = False) -> dict:
    """``python -m tlcore predict``: every input of ``spec`` through run ``run_id``'s artifact into ``out``.

    The output is written only when every input was read and predicted (temporary file + rename). An existing
    ``out`` is refused unless ``force``; one inside the data root always (:mod:`tlcore.runs.outputs`).
    """
    from tlcore.runs.outputs import check_output

    out = check_output(out, force=force, root=store.root)
    check_output(out, force=force)  # TL_HOME too, when the store lives elsewhere
    if not out.parent.is_dir():
        raise TLError(f"--out {out}: folder {out.parent} does not exist")
    return predict_into(store, run_id, spec, out, text_column, top_k, batch_size)


def predict_into(store, run_id: str, spec: str, out: Path, text_column: str | None = None, top_k: int = TOP_K,
                 batch_size: int = 32) -> dict:
    """The predictions themselves, written to ``out`` once the path was checked: by :func:`predict_to_csv` for a
    user's ``--out``, or chosen by TL Studio (a ``predict`` job's own output folder, :mod:`tlcore.export.job_kinds`)."""
    t0 = time.perf_counter()
    pred = Predictor.from_run(store, run_id)
    t_load = time.perf_counter() - t0
    inputs = pred.read(spec, text_column, work_root=store.root)  # a file or folder: in the limited parse child
    t1 = time.perf_counter()
    probs = pred.predict_proba(inputs.samples, batch_size)
    t_pred = time.perf_counter() - t1
    header, rows = prediction_rows(inputs.names, pred.top(probs, top_k))
    write_csv_atomic(out, header, rows)
    counts = {}
    for r in rows:
        counts[r[1]] = counts.get(r[1], 0) + 1
    return {"run_id": run_id, "out": str(out), "n": len(rows), "modality": pred.modality, "predicted": counts,
            "seconds_load": round(t_load, 3), "seconds_predict": round(t_pred, 3)}
