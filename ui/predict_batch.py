"""The Predict page's batch tab: the saved upload, the text-column choice and the jobs' progress and downloads.
The rules (``guess_text_column``, ``input_kinds``, ``missing_input``) are plain functions, tested in
tests/app/test_predict_rules.py."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from tlcore.errors import TLError
from tlcore.export.client import job_status, launch_batch, new_batch
from ui import predict_view as pv
from ui.auth import session_guard, signed_in_user
from ui.safe import md
from ui.state import home

IMAGE_TYPES = ["png", "jpg", "jpeg", "bmp", "webp", "gif"]
TABLE_TYPES = ["csv", "tsv", "jsonl", "json", "parquet"]
TEXT_COLUMNS = ("text", "review", "sentence")  # column names taken for the text column, in this order of files


def input_kinds(runs) -> list[str]:
    """The input kinds the usable runs take (``image``, ``text``), sorted."""
    return sorted({r.modality for r in runs if r.modality in ("image", "text")})


def guess_text_column(columns: list[str]) -> int:
    """Index of the first column named like a text column (text, review, sentence), else 0."""
    return next((i for i, c in enumerate(columns) if c.strip().lower() in TEXT_COLUMNS), 0)


def missing_input(modality: str, text: str | None, image: bytes | None) -> str | None:
    """What to ask for before predicting one input, or None when there is an input."""
    if bool(text and text.strip()) or image is not None:
        return None
    return "Type a sentence first." if modality == "text" else "Drop an image first."


def saved_upload(upload) -> dict:
    """``{"file_id", "path"}`` of the batch file, written once per upload under the data root."""
    saved = st.session_state.get(pv.BATCH_INPUT) or {}
    if saved.get("file_id") != upload.file_id:
        saved = {"file_id": upload.file_id, "path": str(new_batch(home(), upload.name, upload.getvalue()))}
        st.session_state[pv.BATCH_INPUT] = saved
    return saved


def text_column(path: str, name: str) -> str | None:
    """The text column picker (columns read in the limited parse child); None when the table is refused."""
    from tlcore.data.uploads import peek_columns

    try:
        cols = peek_columns(path, name)
    except TLError as exc:
        st.error(md(str(exc)))
        return None
    return st.selectbox("Text column", cols, index=guess_text_column(cols), key="tl_predict_column")


def launch(selected: list[str], path: str, column: str | None) -> None:
    """One queued predict job per run (only the runs' owners or an admin; refusals audited)."""
    try:
        st.session_state[pv.BATCH_JOBS] = [launch_batch(home(), rid, Path(path), column, actor=signed_in_user())
                                           for rid in selected]
    except TLError as exc:
        st.error(md(exc))


@st.fragment(run_every=2)
def jobs(labels: dict) -> None:
    """Progress, Cancel and the download of each batch job of this session."""
    session_guard()  # a removed or expired user loses the downloads on the next tick
    for job in st.session_state.get(pv.BATCH_JOBS) or []:  # jobs of the one queue (owner, quota, timeout, Cancel)
        status = job_status(job)
        label = labels.get(job["run_id"], job["run_id"])
        if status["state"] in ("queued", "running"):
            st.progress(status["progress"], text=md(f"{label}: predicting ({status['detail']})"))
            if st.button("Cancel", key=f"tl_predict_cancel_{job['job_id']}"):
                pv.cancel_job(job)
        elif status["state"] == "done":
            out = Path(status["result"]["file"])
            data = lambda out=out: out.read_bytes()  # noqa: E731 - read when clicked, not every poll
            st.download_button(md(f"Download predictions: {label}"), data, file_name=out.name,
                               mime="text/csv", key=f"tl_predict_dl_{job['job_id']}")
        else:
            st.error(md(f"{label}: {status['detail']}"))
