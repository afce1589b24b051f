"""TL Studio dashboard: navigation over the pages and the shared sidebar, nothing else."""
import streamlit as st

from tlcore.runs.backup import backup_at_start
from ui.auth import require_sign_in
from ui.navigation import build_pages
from ui.sidebar import sidebar
from ui.state import ensure_worker_once, home
from views import compare, domains, embeddings, label, predict, train

st.set_page_config(page_title="TL Studio", layout="wide")
backup_at_start(home())  # once per process: a tl.db backup that does not depend on a worker (issue 22 item 4)
require_sign_in()  # a no-op unless users exist ($TL_HOME/users.json)
ensure_worker_once()
page = st.navigation(build_pages({
    "domains": domains.render, "train": train.render, "compare": compare.render,
    "embeddings": embeddings.render, "predict": predict.render, "label": label.render,
}))
sidebar()
page.run()
