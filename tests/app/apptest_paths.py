"""Absolute paths and limits for the AppTest suite (a plain module: `conftest` names clash across folders)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAGES = ROOT / "views"  # not pages/: Streamlit would also list and serve a pages/ folder on its own
TIMEOUT = 60

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def page(name: str) -> str:
    return str(PAGES / f"{name}.py")


def open_page(at, url_path: str):
    """Switch an AppTest of app.py to the navigation page at ``url_path`` (run it next).

    The pages are ``render`` functions (``st.Page(views.x.render, url_path=...)``), and ``AppTest.switch_page`` only
    knows file pages; Streamlit keys every page by the hash of its url path, so this sets that hash.
    """
    from streamlit.util import calc_hash

    at._page_hash = calc_hash(url_path)
    return at


def open_tab(at, title: str):
    """Open a tab of the Compare page (views/compare.py TABS; only the open tab runs) and rerun."""
    at.session_state["tl_compare_tab"] = title
    return at.run()
