"""Compare's default selection, the HTML report's run column, `tlcore runs` / `show` output, tiny p-values
(issue 16, item 5)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

from tlcore.__main__ import main
from tlcore.reports.html import build_report
from tlcore.runs.store import RunStore
from ui.run_table import default_selection, paired_frame, runs_frame

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_runs import make_run  # noqa: E402


def rec(i, modality, acc, pair=("a", "b")):
    return SimpleNamespace(run_id=f"r{i}", name="", status="completed", strategy="s", backbone="b", source=pair[0],
                           target=pair[1], modality=modality, seed=0, created=1000.0 + i, finished=None, seconds=1.0,
                           target_acc=acc, target_f1=acc, source_acc=acc, error=None, config={})


def test_default_selection_keeps_one_modality_and_the_best_run():
    records = [rec(9, "image", 0.50), rec(8, "text", 0.99, ("books", "kitchen")), rec(7, "image", 0.52),
               rec(6, "image", 0.51), rec(5, "image", 0.53), rec(4, "image", 0.90), rec(3, "text", 0.7)]
    df = runs_frame(records)
    chosen = default_selection(df)
    assert "r4" in chosen and "r9" in chosen and len(chosen) == 4           # the newest and the best
    assert all(df.at[r, "modality"] == "image" for r in chosen)             # no text run beside image runs
    focus = default_selection(df, focus="r3")
    assert focus[:2] == ["r8", "r3"] and len(focus) == 2                     # opened from a text run's card


def test_report_has_one_run_column(tl_home):
    store = RunStore(tl_home)
    a = make_run(store, name="probe", truth_seed=1)
    b = make_run(store, name="", seed=1, truth_seed=1)
    html = build_report(store, [a, b], n_resamples=50)
    assert "<th>run id</th>" not in html and f"probe ({a})" in html and f"<td>{b}</td>" in html


def test_runs_does_not_cut_the_pair_and_show_is_readable(tl_home, capsys):
    store = RunStore(tl_home)
    rid = make_run(store, source="demo:digits-source-long-name", target="demo:digits-target-long-name")
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert "demo:digits-source-long-name -> demo:digits-target-long-name" in out
    assert main(["show", rid]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") > 20 and max(len(line) for line in out.splitlines()) < 400
    assert "`show --json` prints them" in out
    assert main(["show", rid, "--json"]) == 0
    line = capsys.readouterr().out.strip()
    assert "\n" not in line and json.loads(line)["metrics"]["target_test"]["roc_curve"]


def test_tiny_p_value_is_written_below_1e300():
    result = {"mcnemar": {"b": 0, "c": 900, "p_value": 4.8e-318},
              "accuracy": {"diff": 0.9, "ci": [0.88, 0.92], "a": 0.05, "b": 0.95, "n_resamples": 10, "p_value": 0.0},
              "f1_macro": {"diff": 0.9, "ci": [0.88, 0.92], "a": 0.05, "b": 0.95, "n_resamples": 10, "p_value": None}}
    assert list(paired_frame(result)["p-value"]) == ["< 1e-300", "< 1e-300", "–"]
