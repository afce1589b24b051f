"""Transferability: rank pretrained backbones for a labeled source domain before any training.

``scores`` holds the estimators (LogME, LEEP, N-LEEP) on plain arrays; ``ranking`` extracts each loadable
backbone's features on a sample of the source and scores them (run in a background process by the dashboard).
"""
