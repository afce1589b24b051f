"""Embeddings of a finished run: 2-D/3-D projections of its features and domain-gap measures.

``f_s``/``f_t`` are source/target feature matrices of shape ``(N, D)``. Everything here is numpy and
scikit-learn only (no torch, no streamlit); features come from ``features_after.npz`` (the trained model) and ``features_before.npz`` (the backbone before
training) in the run folder; ``extract`` (torch, imported lazily) writes them.
"""
from tlcore.embeddings.gap import (coral_distance, centroid_distances, domain_gap, gap_figures, mmd_rbf,
                                   proxy_a_distance, run_domain_gap, run_gap)
from tlcore.embeddings.project import (DEFAULT_PARAMS, PROJECTIONS, FeaturesMissing, has_features,
                                       load_run_features, nearest, project, projection_cached, run_projection)

__all__ = ["DEFAULT_PARAMS", "PROJECTIONS", "FeaturesMissing", "centroid_distances", "coral_distance",
           "domain_gap", "gap_figures", "has_features", "load_run_features", "mmd_rbf", "nearest", "project",
           "projection_cached", "proxy_a_distance", "run_domain_gap", "run_gap", "run_projection"]
