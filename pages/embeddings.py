"""Embeddings: a completed run's source and target features after training, projected to 2-D, plus the
domain gap (MMD and proxy A-distance) between them."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from tlcore.embeddings import PROJECTIONS, load_run_features, run_domain_gap, run_projection
from tlcore.errors import TLError
from tlcore.runs.store import RunStore, default_root
from ui import charts

try:
    from ui.state import get_store
except ImportError:  # ui.state not importable yet: keep a cached handle of our own
    @st.cache_resource(show_spinner=False)
    def _store(root: str) -> RunStore:
        return RunStore(root)

    def get_store() -> RunStore:
        return _store(str(default_root()))

METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
COLOR_BY = {"domain": "Domain", "label": "True class", "pred": "Predicted class"}


@st.cache_data(show_spinner="Projecting features…", max_entries=32)
def points_for(root: str, run_id: str, method: str, params: tuple) -> tuple[pd.DataFrame, list | None]:
    """Projected points of one run as a DataFrame (cached here and, by the engine, in the run folder)."""
    store = RunStore(root)
    data = load_run_features(store, run_id)
    proj = run_projection(store, run_id, method=method, dim=2, seed=0, **dict(params))
    df = pd.DataFrame({"x": proj["coords"][:, 0], "y": proj["coords"][:, 1],
                       **{k: data[k] for k in ("domain", "label", "pred", "confidence", "sample", "index")}})
    return df, proj["explained_variance"]


@st.cache_data(show_spinner="Measuring the domain gap…", max_entries=32)
def gap_for(root: str, run_id: str) -> dict:
    return run_domain_gap(RunStore(root), run_id)


def cap_points(df: pd.DataFrame, cap: int, seed: int = 0) -> pd.DataFrame:
    """At most ``cap`` points, sampled per domain in proportion to its size."""
    if len(df) <= cap:
        return df
    rng = np.random.default_rng(seed)
    keep = [rng.choice(part.index.to_numpy(), max(1, round(cap * len(part) / len(df))), replace=False)
            for _, part in df.groupby("domain")]
    return df.loc[np.sort(np.concatenate(keep))]


st.title("Embeddings")
store = get_store()
runs = store.list(status="completed")
if not runs:
    st.info("No completed runs yet. Train a model on the **Train** page to see its feature space here.")
    st.stop()

labels = {r.run_id: f"{r.name or r.run_id} · {r.source} → {r.target} · {r.strategy} · {r.backbone}" for r in runs}
run_id = st.selectbox("Run", list(labels), format_func=labels.get, help="Completed runs, newest first.")
c1, c2, c3 = st.columns(3)
method = c1.selectbox("Projection", list(PROJECTIONS), format_func=lambda m: METHOD_NAMES.get(m, m),
                      help="PCA is exact and fast; t-SNE shows local neighbourhoods (slower). "
                           "UMAP appears when the umap-learn package is installed.")
color_by = c2.selectbox("Colour by", list(COLOR_BY), format_func=COLOR_BY.get)
cap = c3.number_input("Max points shown", min_value=100, max_value=10_000, value=2_000, step=100)
params = ()
if method == "tsne":
    params = (("perplexity", float(st.slider("t-SNE perplexity", 5, 50, 30))), ("max_iter", 500))
    st.caption("t-SNE takes about 10–40 s on a CPU for a few thousand points; the result is cached with the run.")

root = str(store.root)
try:
    points, explained = points_for(root, run_id, method, params)
except TLError as exc:
    st.warning(f"This run has no stored features to project: {exc}")
    st.stop()

gap = gap_for(root, run_id)
m1, m2, m3 = st.columns(3)
m1.metric("MMD² (RBF kernel)", f"{gap['mmd']:.4f}",
          help="Squared maximum mean discrepancy between source-val and target-test features, RBF kernel with "
               "the median-heuristic bandwidth. 0 means the two feature distributions match.")
m2.metric("Proxy A-distance", f"{gap['proxy_a_distance']:.2f}",
          help="2·(1 − 2·error) of a logistic-regression classifier told to separate source from target "
               "features (5-fold CV). 0: indistinguishable; 2: perfectly separable.")
m3.metric("Points", f"{min(len(points), int(cap)):,} of {len(points):,}",
          help=f"{gap['n_source']:,} source-val and {gap['n_target']:,} target-test samples stored with the run.")

shown = cap_points(points, int(cap))
name = METHOD_NAMES.get(method, method)
st.plotly_chart(charts.embedding_scatter(
    shown, color_by=color_by, explained_variance=explained, method=name,
    title=f"Features after training: {name} of source (●) and target (◆)"))
st.caption("Projection of the penultimate-layer features. Hover a point for its true and predicted class, "
           "the model's confidence and the sample it came from.")
