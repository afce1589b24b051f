"""Text adaptation in the fine-tuned regime: MiniLM-L6 trained end to end, source-only vs adaptation.

    .venv/bin/python bench/adaptation_text.py [--seeds 0 1 2] [--strategies fine_tuning mcc]

The frozen-feature regime of bench/adaptation.py leaves the sentence encoder as it is, and there no method
moves the review pairs (see adaptation.md). Here the whole encoder fine-tunes (backbone lr = lr x 0.1), as
a user adapting a text model would run it: 1000 reviews per domain (500 target-test, 500 unlabeled
target-train), max length 128, 3 epochs, batch 32, lr 1e-3, target unlabeled. About 4 minutes per
source-only run and 8 per adaptation run on the 2-core CPU. Writes bench/results/adaptation_text_full.md
(with .json), then appends the settings and bench/results/adaptation_text_findings.md.
"""
from __future__ import annotations

from pathlib import Path

from transfer import append_notes, run_bench, wrapper_args

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    a = wrapper_args(["fine_tuning", "mcc"], ["books_kitchen", "kitchen_books"])
    out = ROOT / "bench" / "results" / "adaptation_text_full.md"
    run_bench(["--strategies", *a.strategies, "--pairs", *a.pairs, "--seeds", *a.seeds, "--max", "1000",
               "--out", str(out)], a.store, a.report_only)
    lines = ["", "Settings (the fine-tuned regime, texts): MiniLM-L6 fine-tuned end to end (backbone lr = lr x 0.1), "
             "max length 128, 3 epochs, batch 32, AdamW lr 1e-3, early stopping on source validation, 1000 reviews "
             "per domain (500 target-test, 500 unlabeled target-train), labeled_fraction 0, default trade-offs "
             "(MCC: trade-off 1, temperature 2.5). Command: `.venv/bin/python bench/adaptation_text.py`."]
    append_notes(out, lines, ROOT / "bench" / "results" / "adaptation_text_findings.md")


if __name__ == "__main__":
    main()
