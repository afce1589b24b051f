"""Embeddings: a run's source and target features before and after training, side by side with linked
selection, the domain-gap figures and their change, and a comparison with a second run on the same samples.

Heavy work never runs here: features are extracted by the pipeline (or by ``python -m tlcore embeddings``
started in its own process), and slow projections (t-SNE, UMAP) run there too; this page reads the results.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from tlcore.config import RunConfig
from tlcore.embeddings import PROJECTIONS, nearest, projection_cached, run_gap, run_projection
from tlcore.embeddings.match import match_point_ids
from tlcore.embeddings.project import projection_params
from tlcore.errors import TLError
from tlcore.jobs.light import extraction_status, launch_extraction
from tlcore.runs.store import RunStore
from tlcore.runs.view import RunView
from ui import embedding_view as view
from ui.auth import require_sign_in, session_guard, signed_in_user
from ui.job_cancel import cancel_job_button
from ui.safe import md
from ui.state import ensure_worker_once, get_store

METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
SEL = "emb-selection"
CHARTS = ("emb-chart-left", "emb-chart-right")
FAST = {"pca"}  # projections computed in the page; the others run in the background


@st.cache_data(show_spinner="Reading features…", max_entries=16)
def features_for(root: str, run_id: str, which: str, mtime: float) -> dict:
    return RunView(RunStore(root), run_id).features(which)


@st.cache_data(show_spinner="Projecting features…", max_entries=32)
def projection_for(root: str, run_id: str, which: str, method: str, dim: int, params: tuple, mtime: float):
    proj = run_projection(RunStore(root), run_id, method=method, dim=dim, seed=0, which=which, **dict(params))
    return proj["coords"], proj["explained_variance"]


@st.cache_data(show_spinner="Measuring the domain gap…", max_entries=32)
def gap_for(root: str, run_id: str, mtime: float) -> dict:
    return run_gap(RunStore(root), run_id)


@st.cache_resource(show_spinner="Loading the run's samples…", max_entries=4)
def run_samples(config_json: str):
    """The run's domains and split, rebuilt from its config (deterministic): for thumbnails only."""
    from tlcore.pipeline import prepare_data

    source, target, _, split = prepare_data(RunConfig.from_dict(json.loads(config_json)))
    return {"source": (source, split.source_val), "target": (target, split.target_test)}


def mtime(store, run_id: str, which: str) -> float:
    return RunView(store, run_id).features_version(which)


def current_selection() -> list[int]:
    """The linked selection: the latest non-empty selection made in either chart (kept until cleared)."""
    sel = st.session_state.get(SEL, [])
    for key in CHARTS:
        ev = st.session_state.get(key)
        try:
            ids = view.selected_ids(ev.selection.points) if ev else []
        except AttributeError:
            ids = []
        sig = tuple(ids)
        if st.session_state.get(f"{key}-sig") != sig:
            st.session_state[f"{key}-sig"] = sig
            if ids:
                sel = ids
    st.session_state[SEL] = sel
    return sel


@st.fragment(run_every=2)
def extraction_panel(root: str, run_id: str) -> None:
    session_guard()  # re-check sign-in on every tick (removed user, expired session)
    s = extraction_status(RunStore(root), run_id) or {}
    if s.get("status") == "running":
        st.progress(float(s.get("progress", 0)), text=f"Working in the background: {s.get('detail', '')}")
        cancel_job_button(s.get("job_id"), f"emb-cancel-{run_id}")
    elif s.get("status") == "cancelled":
        st.info("The background computation was cancelled. Press the button above to start it again.")
    elif s.get("status") == "failed":
        st.error("The background computation failed (full output: its job's log on the Train page, or extract.log "
                 "in the run folder). Press the button above to try again.")
        st.code(str(s.get("detail", "")), language=None)
    elif s.get("status") == "done" and st.session_state.get("emb-launched") == run_id:
        st.session_state.pop("emb-launched", None)
        st.rerun()  # the caches are keyed on the feature files' mtimes: the new results are read


def launch_button(store, run_id: str, label: str, method: str, dim: int, params: dict) -> None:
    status = (extraction_status(store, run_id) or {}).get("status")
    if st.button(label, key=f"emb-launch-{run_id}-{method}", disabled=status == "running", type="primary"):
        try:
            launch_extraction(store, run_id, method=method, dim=dim, params=params, owner=signed_in_user())
        except TLError as exc:
            st.error(md(exc))
            return
        ensure_worker_once()
        st.session_state["emb-launched"] = run_id
        st.rerun()
    cli = f"python -m tlcore embeddings {run_id} --method {method} --dim {dim}"
    st.caption("Queued as a job, run by the worker in its own process (progress below); the same as:")
    st.code(cli, language=None)
    if status in ("running", "failed", "cancelled") or st.session_state.get("emb-launched") == run_id:
        extraction_panel(str(store.root), run_id)


def samples_table(df: pd.DataFrame) -> pd.DataFrame:
    return df[["domain", "index", "label", "pred", "confidence", "sample"]].rename(
        columns={"index": "row", "label": "true", "pred": "predicted", "sample": "sample"})


def thumbnails(record, rows: pd.DataFrame, limit: int = 24) -> None:
    """Images of the selected samples (image runs), loaded from the run's own domains and split."""
    try:
        doms = run_samples(json.dumps(record.config, sort_keys=True))
    except (TLError, OSError, ValueError) as exc:
        st.caption(f"Thumbnails unavailable: {md(exc)}")
        return
    images, captions = [], []
    for _, r in rows.head(limit).iterrows():
        dom, positions = doms[r["domain"]]
        if dom.modality != "image" or not 0 <= int(r["index"]) < len(positions):
            continue
        images.append(dom.samples[positions[int(r["index"])]])
        captions.append(f"{r['domain']} · {r['label']} → {r['pred']}")
    if images:
        st.image(images, caption=captions, width=72)


# -- page ------------------------------------------------------------------------------------------
require_sign_in()  # also here: a fresh server may serve this file directly on its first request
st.title("Embeddings")
store = get_store()
runs = store.list(status="completed")
if not runs:
    st.info("No completed runs yet. Train a model on the **Train** page to see its feature space here.")
    st.stop()
root = str(store.root)
labels = {r.run_id: f"{r.name or r.run_id} · {r.source} → {r.target} · {r.strategy} · {r.backbone}" for r in runs}
records = {r.run_id: r for r in runs}
run_id = st.selectbox("Run", list(labels), format_func=labels.get, help="Completed runs, newest first.")
if st.session_state.get("emb-run") != run_id:  # a new run: its point ids mean other samples
    st.session_state["emb-run"] = run_id
    st.session_state[SEL] = []

c1, c2, c3, c4 = st.columns(4)
method = c1.selectbox("Projection", list(PROJECTIONS), format_func=lambda m: METHOD_NAMES.get(m, m),
                      help="PCA is exact and fast (computed here); t-SNE and UMAP show local neighbourhoods and "
                           "run in the background. UMAP appears when umap-learn is installed.")
color_by = c2.selectbox("Colour by", list(view.COLOR_BY), format_func=view.COLOR_BY.get)
dim = c3.radio("Dimensions", [2, 3], horizontal=True, format_func=lambda d: f"{d}-D")
cap = c4.number_input("Max points shown", min_value=100, max_value=40_000, value=20_000, step=500,
                      help="Per chart. All stored points are projected; at most this many are drawn.")
given = {}
if method == "tsne":
    given = {"perplexity": float(st.slider("t-SNE perplexity", 5, 50, 30))}
elif method == "umap":
    u1, u2 = st.columns(2)
    given = {"n_neighbors": int(u1.slider("UMAP neighbours", 2, 100, 15)),
             "min_dist": float(u2.slider("UMAP min_dist", 0.0, 0.99, 0.1, step=0.01))}
params = projection_params(method, given)
mode = st.radio("View", ["Before vs after training", "Compare with another run"], horizontal=True)
other_id = None
if mode == "Compare with another run":
    others = [r for r in labels if r != run_id]
    if not others:
        st.info("Only one completed run: train another (e.g. a source-only baseline) to compare.")
    else:
        other_id = st.selectbox("Other run", others, format_func=labels.get,
                                help="Shown after training, next to this run's after-training features; samples "
                                     "are matched by position when both runs share the same split.")

try:
    after = features_for(root, run_id, "after", mtime(store, run_id, "after"))
except TLError as exc:
    st.warning(f"This run has no stored features to project: {md(exc)}")
    st.stop()
frozen = RunView(store, run_id).frozen_backbone()

# the domain gap, before and after
gap = gap_for(root, run_id, mtime(store, run_id, "before") + mtime(store, run_id, "after"))
st.subheader("Domain gap")
table = view.gap_table(gap)
st.dataframe(table, hide_index=True, width="stretch", column_config={
    "before training": st.column_config.NumberColumn(format="%.4g"),
    "after training": st.column_config.NumberColumn(format="%.4g"),
    "change": st.column_config.NumberColumn(format="%+.3g")})
st.caption("Source-val vs target-test features. MMD²: kernel two-sample statistic (0 = same distribution). Proxy "
           "A-distance: 2·(1 − 2·error) of a logistic-regression domain classifier, 5-fold CV (0: "
           "indistinguishable, 2: separable). CORAL: ‖C_s − C_t‖²_F / 4d². Centroid: distance between the "
           "source and target centre of each class, relative to the feature spread. Lower is a smaller gap.")
if frozen:
    st.info("This run trained only a head on a frozen backbone: the features before and after are the same, "
            "so the gap does not change. Adaptation shows in runs that train the backbone.")

# projections
need_background = method not in FAST
views = []  # (title, run_id, which)
if mode == "Compare with another run" and other_id:
    views = [("This run, after training", run_id, "after"), (f"{labels[other_id]} (after)", other_id, "after")]
else:
    views = [("Before training", run_id, "before"), ("After training", run_id, "after")]
missing = [v for v in views if not RunView(store, v[1]).has_features(v[2])]
launched = set()
if missing:
    st.warning("This run has no before-training features yet (it predates them).")
    launch_button(store, run_id, "Extract before-training features", method, dim, params)
    launched.add(run_id)  # the same background command also computes this projection
    views = [v for v in views if v not in missing]
uncached = [v for v in views if need_background and not projection_cached(store, v[1], method, dim, 0, v[2], **params)]
if uncached:
    st.info(f"The {METHOD_NAMES[method]} projection with these settings is not computed yet "
            f"({md(', '.join(t for t, _, _ in uncached))}). It takes from seconds to minutes on a CPU.")
    for rid in dict.fromkeys(v[1] for v in uncached if v[1] not in launched):
        launch_button(store, rid, f"Compute {METHOD_NAMES[method]} for {labels[rid].split(' · ')[0]}",
                      method, dim, params)
    views = [v for v in views if v not in uncached]

frames = {}
for title, rid, which in views:
    data = after if (rid, which) == (run_id, "after") else features_for(root, rid, which, mtime(store, rid, which))
    coords, ev = projection_for(root, rid, which, method, dim, tuple(sorted(params.items())), mtime(store, rid, which))
    df = view.points_frame(data, coords)
    if rid != run_id:  # match the other run's points to this run's ids by (domain, row)
        df["pid"] = match_point_ids(after, data)
    frames[(rid, which)] = (title, df, ev)

selection = current_selection()
density = False
if frames and dim == 2:
    n_pts = max(len(df) for _, df, _ in frames.values())
    density = st.toggle("Density contours instead of points", value=False,
                        help=f"For large sets ({n_pts:,} points here): the shape of each domain's cloud.")
cols = st.columns(max(len(frames), 1))
for col, key, (title, df, ev) in zip(cols, CHARTS, frames.values()):
    shown = view.cap_points(df, int(cap))
    fig = view.embedding_figure(shown, color_by=color_by, title=f"{title}: {METHOD_NAMES.get(method, method)}",
                                method=METHOD_NAMES.get(method, method), explained_variance=ev,
                                highlight=selection, density=density, dim=dim)
    with col:
        st.plotly_chart(fig, key=key, on_select="rerun", selection_mode=("points", "box", "lasso"),
                        width="stretch")
        st.caption(f"{len(shown):,} of {len(df):,} points (● source, ◆ target)")
if frames:
    st.caption("Select points (click, box or lasso) in either chart: the same samples are highlighted in both. "
               "Hover a point for its true and predicted class, confidence and sample.")

# the selection
points = view.points_frame(after, np.zeros((len(after["index"]), 2)))
if selection:
    chosen = points[points["pid"].isin(selection)]
    st.subheader(f"Selected samples ({len(chosen):,})")
    if st.button("Clear selection"):
        st.session_state[SEL] = []
        st.rerun()
    st.dataframe(samples_table(chosen), hide_index=True, width="stretch", height=min(400, 40 + 35 * len(chosen)))
    record = records[run_id]
    if record.modality == "image":
        thumbnails(record, chosen)
    targets = chosen[chosen["domain"] == "target"]
    if not targets.empty:
        q = int(targets["pid"].iloc[0])
        rows, sims = nearest(after["features"], q, points.index[points["domain"] == "source"].to_numpy(), k=8)
        nn = points.loc[rows].assign(similarity=np.round(sims, 4))
        st.markdown(f"**Nearest source samples** to target row {int(points.loc[q, 'index'])} "
                    f"(true {md(points.loc[q, 'label'])}, predicted {md(points.loc[q, 'pred'])}), cosine similarity in "
                    "the after-training feature space")
        st.dataframe(samples_table(nn).assign(similarity=nn["similarity"].to_numpy()), hide_index=True,
                     width="stretch")
        if record.modality == "image":
            thumbnails(record, nn)
