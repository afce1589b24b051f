"""Sign-in gate for the whole dashboard (on only when ``$TL_HOME/users.json`` exists; see tlcore.auth)."""
from __future__ import annotations

import time

import streamlit as st

from tlcore import auth
from tlcore.errors import ConfigError
from ui.safe import md
from ui.state import home

USER = "tl_user"          # str: the signed-in user's name
FAILURES = "tl_sign_in_failures"
LOCKED = "tl_sign_in_locked"       # str: the lockout message of the last attempt


def signed_in_user() -> str | None:
    return st.session_state.get(USER)


def require_sign_in() -> None:
    """Return when the visitor may use the dashboard; otherwise show the sign-in form and stop the script."""
    root = home()
    _store_readable()
    if not auth.auth_enabled(root):
        return
    try:
        users = auth.load_users(root)
    except ConfigError as exc:
        st.error(md(exc))
        st.stop()
    if st.session_state.get(USER) in users:
        return
    st.session_state.pop(USER, None)  # removed from the users file since: signed out
    # Always call st.navigation: without it Streamlit would list (and serve) the files in pages/ directly.
    st.navigation([st.Page(lambda: _form(root), title="Sign in", icon=":material/login:", url_path="sign-in")],
                  position="hidden").run()
    st.stop()


def _store_readable() -> None:
    """A damaged or full data root stops every page with a message naming the file and the recovery command
    (``python -m tlcore doctor``), instead of a traceback."""
    from tlcore.errors import TLError
    from ui.state import get_store

    try:
        get_store().list(limit=1)
    except TLError as exc:
        st.error(md(exc))
        st.stop()


def _form(root: str) -> None:
    st.title("Sign in to TL Studio")
    with st.form("tl_sign_in"):
        st.text_input("User", key="tl_sign_in_user")
        st.text_input("Password", type="password", key="tl_sign_in_password")
        st.form_submit_button("Sign in", type="primary", icon=":material/login:", on_click=_sign_in, args=(root,))
    if st.session_state.get(LOCKED):
        st.error(md(st.session_state[LOCKED]))
    elif st.session_state.get(FAILURES):
        st.error("Unknown user or wrong password.")
    st.caption("Users are managed on the server: `python -m tlcore user add NAME`.")


def _sign_in(root: str) -> None:
    """Form callback (runs before the script, so a success shows the dashboard on this very run)."""
    name = (st.session_state.get("tl_sign_in_user") or "").strip()
    password = st.session_state.get("tl_sign_in_password") or ""
    st.session_state["tl_sign_in_password"] = ""
    st.session_state[LOCKED] = ""
    try:
        ok = auth.sign_in(name, password, root)  # lockout per name, persisted in $TL_HOME (not per session)
    except auth.LockedOut as exc:
        st.session_state[LOCKED] = str(exc)
        return
    if ok:
        st.session_state[USER] = name
        st.session_state[FAILURES] = 0
        return
    st.session_state[FAILURES] = st.session_state.get(FAILURES, 0) + 1
    time.sleep(0.5)


def _sign_out() -> None:
    st.session_state.pop(USER, None)


def sign_out_button() -> None:
    user = signed_in_user()
    if user:
        st.caption("Signed in")
        c1, c2 = st.columns([3, 2])
        c1.text(user)
        c2.button("Sign out", key="tl_sign_out", on_click=_sign_out)
