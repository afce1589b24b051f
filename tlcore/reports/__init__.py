"""Shareable outputs of runs: the reproducibility card and the self-contained HTML report."""
