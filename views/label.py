"""Label: ask a finished run which target training samples to label next, label them here, save the answers as a
label set owned by the signed-in user, and train with them. The run's model answers in a ``query`` job (an engine
process); this page only shows the picks and saves the answers."""
from __future__ import annotations

import base64

import streamlit as st

from tlcore.active.jobs import MAX_BUDGET, read_result
from tlcore.active.query import METHODS, default_method
from tlcore.config import RunConfig
from tlcore.data.label_sets import LabelSets, sample_name
from tlcore.errors import TLError
from ui.auth import require_sign_in, session_guard, signed_in_user
from ui.safe import md
from ui.state import get_queue, get_store, home

JOB = "tl_label_query_job"
SAVED = "tl_label_saved_set"
TRAIN_JOB = "tl_label_train_job"


@st.fragment(run_every=2)
def wait_for(job_id: str) -> None:
    """The query job's progress; the whole page reruns once it has finished."""
    session_guard()
    snap = get_queue().get(job_id)
    if snap.status in ("queued", "running"):
        st.progress(float((snap.progress or {}).get("progress", 0.0)), text=f"Query job {snap.status}…")
    else:
        st.rerun()


def label_form(result: dict) -> None:
    """One class picker per queried sample (preset to the model's guess), then save + train."""
    classes, k = result["classes"], len(result["samples"])
    text = result.get("modality") == "text" or (result.get("modality") is None and not any(
        s.get("thumbnail") for s in result["samples"]))
    with st.form("tl_label_form"):
        answers = []
        for i, s in enumerate(result["samples"]):
            # never the sample's id: an image's archive path often names its class (bike/frame_0001.jpg)
            left, right = st.columns([1, 3])
            if s.get("thumbnail"):
                left.image(base64.b64decode(s["thumbnail"]), width=96)
            elif text:
                left.text(s["path_or_text"][:300])
            right.text(f"Sample {i + 1} of {k} · {s.get('name') or sample_name(s['id'])}  (model: {s['predicted']}, "
                       f"score {s['score']:.3f})")
            answers.append((s["id"], right.selectbox("Label", classes, index=classes.index(s["predicted"]),
                                                     key=f"tl_label_{i}")))
        save = st.form_submit_button("Save label set", type="primary")
    if save:
        try:
            ls = LabelSets(home()).add(result["target"], answers, classes=classes, owner=signed_in_user(),
                                       sample_ids=[s["id"] for s in result["samples"]])
        except TLError as exc:
            st.error(md(exc))
            return
        st.session_state[SAVED] = ls["id"]
    saved = st.session_state.get(SAVED)
    if saved:
        st.success(md(f"Saved label set {saved} ({len(answers)} labels)."))
        if st.button("Train with these labels", key="tl_label_train"):
            cfg = dict(get_store().get(result["run_id"]).config)
            cfg["target"] = {**cfg["target"], "label_set": saved}
            cfg["name"] = f"{cfg.get('name') or result['run_id']} + {saved}"
            try:
                RunConfig.from_dict(cfg)
                st.session_state[TRAIN_JOB] = get_queue().submit(cfg, owner=signed_in_user())
            except TLError as exc:
                st.error(md(exc))
        if st.session_state.get(TRAIN_JOB):
            st.info(md(f"Training job {st.session_state[TRAIN_JOB]} queued; its run appears on Compare."))


def render() -> None:
    require_sign_in()
    st.title("Label")
    st.caption("Which target samples should you label? A finished run's model ranks its target training pool "
               "(never the test split); label the picks, save them as a label set, and train with them.")
    runs = [r for r in get_store().list(status="completed")]
    if not runs:
        st.info("No completed runs yet: train one on the Train page first.")
        return
    ids = [r.run_id for r in runs]
    names = {r.run_id: f"{r.run_id} · {r.strategy} · {r.target}" for r in runs}
    run_id = st.selectbox("Run", ids, format_func=names.get, key="tl_label_run")
    modality = next((r.modality for r in runs if r.run_id == run_id), None)
    method = st.selectbox("Method", METHODS, index=METHODS.index(default_method(modality)), key="tl_label_method",
                          help="Opens on the strategy measured best for this kind of data (bench/results/"
                               "active_labels.md): BADGE for images, random for texts.")
    budget = st.number_input("How many samples", 1, MAX_BUDGET, 10, key="tl_label_budget")
    if st.button("Ask which samples to label", type="primary", key="tl_label_ask"):
        try:
            st.session_state[JOB] = get_queue().submit({"run_id": run_id, "method": method, "budget": int(budget),
                                                        "seed": 0}, kind="query", owner=signed_in_user())
            st.session_state.pop(SAVED, None)
            st.session_state.pop(TRAIN_JOB, None)
        except TLError as exc:
            st.error(md(exc))
    job_id = st.session_state.get(JOB)
    if not job_id:
        return
    snap = get_queue().get(job_id)
    if snap.status in ("queued", "running"):
        wait_for(job_id)
        return
    result = read_result(home(), job_id)
    if snap.status != "completed" or result is None:
        st.error(md(f"The query job {snap.status}: {snap.error or 'no result'}"))
        return
    label_form(result)


if __name__ == "__main__":
    render()
