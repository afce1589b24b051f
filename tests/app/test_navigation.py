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
    """Each file of views/ is a page of app.py's navigation, by its render function (and nothing else is)."""
    from ui.navigation import PAGES as NAVIGATION

    tree = ast.parse(open(APP, encoding="utf-8").read())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "build_pages"]
    assert len(calls) == 1 and isinstance(calls[0].args[0], ast.Dict)
    renders = {k.value: (v.value.id, v.attr) for k, v in zip(calls[0].args[0].keys, calls[0].args[0].values)}
    files = {p.stem for p in PAGES.glob("*.py")}
    assert renders == {name: (name, "render") for name in files}
    assert set(NAVIGATION) == files
