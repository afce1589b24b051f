"""Embeddings of a finished run: 2-D/3-D projections of its features and domain-gap measures.

``f_s``/``f_t`` are source/target feature matrices of shape ``(N, D)``. Everything here is numpy and
scikit-learn only (no torch, no streamlit); features come from ``features_after.npz`` in the run folder.
"""
from tlcore.embeddings.gap import domain_gap, mmd_rbf, proxy_a_distance, run_domain_gap
from tlcore.embeddings.project import PROJECTIONS, load_run_features, project, run_projection

__all__ = ["PROJECTIONS", "domain_gap", "load_run_features", "mmd_rbf", "project", "proxy_a_distance",
           "run_domain_gap", "run_projection"]
