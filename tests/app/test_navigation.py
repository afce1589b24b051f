"""The named navigation (st.navigation in app.py) is the only one.

Streamlit treats a folder named ``pages/`` beside the main script as a v1 multipage app: until some session calls
``st.navigation``, a fresh server lists that folder's files in the sidebar ("app, compare, domains, ...", lower
case, no icons) and serves them directly by URL. The page files therefore live in ``views/``.
"""
from __future__ import annotations

import ast

from apptest_paths import APP, PAGES, ROOT
from streamlit.runtime.pages_manager import PagesManager


def test_no_pages_folder_beside_the_main_script():
    assert not (ROOT / "pages").exists(), "a pages/ folder next to app.py brings back Streamlit's own page list"
    saved = PagesManager.uses_pages_directory
    try:
        PagesManager.uses_pages_directory = None  # as on a fresh server
        PagesManager(APP)
        assert PagesManager.uses_pages_directory is False
    finally:
        PagesManager.uses_pages_directory = saved


def test_every_page_file_is_in_the_named_navigation():
    """Each file of views/ is an st.Page of app.py (and nothing else is)."""
    tree = ast.parse(open(APP, encoding="utf-8").read())
    named = {n.args[0].right.value for n in ast.walk(tree)
             if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "Page"
             and isinstance(n.args[0], ast.BinOp) and isinstance(n.args[0].right, ast.Constant)}
    assert named == {p.name for p in PAGES.glob("*.py")}
