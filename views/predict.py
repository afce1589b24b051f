"""Predict: try completed runs on your own image or sentence (top-k classes side by side, e.g. source-only vs
adapted), or predict a whole batch and download the CSV. The models run in engine processes, never here."""
from __future__ import annotations

import streamlit as st

from ui import predict_batch as batch
from ui import predict_view as pv
from ui.auth import require_sign_in
from ui.state import get_store


def one_input(modality: str, selected: list[str], labels: dict) -> None:
    """One sentence or image through the selected runs, answers side by side."""
    text, image, name = None, None, "input"
    if modality == "text":
        text = st.text_area("Sentence", key="tl_predict_text", placeholder="Type a review, a sentence…")
    else:
        up = st.file_uploader("Image", type=batch.IMAGE_TYPES, key="tl_predict_image")
        if up is not None:
            image, name = up.getvalue(), up.name
            st.image(image, width=160)
    # never disabled: a text area commits on blur, so a disabled button would swallow the click that blurs it
    if st.button("Predict", type="primary", key="tl_predict_go"):
        prompt = batch.missing_input(modality, text, image)
        if prompt:
            st.warning(prompt)  # md-safe: a fixed sentence of missing_input
        else:
            with st.spinner("Predicting (the first use of a run loads its model)…"):
                st.session_state[pv.RESULTS] = pv.predict_one(selected, text=text, image=image, name=name)
    answers = [a for a in st.session_state.get(pv.RESULTS, []) if a["run_id"] in labels]
    if answers:
        pv.show_answers(answers, labels)


def batch_input(modality: str, selected: list[str], labels: dict) -> None:
    """A file of inputs through each selected run, as queued jobs; their progress and CSV downloads."""
    st.caption("A ZIP of images or a folder's images zipped (image runs), or a CSV/TSV/JSONL/Parquet table of "
               "texts (text runs). One row per input, in input order: input, predicted, probability, top-k.")
    up = st.file_uploader("Batch file", type=["zip"] if modality == "image" else batch.TABLE_TYPES,
                          key=f"tl_predict_batch_{modality}")
    if up is not None:
        saved = batch.saved_upload(up)
        column = batch.text_column(saved["path"], up.name) if modality == "text" else None
        if st.button("Predict batch", type="primary", key="tl_predict_batch_go"):
            batch.launch(selected, saved["path"], column)
    batch.jobs(labels)


def render() -> None:
    """The Predict page: one input or a batch through the selected runs."""
    require_sign_in()  # also here: a page run on its own (AppTest, `streamlit run views/<page>.py`)
    st.title("Predict")
    st.caption("Pick completed runs, give them an input, and compare their top classes side by side. Predictions "
               "use each run's exported model artifact (model.json + model.safetensors), the same files "
               "`python -m tlcore predict` and the exports use.")
    runs = pv.usable_runs(get_store())
    if not runs:
        st.info("No completed run with a saved model yet. Train one on the **Train** page.")
        st.stop()
    kinds = batch.input_kinds(runs)
    modality = st.radio("Input", kinds, horizontal=True, key="tl_predict_modality",
                        format_func={"image": "Images", "text": "Texts"}.get) if len(kinds) > 1 else kinds[0]
    choices = [r for r in runs if r.modality == modality]
    labels = {r.run_id: pv.run_label(r) for r in choices}
    selected = st.multiselect("Runs, side by side (up to 4)", list(labels), default=pv.default_runs(choices),
                              format_func=labels.get, max_selections=4, key=f"tl_predict_runs_{modality}")
    if not selected:
        st.info("Select one or more runs.")
        st.stop()
    one, many = st.tabs(["One input", "Batch"])
    with one:
        one_input(modality, selected, labels)
    with many:
        batch_input(modality, selected, labels)


if __name__ == "__main__":  # run as a script: AppTest.from_file, `streamlit run views/<page>.py`
    render()
