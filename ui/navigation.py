"""The dashboard's pages: URL path, title and icon of each, in menu order, and the ``st.Page`` objects built
from the pages' ``render`` functions (app.py passes them in, so ``ui`` never imports ``views``).

Links between pages (``st.page_link``) need the page object that ``st.navigation`` registered: ``page(url_path)``
returns it once app.py has built the navigation in this session, None for a page run on its own.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import streamlit as st

# url path -> (title, icon); the first is the default page (served at "/")
PAGES = {
    "domains": ("Domains", ":material/dataset:"),
    "train": ("Train", ":material/model_training:"),
    "compare": ("Compare", ":material/leaderboard:"),
    "embeddings": ("Embeddings", ":material/scatter_plot:"),
    "predict": ("Predict", ":material/online_prediction:"),
    "label": ("Label", ":material/label:"),
}
BUILT = "tl_navigation_pages"  # session state: url path -> the st.Page app.py registered in this session


def build_pages(renders: Mapping[str, Callable[[], None]]) -> list[st.Page]:
    """One ``st.Page`` per entry of PAGES, in order, each running ``renders[url_path]``.

    Args:
        renders: url path -> the page module's ``render`` function; must name exactly the paths of PAGES.
    """
    if set(renders) != set(PAGES):
        raise ValueError(f"pages without a render function or an entry in PAGES: {set(renders) ^ set(PAGES)}")
    built = {url: st.Page(renders[url], title=title, icon=icon, url_path=url, default=i == 0)
             for i, (url, (title, icon)) in enumerate(PAGES.items())}
    st.session_state[BUILT] = built
    return list(built.values())


def page(url_path: str) -> st.Page | None:
    """The navigation's page at ``url_path`` (for ``st.page_link``), None where app.py has not built it (a page
    run on its own)."""
    return (st.session_state.get(BUILT) or {}).get(url_path)
