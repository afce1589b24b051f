"""The Compare page's model section: export a run (ONNX, TorchScript, Hugging Face, safetensors; a ZIP download
with its model card), compress it (pruning + int8 into a new linked run), and the parent-vs-compressed tables of
the selected runs. Exports and compression are queued jobs of the one job queue (owner: the signed-in user;
quota, timeout, Cancel); this module only submits them and polls their snapshots. An export job zips its folder once
when it finishes; the download button reads that file when clicked."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from tlcore.export.client import job_status, launch_compress, launch_export
from tlcore.errors import TLError
from tlcore.runs.view import RunView
from ui.auth import session_guard, signed_in_user
from ui.predict_view import cancel_job
from ui.safe import md
from ui.state import home

EXPORT_JOBS = "tl_export_jobs"
COMPRESS_JOBS = "tl_compress_jobs"
FORMATS = {"onnx": "ONNX (onnxruntime, opset 18)", "torchscript": "TorchScript (torch.jit)",
           "hf": "Hugging Face folder (text: transformers pipeline)", "safetensors": "safetensors + model.json"}


def compression_frame(metrics: dict) -> pd.DataFrame:
    """The parent-vs-compressed table of a compressed run's metrics, formatted."""
    rows = []
    for r in (metrics.get("compression") or {}).get("table") or []:
        ci = r.get("target_accuracy_ci") or [None, None]
        acc = r.get("target_accuracy")
        rows.append({"model": r["model"],
                     "target accuracy [95% CI]": "n/a" if acc is None else
                     f"{acc:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if None not in ci else f"{acc:.3f}",
                     "size (MB)": r.get("size_mb"), "size zipped (MB)": r.get("size_zipped_mb"),
                     "CPU ms/sample, batch 1": r.get("latency_ms_batch1"),
                     "CPU ms/sample, batch 32": r.get("latency_ms_batch32"), "zero weights": r.get("sparsity")})
    return pd.DataFrame(rows)


def model_section(store, focus: str, selected: list[str], labels: dict) -> None:
    st.subheader("Use the model: export and compression")
    metrics = {rid: RunView(store, rid).metrics() for rid in selected}
    compressed = [rid for rid in selected if (metrics[rid].get("compression") or {}).get("table")]
    for rid in compressed:
        st.text(f"{labels.get(rid, rid)}  (compressed from {metrics[rid].get('parent_run_id')})")
        st.dataframe(compression_frame(metrics[rid]), hide_index=True)
    if compressed:
        st.caption("CPU latency: median milliseconds per sample on this server, fp32 PyTorch vs the compressed "
                   "model, inputs from the target test set. Sizes: the parent's safetensors file; the compressed "
                   "model's int8 state dict (or fp32 safetensors when only pruned); zipped shows what pruning's zeros "
                   "save on disk.")
    c1, c2 = st.columns(2)
    with c1:
        fmt = st.selectbox("Export format", list(FORMATS), format_func=FORMATS.get, key="tl_export_format")
        if st.button("Export", key="tl_export_go", help="Writes the model, model.json and a model card (README.md) "
                                                        "into a folder and offers it as a ZIP."):
            try:  # only the run's owner or an admin (refusals audited)
                st.session_state.setdefault(EXPORT_JOBS, []).append(launch_export(home(), focus, fmt,
                                                                                  actor=signed_in_user()))
            except TLError as exc:
                st.error(md(exc))
    with c2:
        prune = st.slider("Prune (fraction of weights zeroed, global L1 magnitude)", 0.0, 0.9, 0.5, 0.05,
                          key="tl_compress_prune")
        int8 = st.checkbox("Dynamic int8 quantization (Linear layers)", value=True, key="tl_compress_int8")
        epochs = st.number_input("Fine-tune epochs after pruning", 0, 20, 0, key="tl_compress_epochs")
        if st.button("Compress into a new run", key="tl_compress_go", disabled=not (prune or int8)):
            try:  # only the run's owner or an admin; the new run is owned by the signed-in user
                st.session_state.setdefault(COMPRESS_JOBS, []).append(
                    launch_compress(home(), focus, prune, int8, int(epochs), actor=signed_in_user()))
            except TLError as exc:
                st.error(md(exc))
    _jobs()


@st.fragment(run_every=2)
def _jobs() -> None:
    session_guard()  # a removed or expired user loses the downloads on the next tick
    for job in st.session_state.get(EXPORT_JOBS) or []:
        status = job_status(job)
        what = md(f"{job['run_id']} as {job['format']}")
        if status["state"] in ("queued", "running"):
            _active(job, status, f"Exporting {what}")
        elif status["state"] == "done":
            zipped = Path(status["result"]["file"])  # written once by the export job
            st.download_button(f"Download {what} (ZIP)", lambda f=zipped: f.read_bytes(), file_name=zipped.name,
                               mime="application/zip", key=f"tl_export_dl_{job['job_id']}")
        else:
            st.error(md(f"Export of {job['run_id']} {status['state']}: {status['detail']}"))
    for job in st.session_state.get(COMPRESS_JOBS) or []:
        status = job_status(job)
        if status["state"] in ("queued", "running"):
            _active(job, status, md(f"Compressing {job['run_id']}"))
        elif status["state"] == "done":
            st.success(md(f"Compressed {job['run_id']} into run {status['result'].get('run_id', '?')}; select it "
                          "above to see its table."))
        else:
            st.error(md(f"Compression of {job['run_id']} {status['state']}: {status['detail']}"))


def _active(job: dict, status: dict, what: str) -> None:
    st.progress(status["progress"], text=f"{what} ({md(status['detail'])})")
    if st.button("Cancel", key=f"tl_job_cancel_{job['job_id']}"):
        cancel_job(job)
