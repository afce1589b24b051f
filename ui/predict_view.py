"""Streamlit helpers of the Predict page: the cached prediction-server handle, run choice and result tables.

The model never runs in the Streamlit process: single inputs go to one long-lived ``python -m tlcore
predict-server`` child (models stay loaded, so answers after the first are a forward pass), batches to a queued
``predict`` job per run (the one job queue: owner, quota, timeout, Cancel).
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from tlcore.errors import TLError
from tlcore.export.client import PredictClient, cancel
from tlcore.runs.view import RunView
from ui.safe import md
from ui.state import current_user, home

RESULTS = "tl_predict_results"     # list[dict]: the last single-input answers, one per run
BATCH_JOBS = "tl_predict_jobs"     # list[dict]: batch prediction jobs of this session
BATCH_INPUT = "tl_predict_batch"   # dict: {"file_id", "path"} of the saved batch upload
SOURCE_ONLY = ("fine_tuning", "linear_probe", "scratch", "classical")


@st.cache_resource(show_spinner=False)
def _client(root: str) -> PredictClient:
    return PredictClient(root)


def client() -> PredictClient:
    return _client(home())


def cancel_job(job: dict) -> None:
    """Cancel a queued predict/export/compress job as the signed-in user; a refusal shows as a toast (it outlives
    the fragment's next rerun)."""
    try:
        st.toast(md(f"Job {job['job_id']}: {cancel(job, actor=current_user())}"))
    except TLError as exc:
        st.toast(md(f"Cancel refused: {exc}"))


def usable_runs(store) -> list:
    """Completed runs that saved a model (compressed runs included)."""
    return [r for r in store.list(status="completed")
            if RunView(store, r.run_id).has_model()]


def run_label(rec) -> str:
    kind = "source-only" if rec.strategy in SOURCE_ONLY else "adapted"
    if (rec.config or {}).get("parent_run_id"):
        kind = "compressed"
    return f"{rec.name or rec.run_id} · {rec.source} → {rec.target} · {rec.strategy} ({kind}) · {rec.backbone}"


def default_runs(records: list) -> list[str]:
    """A source-only run and an adapted run on the same pair when there are some (the demo moment), else the
    newest run."""
    if not records:
        return []
    newest = records[0]
    same = [r for r in records if (r.source, r.target, r.backbone) == (newest.source, newest.target, newest.backbone)]
    base = next((r for r in same if r.strategy in SOURCE_ONLY), None)
    adapted = next((r for r in same if r.strategy not in SOURCE_ONLY), None)
    picked = [r.run_id for r in (base, adapted) if r is not None]
    return picked or [newest.run_id]


def predict_one(run_ids: list[str], text: str | None = None, image: bytes | None = None,
                name: str = "input") -> list[dict]:
    out = []
    for rid in run_ids:
        try:
            ans = client().predict(rid, text=text, image=image, name=name, actor=current_user())
        except TLError as exc:
            ans = {"ok": False, "error": str(exc)}
        out.append({**ans, "run_id": rid})
    return out


def top_frame(ans: dict) -> pd.DataFrame:
    return pd.DataFrame(ans.get("top") or [], columns=["class", "probability"])


def show_answers(answers: list[dict], labels: dict) -> None:
    cols = st.columns(max(1, len(answers)))
    for col, ans in zip(cols, answers):
        with col:
            st.text(labels.get(ans["run_id"], ans["run_id"]))
            if not ans.get("ok"):
                st.error(md(ans.get("error") or "prediction failed"))
                continue
            top = ans["top"]
            st.metric(f"Predicted (probability {top[0][1]:.1%})", str(top[0][0]))
            st.dataframe(top_frame(ans), hide_index=True, column_config={
                "probability": st.column_config.ProgressColumn(format="%.3f", min_value=0.0, max_value=1.0)})
            load = f"; model loaded in {ans['load_ms'] / 1000:.1f} s (first use)" if ans.get("load_ms") else ""
            st.caption(f"Answered in {ans.get('roundtrip_ms', 0):.0f} ms (forward + preprocessing "
                       f"{ans.get('ms', 0):.0f} ms){load}.")  # md-safe: numbers only
