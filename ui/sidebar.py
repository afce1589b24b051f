"""The sidebar every page shares: data root, device, job queue at a glance."""
from __future__ import annotations

import time

import streamlit as st

from tlcore.jobs.worker import restart_worker_if_dead, worker_running
from tlcore.device_probe import device_summary
from ui.auth import session_guard, sign_out_button
from ui.state import get_queue, home


@st.cache_data(ttl=30, show_spinner=False)
def _device() -> dict:
    return device_summary()


def device_line(d: dict) -> str:
    if d["gpus"]:
        return "; ".join(f"{g['name']} ({g['free_gb']} / {g['total_gb']} GB free)" for g in d["gpus"])
    return f"CPU, {d['cpu_count']} cores"


def sidebar() -> None:
    with st.sidebar:
        sign_out_button()
        st.caption("Data root (TL_HOME)")
        st.code(home(), language=None)
        st.caption("Device")
        st.text(device_line(_device()))
        _queue_glance()
        _audit_log()


@st.fragment(run_every=5)
def _queue_glance() -> None:
    session_guard()  # re-check sign-in on every tick (removed user, expired session)
    counts = get_queue().counts()
    st.caption("Job queue")
    c1, c2 = st.columns(2)
    c1.metric("Queued", counts.get("queued", 0))
    c2.metric("Running", counts.get("running", 0))
    running = worker_running(get_queue().store.root)
    if not running and restart_worker_if_dead(get_queue().store.root):  # supervision: a dead worker restarts
        running = True
        st.text("Worker: was not running; restarted")
    st.text(worker_line(running, get_queue().live_workers()))
    active = get_queue().list(active_only=True)
    for line in gpu_lines(_device(), active) + wait_lines(active):
        st.text(line)
    st.caption(WORKER_LIFECYCLE)


WORKER_LIFECYCLE = ("The worker is a separate process on purpose: it keeps training queued jobs when the "
                    "dashboard stops or restarts, and a restarted dashboard uses it again. To stop it: kill PID.")


def worker_line(running: bool, workers: list[dict], now: float | None = None) -> str:
    """One line: whether a worker serves this data root, its pid(s) and for how long."""
    if not running:
        return "Worker: not running (jobs wait; the dashboard starts one)"
    now = time.time() if now is None else now
    alive = [w for w in workers if w.get("pid")]
    if not alive:
        return "Worker: running"
    parts = [f"pid {w['pid']}" + (f", up {_ago(now - w['started'])}" if w.get("started") else "") for w in alive]
    return "Worker: running (" + "; ".join(parts) + ")"


def _audit_log() -> None:
    """Admins (or everyone when sign-in is off) see who started, cancelled or deleted what."""
    from tlcore import auth
    from tlcore.runs import audit
    from ui.auth import signed_in_user

    user = signed_in_user()  # None: sign-in is off (one operator)
    if user is not None and not auth.is_admin(user, home()):
        return
    with st.expander("Audit log"):
        rows = audit.entries(get_queue().store, 100)
        if rows:
            st.dataframe([{k: r[k] for k in ("time", "actor", "action", "object", "detail")} for r in rows],
                         hide_index=True)
        else:
            st.caption("Nothing recorded yet.")


def gpu_lines(device: dict, jobs: list) -> list[str]:
    """One line per GPU: its memory and the running jobs the worker gave it (``CUDA_VISIBLE_DEVICES``)."""
    if not device.get("gpus"):
        return []
    by_gpu: dict[str, list[str]] = {}
    for j in jobs:
        if j.status == "running" and j.gpus:
            for g in j.gpus.split(","):
                by_gpu.setdefault(g, []).append(j.job_id)
    out = []
    for i, g in enumerate(device["gpus"]):
        ids = by_gpu.get(str(i), [])
        out.append(f"GPU {i}: {g['total_gb'] - g['free_gb']:.1f} / {g['total_gb']} GB used; "
                   + (f"{len(ids)} job(s): {', '.join(ids)}" if ids else "idle"))
    return out


def wait_lines(jobs: list, limit: int = 3) -> list[str]:
    """Why the oldest queued jobs wait, as the worker recorded it (e.g. a GPU another user's process holds)."""
    waiting = sorted((j for j in jobs if j.status == "queued" and (j.progress or {}).get("type") == "waiting"),
                     key=lambda j: j.created)
    return [f"{j.job_id} {j.progress.get('detail', 'waiting')}" for j in waiting[:limit]]


def _ago(seconds: float) -> str:
    s = int(max(0, seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 60} min" if s >= 60 else f"{s} s"
