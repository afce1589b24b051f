"""Predict: try completed runs on your own image or sentence (top-k classes side by side, e.g. source-only vs
adapted), or predict a whole batch and download the CSV. The models run in engine processes, never here."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from tlcore.errors import TLError
from tlcore.export.client import job_status, launch_batch, new_batch
from ui import predict_view as pv
from ui.auth import require_sign_in, session_guard, signed_in_user
from ui.safe import md
from ui.state import get_store, home

IMAGE_TYPES = ["png", "jpg", "jpeg", "bmp", "webp", "gif"]
TABLE_TYPES = ["csv", "tsv", "jsonl", "json", "parquet"]

require_sign_in()  # also here: a fresh server may serve this file directly on its first request
st.title("Predict")
st.caption("Pick completed runs, give them an input, and compare their top classes side by side. Predictions use "
           "each run's exported model artifact (model.json + model.safetensors), the same files "
           "`python -m tlcore predict` and the exports use.")
store = get_store()
runs = pv.usable_runs(store)
if not runs:
    st.info("No completed run with a saved model yet. Train one on the **Train** page.")
    st.stop()
kinds = sorted({r.modality for r in runs if r.modality in ("image", "text")})
modality = st.radio("Input", kinds, horizontal=True, key="tl_predict_modality",
                    format_func={"image": "Images", "text": "Texts"}.get) if len(kinds) > 1 else kinds[0]
choices = [r for r in runs if r.modality == modality]
labels = {r.run_id: pv.run_label(r) for r in choices}
selected = st.multiselect("Runs, side by side (up to 4)", list(labels), default=pv.default_runs(choices),
                          format_func=labels.get, max_selections=4, key=f"tl_predict_runs_{modality}")
if not selected:
    st.info("Select one or more runs.")
    st.stop()

one, batch = st.tabs(["One input", "Batch"])
with one:
    text, image, name = None, None, "input"
    if modality == "text":
        text = st.text_area("Sentence", key="tl_predict_text", placeholder="Type a review, a sentence…")
    else:
        up = st.file_uploader("Image", type=IMAGE_TYPES, key="tl_predict_image")
        if up is not None:
            image, name = up.getvalue(), up.name
            st.image(image, width=160)
    ready = bool(text and text.strip()) or image is not None
    # never disabled: a text area commits on blur, so a disabled button would swallow the click that blurs it
    if st.button("Predict", type="primary", key="tl_predict_go"):
        if not ready:
            st.warning("Type a sentence first." if modality == "text" else "Drop an image first.")
        else:
            with st.spinner("Predicting (the first use of a run loads its model)…"):
                st.session_state[pv.RESULTS] = pv.predict_one(selected, text=text, image=image, name=name)
    answers = [a for a in st.session_state.get(pv.RESULTS, []) if a["run_id"] in labels]
    if answers:
        pv.show_answers(answers, labels)

with batch:
    st.caption("A ZIP of images or a folder's images zipped (image runs), or a CSV/TSV/JSONL/Parquet table of "
               "texts (text runs). One row per input, in input order: input, predicted, probability, top-k.")
    up = st.file_uploader("Batch file", type=["zip"] if modality == "image" else TABLE_TYPES,
                          key=f"tl_predict_batch_{modality}")
    column = None
    if up is not None:
        saved = st.session_state.get(pv.BATCH_INPUT) or {}
        if saved.get("file_id") != up.file_id:
            saved = {"file_id": up.file_id, "path": str(new_batch(home(), up.name, up.getvalue()))}
            st.session_state[pv.BATCH_INPUT] = saved
        if modality == "text":
            from tlcore.data.uploads import peek_columns

            try:
                cols = peek_columns(saved["path"], up.name)  # in the limited parse child
                guess = next((i for i, c in enumerate(cols) if c.strip().lower() in ("text", "review", "sentence")), 0)
                column = st.selectbox("Text column", cols, index=guess, key="tl_predict_column")
            except TLError as exc:
                st.error(md(str(exc)))
        if st.button("Predict batch", type="primary", key="tl_predict_batch_go"):
            try:  # only the runs' owners or an admin (refusals audited)
                st.session_state[pv.BATCH_JOBS] = [launch_batch(home(), rid, Path(saved["path"]), column,
                                                                actor=signed_in_user()) for rid in selected]
            except TLError as exc:
                st.error(md(exc))

    @st.fragment(run_every=2)
    def _jobs():
        session_guard()  # a removed or expired user loses the downloads on the next tick
        jobs = st.session_state.get(pv.BATCH_JOBS) or []
        for job in jobs:  # queued jobs of the one job queue (owner, quota, timeout, Cancel)
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

    _jobs()
