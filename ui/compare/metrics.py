"""Compare: metrics with intervals, downloads, validators, flags, confusion matrices and curves of the selected
runs."""
from __future__ import annotations

import json

import streamlit as st

from tlcore.evaluation.compare import metrics_csv
from tlcore.runs.view import RunView
from ui import charts
from ui.run_flags import flags_section
from ui.run_table import metrics_frame


def bar_row(label: str, m: dict) -> dict:
    """One bar group of the metrics chart: target and source-val accuracy and macro F1 with intervals."""
    tt, sv = m.get("target_test") or {}, m.get("source_val") or {}
    return {"label": label, "target_acc": tt.get("accuracy"), "target_acc_ci": tt.get("accuracy_ci"),
            "target_f1": tt.get("f1_macro"), "target_f1_ci": tt.get("f1_macro_ci"),
            "source_acc": sv.get("accuracy"), "source_acc_ci": sv.get("accuracy_ci"),
            "source_f1": sv.get("f1_macro"), "source_f1_ci": sv.get("f1_macro_ci")}


def metrics_section(store, views: dict[str, RunView], name: dict, labels: dict) -> None:
    """Bars with intervals, the metrics table and its downloads, and sanity flags."""
    metrics = {rid: v.metrics() for rid, v in views.items()}
    st.plotly_chart(charts.metric_bars([bar_row(name[rid], m) for rid, m in metrics.items()]))
    st.caption("Error bars and [brackets]: 95% percentile bootstrap intervals (1,000 seeded resamples).")
    st.dataframe(metrics_frame(metrics, name), hide_index=True)
    d1, d2 = st.columns(2)
    d1.download_button("Download metrics (CSV)", metrics_csv(store, list(views)), file_name="tl_metrics.csv",
                       mime="text/csv")
    d2.download_button("Download metrics (JSON)", json.dumps(metrics, indent=1).encode("utf-8"),
                       file_name="tl_metrics.json", mime="application/json")
    flags_section(store, list(views), labels)


def confusion_section(views: dict[str, RunView], name: dict) -> bool:
    """Confusion matrices and per-class F1 (labelled target test sets only); returns whether there were any."""
    normalize = st.toggle("Normalise confusion-matrix rows (% of each true class)", value=True)
    mats = [{"label": name[rid], **cm} for rid, v in views.items() if (cm := v.confusion())]
    if not mats:
        st.info("The selected runs have no labelled target test set, so no confusion matrix.")
        return False
    st.plotly_chart(charts.confusion_heatmaps(mats, normalize=normalize))
    st.plotly_chart(charts.per_class_f1_bars(
        [{"label": name[rid], "per_class": v.evaluation("target_test").get("per_class")} for rid, v in views.items()]))
    return True


def curves_section(views: dict[str, RunView], name: dict, labelled: bool) -> None:
    """Training curves; ROC, precision-recall and calibration on request (labelled target test sets)."""
    st.plotly_chart(charts.training_curves([{"label": name[rid], "history": v.history()} for rid, v in views.items()]))
    if labelled and st.toggle("Show ROC, precision-recall and calibration charts", key="tl_compare_curves"):
        tts = {rid: v.evaluation("target_test") for rid, v in views.items()}
        st.plotly_chart(charts.roc_pr_curves([{"label": name[r], "roc": t.get("roc_curve"), "pr": t.get("pr_curve")}
                                              for r, t in tts.items()]))
        st.plotly_chart(charts.reliability_diagram([{"label": name[r], "bins": t.get("reliability"),
                                                     "ece": t.get("ece")} for r, t in tts.items()]))


def charts_section(store, views: dict[str, RunView], name: dict, labels: dict) -> None:
    metrics_section(store, views, name, labels)
    curves_section(views, name, confusion_section(views, name))
