"""Matching the points of two runs' feature tables (numpy only).

A run's feature table lists its source validation rows, then its target test rows; a point's id is its position
in that table. Two runs on the same split list the same samples, so a sample of another run is matched to this
run's point by ``(domain, index)`` (its row in the domain's predictions).
"""
from __future__ import annotations

import numpy as np


def match_point_ids(reference: dict, other: dict) -> np.ndarray:
    """For each point of ``other``, the id of the same sample in ``reference`` (both from ``load_run_features``:
    ``domain`` and ``index`` arrays). A point without a match gets a distinct negative id ``-1 - n`` (its own
    position ``n``), so it is never highlighted together with a point of ``reference``."""
    key = dict(zip(zip(reference["domain"], reference["index"]), range(len(reference["index"]))))
    return np.array([key.get((d, i), -1 - n) for n, (d, i) in enumerate(zip(other["domain"], other["index"]))],
                    dtype=np.int64)
