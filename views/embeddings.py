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
from ui.embedding_plan import COMPARE, MODES, Panel, chart_panels, linked_selection, missing_notice
from ui.embedding_plan import run_labels, run_names, split_missing
from ui.auth import require_sign_in, session_guard, signed_in_user
from ui.job_cancel import cancel_job_button
from ui.safe import md
from ui.state import ensure_worker_once, get_store

METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
SEL = "emb-selection"
SIGS = "emb-selection-sigs"  # chart key -> the selection event seen last (a repeated event is not a new selection)
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
    events = {}
    for key in CHARTS:
        ev = st.session_state.get(key)
        try:
            events[key] = view.selected_ids(ev.selection.points) if ev else []
        except AttributeError:
            events[key] = []
    sigs = st.session_state.setdefault(SIGS, {})
    st.session_state[SEL] = linked_selection(st.session_state.get(SEL, []), events, sigs)
    return st.session_state[SEL]


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


def controls() -> tuple[str, str, int, int, dict]:
    """(projection method, colour by, dimensions, max points per chart, projection parameters)."""
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
    return method, color_by, dim, int(cap), projection_params(method, given)


def other_run(run_id: str, labels: dict) -> str | None:
    """The run to show next to this one (compare mode), or None (before vs after)."""
    if st.radio("View", MODES, horizontal=True) != COMPARE:
        return None
    others = [r for r in labels if r != run_id]
    if not others:
        st.info("Only one completed run: train another (e.g. a source-only baseline) to compare.")
        return None
    return st.selectbox("Other run", others, format_func=labels.get,
                        help="Shown after training, next to this run's after-training features; samples are "
                             "matched by position when both runs share the same split.")


def gap_section(store, run_id: str) -> None:
    """The domain gap before and after training."""
    gap = gap_for(str(store.root), run_id, mtime(store, run_id, "before") + mtime(store, run_id, "after"))
    st.subheader("Domain gap")
    st.dataframe(view.gap_table(gap), hide_index=True, width="stretch", column_config={
        "before training": st.column_config.NumberColumn(format="%.4g"),
        "after training": st.column_config.NumberColumn(format="%.4g"),
        "change": st.column_config.NumberColumn(format="%+.3g")})
    st.caption("Source-val vs target-test features. MMD²: kernel two-sample statistic (0 = same distribution). "
               "Proxy A-distance: 2·(1 − 2·error) of a logistic-regression domain classifier, 5-fold CV (0: "
               "indistinguishable, 2: separable). CORAL: ‖C_s − C_t‖²_F / 4d². Centroid: distance between the "
               "source and target centre of each class, relative to the feature spread. Lower is a smaller gap.")
    if RunView(store, run_id).frozen_backbone():
        st.info("This run trained only a head on a frozen backbone: the features before and after are the same, "
                "so the gap does not change. Adaptation shows in runs that train the backbone.")


def ready_panels(store, panels: list[Panel], names: dict, method: str, dim: int, params: dict) -> list[Panel]:
    """The panels that can be drawn now; for the others, what is missing and the button that computes it (a
    background job of the run that lacks it)."""
    ready, missing = split_missing(panels, lambda rid, which: RunView(store, rid).has_features(which))
    launched = set()
    for panel in missing:
        message, extractable = missing_notice(panel, names)
        st.warning(message)  # md-safe: missing_notice escapes the run name
        if extractable and panel.run_id not in launched:
            launch_button(store, panel.run_id, "Extract before-training features", method, dim, params)
            launched.add(panel.run_id)  # the same background command also computes this projection
    uncached = [p for p in ready if method not in FAST
                and not projection_cached(store, p.run_id, method, dim, 0, p.which, **params)]
    if uncached:
        st.info(f"The {METHOD_NAMES[method]} projection with these settings is not computed yet "
                f"({md(', '.join(p.title for p in uncached))}). It takes from seconds to minutes on a CPU.")
        for rid in dict.fromkeys(p.run_id for p in uncached if p.run_id not in launched):
            launch_button(store, rid, f"Compute {METHOD_NAMES[method]} for {names[rid]}", method, dim, params)
    return [p for p in ready if p not in uncached]


def projected_frames(store, run_id: str, after: dict, panels: list[Panel], method: str, dim: int,
                     params: dict) -> list[tuple]:
    """(title, points frame, explained variance) per panel, the other run's points matched to this run's ids."""
    root = str(store.root)
    frames = []
    for p in panels:
        version = mtime(store, p.run_id, p.which)
        data = after if (p.run_id, p.which) == (run_id, "after") else features_for(root, p.run_id, p.which, version)
        coords, ev = projection_for(root, p.run_id, p.which, method, dim, tuple(sorted(params.items())), version)
        df = view.points_frame(data, coords)
        if p.run_id != run_id:  # match the other run's points to this run's ids by (domain, row)
            df["pid"] = match_point_ids(after, data)
        frames.append((p.title, df, ev))
    return frames


def charts(frames: list[tuple], selection: list[int], color_by: str, method: str, dim: int, cap: int) -> None:
    density = False
    if frames and dim == 2:
        n_pts = max(len(df) for _, df, _ in frames)
        density = st.toggle("Density contours instead of points", value=False,
                            help=f"For large sets ({n_pts:,} points here): the shape of each domain's cloud.")
    name = METHOD_NAMES.get(method, method)
    for col, key, (title, df, ev) in zip(st.columns(max(len(frames), 1)), CHARTS, frames):
        shown = view.cap_points(df, cap)
        fig = view.embedding_figure(shown, color_by=color_by, title=f"{title}: {name}", method=name,
                                    explained_variance=ev, highlight=selection, density=density, dim=dim)
        with col:
            st.plotly_chart(fig, key=key, on_select="rerun", selection_mode=("points", "box", "lasso"),
                            width="stretch")
            st.caption(f"{len(shown):,} of {len(df):,} points (● source, ◆ target)")
    if frames:
        st.caption("Select points (click, box or lasso) in either chart: the same samples are highlighted in both. "
                   "Hover a point for its true and predicted class, confidence and sample.")


def selection_section(record, after: dict, selection: list[int]) -> None:
    """The selected samples, and the source samples nearest to the first selected target sample."""
    points = view.points_frame(after, np.zeros((len(after["index"]), 2)))
    chosen = points[points["pid"].isin(selection)]
    st.subheader(f"Selected samples ({len(chosen):,})")
    if st.button("Clear selection"):
        st.session_state[SEL] = []
        st.rerun()
    st.dataframe(samples_table(chosen), hide_index=True, width="stretch", height=min(400, 40 + 35 * len(chosen)))
    if record.modality == "image":
        thumbnails(record, chosen)
    targets = chosen[chosen["domain"] == "target"]
    if targets.empty:
        return
    q = int(targets["pid"].iloc[0])
    rows, sims = nearest(after["features"], q, points.index[points["domain"] == "source"].to_numpy(), k=8)
    nn = points.loc[rows].assign(similarity=np.round(sims, 4))
    st.markdown(f"**Nearest source samples** to target row {int(points.loc[q, 'index'])} "
                f"(true {md(points.loc[q, 'label'])}, predicted {md(points.loc[q, 'pred'])}), cosine similarity in "
                "the after-training feature space")
    st.dataframe(samples_table(nn).assign(similarity=nn["similarity"].to_numpy()), hide_index=True, width="stretch")
    if record.modality == "image":
        thumbnails(record, nn)


def render() -> None:
    """The Embeddings page: one run's features before and after training, or next to another run's."""
    require_sign_in()  # also here: a page run on its own (AppTest, `streamlit run views/<page>.py`)
    st.title("Embeddings")
    store = get_store()
    runs = store.list(status="completed")
    if not runs:
        st.info("No completed runs yet. Train a model on the **Train** page to see its feature space here.")
        st.stop()
    labels, names, records = run_labels(runs), run_names(runs), {r.run_id: r for r in runs}
    run_id = st.selectbox("Run", list(labels), format_func=labels.get, help="Completed runs, newest first.")
    if st.session_state.get("emb-run") != run_id:  # a new run: its point ids mean other samples
        st.session_state["emb-run"] = run_id
        st.session_state[SEL] = []
    method, color_by, dim, cap, params = controls()
    other_id = other_run(run_id, labels)
    try:
        after = features_for(str(store.root), run_id, "after", mtime(store, run_id, "after"))
    except TLError as exc:
        st.warning(f"This run has no stored features to project: {md(exc)}")
        st.stop()
    gap_section(store, run_id)
    panels = ready_panels(store, chart_panels(run_id, other_id, labels.get(other_id, "")), names, method, dim,
                          params)
    frames = projected_frames(store, run_id, after, panels, method, dim, params)
    selection = current_selection()
    charts(frames, selection, color_by, method, dim, cap)
    if selection:
        selection_section(records[run_id], after, selection)


if __name__ == "__main__":  # run as a script: AppTest.from_file, `streamlit run views/<page>.py`
    render()
