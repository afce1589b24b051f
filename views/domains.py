"""Domains: choose a source and a target (demo, saved or new) and inspect the pair before training."""
from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import streamlit as st

from tlcore.data import DEMOS, load_domain
from tlcore.data.duplicates import describe_domain_duplicates, describe_pair_duplicates, pair_duplicates
from tlcore.data.library import MAX_UPLOAD_MB, UPLOAD_EXTENSIONS, allowed_roots
from tlcore.errors import TLError
from ui import state
from ui.auth import require_sign_in, signed_in_user
from ui.safe import md
from ui.charts import class_chart, table_height, value_distribution

DEMO, SAVED = "Built-in demo (generated data)", "Saved domain"
SAMPLES_PER_CLASS = 4
MAX_CLASSES_SHOWN = 12
ADD_FIELDS = ("add-name", "add-file", "folder-name", "folder-path")  # the "Add a domain" fields


@st.cache_resource(max_entries=2, show_spinner="Reading domain…")
def read_domain(spec_json: str, role: str):
    """Load a domain once per spec (the engine also keys its own cache on file mtime and size). An image domain's
    pixels stay in the engine's memory-mapped disk copy (tlcore/data/disk_cache.py): this page reads only the
    thumbnails it shows, and its statistics come from the stored index (issue 22 item 2)."""
    return load_domain(json.loads(spec_json), role, seed=0)


def domain_picker(role: str, entries: list[dict]) -> dict | None:
    """Widgets for one side of the pair; returns its spec (None when nothing usable is chosen)."""
    current = st.session_state.get(state.SOURCE_SPEC if role == "source" else state.TARGET_SPEC) or {}
    by_id = {e["domain_id"]: e for e in entries}
    saved_default = next((e["domain_id"] for e in entries if e["path"] == current.get("path")), None)
    kind = st.radio(f"{role.title()} comes from", [DEMO, SAVED], key=f"dom-kind-{role}", horizontal=True,
                    index=1 if saved_default else 0)
    if kind == DEMO:
        names = list(DEMOS)
        demo = st.selectbox(f"{role.title()} demo", names, key=f"dom-demo-{role}",
                            index=names.index(current["demo"]) if current.get("demo") in names else 0,
                            format_func=lambda n: f"{n} (generated)")
        st.caption(f"Generated demo data, not real data: {DEMOS[demo]}")
        return {"demo": demo}
    if not entries:
        st.info("No saved domains yet: add one below.")
        return None
    ids = list(by_id)
    did = st.selectbox(f"Saved {role} domain", ids, key=f"dom-saved-{role}",
                       index=ids.index(saved_default) if saved_default in ids else 0,
                       format_func=lambda i: f"{by_id[i]['name']} ({by_id[i]['modality']}, {by_id[i]['n']} samples)")
    return state.get_library().spec(did)


def add_domain_section() -> None:
    lib = state.get_library()
    up_tab, folder_tab = st.tabs(["Upload a file", "Server folder"])
    with up_tab:
        st.caption(f"A ZIP of class folders (class_name/image.jpg) for images, or a CSV/TSV/JSONL/Parquet table "
                   f"with a text column and a label column. Uploads are limited to {MAX_UPLOAD_MB} MB; larger "
                   "data goes in the server import folder (next tab).")
        name = st.text_input("Name for the new domain", key="add-name", max_chars=100)
        up = st.file_uploader("File", type=[e.lstrip(".") for e in UPLOAD_EXTENSIONS], key="add-file")
        text_col = label_col = None
        if up is not None and not up.name.lower().endswith(".zip"):
            try:
                cols = lib.upload_columns(up.name, up)
                c1, c2 = st.columns(2)
                text_col = c1.selectbox("Text column", cols, key="add-text-col")
                label_col = c2.selectbox("Label column", [c for c in cols if c != text_col], key="add-label-col")
            except TLError as exc:
                st.error(md(exc))
                up = None
        if st.button("Save domain", key="add-save", disabled=up is None):
            try:
                with st.spinner("Checking and saving…"):
                    e = lib.ingest_upload(name, up.name, up, text_column=text_col, label_column=label_col,
                                          owner=signed_in_user())
                _saved("Saved", e)
            except TLError as exc:
                st.error(md(exc))
    with folder_tab:
        roots = allowed_roots(lib.root)
        st.caption("Register a folder already on the server (class_name/image.jpg) or a table file. "
                   "Allowed locations (set TL_ALLOWED_ROOTS to change):")
        st.code("\n".join(map(str, roots)), language=None)
        fname = st.text_input("Name for the new domain", key="folder-name", max_chars=100)
        fpath = st.text_input("Path on the server", key="folder-path")
        if st.button("Register folder", key="folder-save", disabled=not fpath):
            try:
                e = lib.register_folder(fname, fpath, owner=signed_in_user())
                _saved("Registered", e)
            except TLError as exc:
                st.error(md(exc))


def manage_saved(entries: list[dict]) -> None:
    if not entries:
        st.caption("No saved domains yet.")
        return
    lib = state.get_library()
    st.dataframe(pd.DataFrame([{"name": e["name"], "kind": e["kind"], "modality": e["modality"], "samples": e["n"],
                                "classes": len(e["classes"]), "original file": e["original_filename"]}
                               for e in entries]), hide_index=True, width="stretch")
    by_id = {e["domain_id"]: e for e in entries}
    did = st.selectbox("Domain to change", list(by_id), key="manage-id", format_func=lambda i: by_id[i]["name"])
    c1, c2 = st.columns(2)
    with c1:
        new = st.text_input("New name", key="manage-new-name", max_chars=100)
        if st.button("Rename", key="manage-rename", disabled=not new):
            try:
                lib.rename(did, new, actor=signed_in_user())  # owner or admin (audited)
                st.rerun()
            except TLError as exc:
                st.error(md(exc))
    with c2:
        sure = st.checkbox("Yes, delete this saved domain", key="manage-confirm")
        if st.button("Delete", key="manage-delete", disabled=not sure, type="primary"):
            try:
                lib.delete(did, actor=signed_in_user())  # owner or admin; refused while a job uses it
                st.session_state.pop("manage-confirm", None)
                st.rerun()
            except TLError as exc:
                st.error(md(exc))


def samples_view(role: str, dom) -> None:
    by_class: dict = {}
    for i, lab in enumerate(dom.labels or ["(unlabeled)"] * len(dom)):
        if len(by_class.setdefault(lab, [])) < SAMPLES_PER_CLASS:
            by_class[lab].append(i)
    classes = sorted(by_class)[:MAX_CLASSES_SHOWN]
    if dom.modality == "image":
        for c in classes:
            st.text(c)
            st.image([dom.samples[i] for i in by_class[c]], width=72)
    else:
        st.dataframe(pd.DataFrame([{"class": c, "text": dom.samples[i][:300]} for c in classes for i in by_class[c]]),
                     hide_index=True, width="stretch")
    if len(by_class) > MAX_CLASSES_SHOWN:
        st.caption(f"Showing {MAX_CLASSES_SHOWN} of {len(by_class)} classes.")


def duplicate_warnings(summary: dict, col=st) -> None:
    """Identical samples inside one domain (engine: tlcore/data/duplicates.py), one warning per finding."""
    for line in describe_domain_duplicates(summary.get("duplicates") or {}):
        col.warning(md(line), icon=":material/content_copy:")


def pair_overview(doms: dict) -> None:
    sums = {r: d.summary() for r, d in doms.items()}
    cols = st.columns(2)
    for col, role in zip(cols, ("source", "target")):
        s = sums[role]
        col.metric(f"{role.title()}: {s['modality']}", f"{s['n']} samples",
                   f"{len(s['classes'])} classes, {s['n_skipped']} skipped", delta_color="off")
        duplicate_warnings(s, col)
    if sums["source"]["modality"] != sums["target"]["modality"]:
        st.error("Source and target have different modalities (image vs text); choose a matching pair.")
    else:
        leakage = describe_pair_duplicates(pair_duplicates(doms["source"], doms["target"]))
        if leakage:  # the same content in both domains: the target test accuracy would be inflated
            st.warning(md(leakage), icon=":material/warning:")
    st.plotly_chart(class_chart(sums), width="stretch", key="class-counts")

    src, tgt = set(sums["source"]["classes"]), set(sums["target"]["classes"])
    st.markdown("**Label sets**")
    table = pd.DataFrame([{"class": c, "in source": c in src, "in target": c in tgt,
                           "mismatch": "⚠️ only in one domain" if (c in src) != (c in tgt) else ""}
                          for c in sorted(src | tgt)])
    st.dataframe(table, hide_index=True, width="stretch")
    if src != tgt:
        st.warning(f"{len(src ^ tgt)} label(s) appear in only one domain; training keeps the source labels "
                   "(or set label_intersection in the config).")

    st.markdown("**Example samples of each class**")
    cols = st.columns(2)
    for col, role in zip(cols, ("source", "target")):
        with col:
            st.caption(md(role.title()))
            samples_view(role, doms[role])

    if all(s["modality"] == "image" for s in sums.values()):
        sides = {r: [max(h, w) for h, w in zip(s["sizes"]["height"], s["sizes"]["width"])] for r, s in sums.items()}
        st.plotly_chart(value_distribution(sides, "Image size (longest side, before resizing)", "pixels"),
                        width="stretch", key="size-hist")
    elif all(s["modality"] == "text" for s in sums.values()):
        st.plotly_chart(value_distribution({r: s["lengths"] for r, s in sums.items()}, "Text length", "words"),
                        width="stretch", key="length-hist")

    st.markdown("**Skipped while reading**")
    cols = st.columns(2)
    for col, role in zip(cols, ("source", "target")):
        with col:
            skipped = doms[role].skipped
            if not skipped:
                st.caption(f"{md(role.title())}: nothing skipped.")
                continue
            st.caption(f"{md(role.title())}: {len(skipped)} skipped")
            reasons = Counter(s.reason for s in skipped)
            st.dataframe(pd.DataFrame(reasons.most_common(), columns=["reason", "count"]), hide_index=True,
                         height=table_height(len(reasons)))
            shown = skipped[:500]
            st.dataframe(pd.DataFrame([{"file": s.file, "reason": s.reason} for s in shown]),
                         hide_index=True, height=table_height(len(shown), cap=200))



def _saved(verb: str, e: dict) -> None:
    st.success(f"{verb} {md(e['n'])} samples, {len(e['classes'])} classes.")  # md-safe: verb is this page's own word
    if e["summary"].get("description"):  # e.g. why a one-folder ZIP reads as unlabeled
        st.info(md(e["summary"]["description"]))
    duplicate_warnings(e["summary"])

def render() -> None:
    """The Domains page: pick the source and target, add or manage saved domains, inspect the pair."""
    require_sign_in()  # also here: a page run on its own (AppTest, `streamlit run views/<page>.py`)
    state.restore_settings()  # the pair this user chose last time (kept in the data root)
    st.title("Domains")
    st.caption("Choose a source domain (labeled, trained on) and a target domain (where the model should work). "
               "The pair is used by the Train page.")
    try:
        entries = state.get_library().list()
    except TLError as exc:
        st.error(md(exc))
        entries = []

    specs = {}
    cols = st.columns(2)
    for col, role in zip(cols, ("source", "target")):
        with col:
            st.subheader(md(role.title()))
            specs[role] = domain_picker(role, entries)

    doms = {}
    if specs["source"] and specs["target"]:
        state.set_pair(specs["source"], specs["target"],
                       f"{specs['source'].get('name') or specs['source'].get('demo')} → "
                       f"{specs['target'].get('name') or specs['target'].get('demo')}")
        for col, role in zip(cols, ("source", "target")):
            try:
                doms[role] = read_domain(json.dumps(specs[role], sort_keys=True), role)
            except TLError as exc:
                col.error(md(exc))

    with st.expander("Add a domain", expanded=not entries or any(st.session_state.get(k) for k in ADD_FIELDS)):
        # stays open while any of its fields is filled (it used to collapse once the first domain was saved)
        add_domain_section()
    with st.expander("Saved domains: rename or delete"):
        manage_saved(entries)

    if len(doms) == 2:
        st.header("The chosen pair")
        pair_overview(doms)
        if doms["source"].modality == doms["target"].modality:
            from ui.shift_report import shift_report_section

            shift_report_section(specs["source"], specs["target"])


if __name__ == "__main__":  # run as a script: AppTest.from_file, `streamlit run views/<page>.py`
    render()
