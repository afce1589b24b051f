"""RELIABILITY.md item 71 (metric flood): a run with many steps per epoch logs a bounded number of progress
events (about ten per epoch plus one per epoch), so events.jsonl, the SQLite store and the pages polling them
stay small however long the run."""
import torch

from tlcore.strategies import build_strategy
from tlcore.training.loop import fit
from tests.tlcore.helpers import tiny_image_data, tiny_model


def test_item_71_progress_events_are_bounded_per_epoch_not_per_step():
    events = []
    data = tiny_image_data(n=80)
    res = fit(tiny_model(), build_strategy("scratch"), data, epochs=2, batch_size=1, lr=1e-3, weight_decay=0.0,
              device=torch.device("cpu"), seed=0, patience=0, callbacks=[events.append])
    steps = [e for e in events if e["type"] == "step"]
    assert res.steps == 160 and len([e for e in events if e["type"] == "epoch"]) == 2
    assert 2 <= len(steps) <= 2 * 12, len(steps)          # 160 steps -> at most ~11 step events per epoch
    assert steps[-1]["step"] > steps[0]["step"]           # spread over the run, not the first steps only
