"""The job progress panel: polls the job queue every 2 s and shows progress, live curves, errors, Cancel."""
from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from tlcore.errors import TLError
from tlcore.producers import PRODUCERS
from tlcore.evaluation.summary import batch_summary, run_outcome
from tlcore.runs.view import RunView
from ui import navigation
from ui.portfolio_card import portfolio_card, portfolio_so_far
from ui.auth import session_guard, signed_in_user
from ui.safe import md
from ui.state import get_queue, get_store
from ui.theme import PLOTLY_TEMPLATE, SOURCE_COLOR, STATUS_ICONS, TARGET_COLOR

MAX_POINTS = 2000
CANCEL_REFUSED = "tl_cancel_refused"  # dict: job id -> why this session's Cancel was refused (survives reruns)


def progress_text(snap) -> tuple[float, str]:
    """(fraction in [0, 1], one line) for a job snapshot."""
    p = snap.progress or {}
    if snap.status == "completed":
        return 1.0, "completed"
    if snap.status in ("failed", "cancelled"):
        return float(p.get("progress") or 0.0), snap.status
    if snap.status == "queued":  # the worker says why it cannot start the job yet (e.g. every GPU busy)
        return 0.0, str(p["detail"]) if p.get("type") == "waiting" and p.get("detail") else "waiting for the worker"
    parts = []
    if p.get("candidate_index"):  # an "auto" portfolio: which of its recipes is training (tlcore/portfolio.py)
        parts.append(f"recipe {p['candidate_index']}/{p.get('candidates', '?')} ({p.get('candidate')})")
    if p.get("phase") and p.get("type") == "phase":
        parts.append(str(p["phase"]) + (f" ({p['detail']})" if p.get("detail") else ""))
    if p.get("epoch") is not None:
        parts.append(f"epoch {p['epoch']}/{p.get('epochs', '?')}")
    if p.get("step") is not None:
        parts.append(f"step {p['step']}/{p.get('total_steps', '?')}")
    if p.get("eta_s") is not None:
        parts.append(f"ETA {_duration(p['eta_s'])}")
    if snap.cancel_requested:
        parts.append("cancelling…")
    frac = p.get("progress") if p.get("type") in ("step", "epoch", "phase") else 0.0  # phases: e.g. caching features
    return min(1.0, max(0.0, float(frac or 0.0))), " · ".join(parts) or "starting"


def epoch_curves(events: list[dict]) -> dict:
    """Per-epoch series from run events: epoch, loss, train_acc, val_acc (downsampled)."""
    rows = [e for e in events if e.get("type") == "epoch"]
    if len(rows) > MAX_POINTS:
        step = len(rows) / MAX_POINTS
        rows = [rows[int(i * step)] for i in range(MAX_POINTS)]
    return {k: [r.get(k) for r in rows] for k in ("epoch", "loss", "train_acc", "val_acc")}


def curves_figures(curves: dict) -> tuple[go.Figure, go.Figure]:
    loss = go.Figure(go.Scatter(x=curves["epoch"], y=curves["loss"], mode="lines+markers", name="train loss",
                                line={"color": SOURCE_COLOR}))
    loss.update_layout(title="Training loss", xaxis_title="epoch", yaxis_title="loss", template=PLOTLY_TEMPLATE,
                       height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    acc = go.Figure()
    acc.add_trace(go.Scatter(x=curves["epoch"], y=curves["train_acc"], mode="lines+markers",
                             name="train accuracy (source)", line={"color": SOURCE_COLOR}))
    acc.add_trace(go.Scatter(x=curves["epoch"], y=curves["val_acc"], mode="lines+markers",
                             name="validation accuracy (source)", line={"color": TARGET_COLOR, "dash": "dot"}))
    acc.update_layout(title="Accuracy", xaxis_title="epoch", yaxis_title="accuracy", yaxis_range=[0, 1],
                      template=PLOTLY_TEMPLATE, height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.3})
    return loss, acc


RUN_KINDS = tuple(PRODUCERS)  # jobs that make a run (training, the classical baseline)


@st.fragment(run_every=2)
def jobs_panel(limit: int = 8, batch: list[str] | None = None) -> None:
    """Show the latest ``limit`` jobs of the shared queue (every user sees the same queue), after the summary
    of the ``batch`` (job ids of the last "Run all strategies") when given."""
    session_guard()  # re-check sign-in on every tick (removed user, expired session)
    queue, store = get_queue(), get_store()
    st.subheader("Jobs")
    if batch:  # read before the job list: a job finishing in between then never shows "finished" above "running"
        batch_panel(store, queue, batch)
    jobs = queue.list(limit=limit, kinds=RUN_KINDS)  # shift reports and embeddings show on their own pages
    if not jobs:
        st.caption("No jobs yet. Start a run above; it is queued and trained by the worker process.")
        return
    for snap in jobs:
        _job(queue, store, snap)


def _job(queue, store, snap) -> None:
    # the key is a stable hook for browser tests: CSS class st-key-job-<status>-<job id>
    with st.container(border=True, key=f"job-{snap.status}-{snap.job_id}"):
        head, btn = st.columns([6, 1])
        with head:
            st.text(f"{STATUS_ICONS.get(snap.status, '•')} {snap.status} · {snap.label} · {snap.job_id}")
        with btn:
            if snap.active and st.button("Cancel", key=f"cancel-{snap.job_id}", disabled=snap.cancel_requested):
                try:
                    queue.cancel(snap.job_id, actor=signed_in_user())  # owner or admin (refusals audited)
                    st.session_state.get(CANCEL_REFUSED, {}).pop(snap.job_id, None)
                except TLError as exc:  # kept in the session: the rerun below would wipe a plain st.error
                    st.session_state.setdefault(CANCEL_REFUSED, {})[snap.job_id] = str(exc)
                st.rerun(scope="fragment")
        refused = (st.session_state.get(CANCEL_REFUSED) or {}).get(snap.job_id)
        if refused:
            st.error(md(refused))
        frac, text = progress_text(snap)
        st.progress(frac, text=text)
        if snap.status == "completed" and snap.run_id:
            _outcome(store, snap)
            portfolio_card(store, snap.run_id, snap.job_id)
        if snap.status == "running" and snap.run_id and (snap.progress or {}).get("candidate_index"):
            portfolio_so_far(store, snap.run_id)
        if snap.status == "failed":
            st.error("Failed: " + md((snap.error or 'no error message recorded').splitlines()[0][:500]))
            with st.expander("Error details and log tail"):
                st.code(snap.error or "", language=None)
                st.code(_tail(queue, snap.job_id) or "(empty log)", language=None)
        if snap.run_id and snap.status in ("running", "completed", "failed"):
            curves = epoch_curves(_events(store, snap.run_id))
            if curves["epoch"]:
                with st.expander("Loss and accuracy", expanded=snap.status == "running"):
                    loss, acc = curves_figures(curves)
                    c1, c2 = st.columns(2)
                    c1.plotly_chart(loss, width="stretch", key=f"loss-{snap.job_id}")
                    c2.plotly_chart(acc, width="stretch", key=f"acc-{snap.job_id}")


def _outcome(store, snap) -> None:
    """The "what happened" line of a finished job: target accuracy with its interval (or the label-free scores
    of an unlabeled target), the time taken, and a link to the run on Compare."""
    seconds = (snap.finished - snap.started) if snap.finished and snap.started else None
    try:
        line = run_outcome(RunView(store, snap.run_id).metrics(), seconds)["text"]
    except TLError:
        return
    c1, c2 = st.columns([4, 1])
    c1.text(line)
    with c2:
        compare_link(snap.run_id)


def compare_link(run_id: str) -> None:
    compare = navigation.page("compare")
    if compare is None:  # a page run on its own (no st.navigation): no page to link to
        st.caption(f"Run {md(run_id)} on Compare")
        return
    st.page_link(compare, label="Open on Compare", icon=":material/leaderboard:", query_params={"run": run_id})


def batch_panel(store, queue, job_ids: list[str]) -> None:
    """Progress of the last "Run all strategies" batch, and its summary once every job has finished."""
    snaps = []
    for job_id in job_ids:
        try:
            snaps.append(queue.get(job_id))
        except TLError:
            continue
    if not snaps:
        return
    with st.container(border=True, key="batch-summary"):
        active = [s for s in snaps if s.active]
        if active:
            st.text(f"Batch of {len(snaps)} strategies: {len(snaps) - len(active)} finished, {len(active)} to go. "
                    "A summary appears here when all have finished.")
            return
        summary = cached_batch_summary(str(store.root), tuple(s.run_id for s in snaps if s.run_id))
        st.markdown("**Batch finished**")
        st.text(summary["text"])


@st.cache_data(show_spinner="Summarising the batch…", max_entries=8)
def cached_batch_summary(root: str, run_ids: tuple) -> dict:
    from tlcore.runs.store import RunStore

    return batch_summary(RunStore(root), list(run_ids))


def _events(store, run_id: str) -> list[dict]:
    try:
        return RunView(store, run_id).events()
    except TLError:
        return []


def _tail(queue, job_id: str) -> str:
    try:
        return queue.log_tail(job_id, 3000)
    except TLError:
        return ""


def _duration(s) -> str:
    s = int(float(s))
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"
