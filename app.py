"""TL Studio dashboard: navigation over the pages and the shared sidebar, nothing else."""
from pathlib import Path

import streamlit as st

from tlcore.runs.backup import backup_at_start
from ui.auth import require_sign_in
from ui.sidebar import sidebar
from ui.state import ensure_worker_once, home

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="TL Studio", layout="wide")
backup_at_start(home())  # once per process: a tl.db backup that does not depend on a worker (issue 22 item 4)
require_sign_in()  # a no-op unless users exist ($TL_HOME/users.json)
ensure_worker_once()
page = st.navigation([
    st.Page(HERE / "views" / "domains.py", title="Domains", icon=":material/dataset:", default=True),
    st.Page(HERE / "views" / "train.py", title="Train", icon=":material/model_training:"),
    st.Page(HERE / "views" / "compare.py", title="Compare", icon=":material/leaderboard:"),
    st.Page(HERE / "views" / "embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
    st.Page(HERE / "views" / "predict.py", title="Predict", icon=":material/online_prediction:"),
])
sidebar()
page.run()
