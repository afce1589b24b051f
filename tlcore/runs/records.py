"""A run as plain data (:class:`RunRecord`, read from a row of the index) and the errors of the run store
(:mod:`tlcore.runs.store`, which re-exports them)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tlcore.errors import TLError


@dataclass(frozen=True)
class RunRecord:
    """One row of the index, as plain data."""

    run_id: str
    name: str
    status: str
    strategy: str
    backbone: str
    source: str
    target: str
    modality: str | None
    seed: int | None
    created: float
    finished: float | None
    seconds: float | None
    target_acc: float | None
    target_f1: float | None
    source_acc: float | None
    error: str | None
    config: dict
    owner: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


RECORD_FIELDS = set(RunRecord.__dataclass_fields__)


class RunNotFound(TLError):
    """No run with that id."""


class RunBusy(TLError):
    """The run is still training; cancel it first."""


class StorageFull(TLError, OSError):
    """The data root's disk is full: nothing was half-written."""


class StoreCorrupt(TLError):
    """The SQLite index cannot be read; the message names the file and how to recover."""


def domain_label(spec: dict) -> str:
    if not isinstance(spec, dict):
        return str(spec)
    if spec.get("name"):
        return spec["name"]
    if spec.get("demo"):
        return f"demo:{spec['demo']}"
    return Path(str(spec.get("path", ""))).stem


def record_from_row(row) -> RunRecord:
    d = dict(row)
    d["config"] = json.loads(d["config"]) if d.get("config") else {}
    return RunRecord(**{k: v for k, v in d.items() if k in RECORD_FIELDS})
