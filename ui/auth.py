"""Sign-in gate for the whole dashboard: on when ``$TL_HOME/users.json`` exists (named users, see tlcore.auth)
or when single sign-on is configured (an ``[auth]`` section in ``.streamlit/secrets.toml``: Streamlit's
``st.login`` with an OpenID Connect provider). With both, the sign-in page offers both. A single-sign-on user is
known by e-mail (or ``preferred_username``/``sub``); ``[app] allowed_email_domains`` / ``allowed_users`` limit
who may enter, and the ID token's ``exp`` is checked (Streamlit does not)."""
from __future__ import annotations

import time

import streamlit as st

from tlcore import auth
from tlcore.errors import ConfigError
from ui import media_guard
from ui.safe import md
from ui.state import home

USER = "tl_user"          # str: the signed-in user's name
FAILURES = "tl_sign_in_failures"
LOCKED = "tl_sign_in_locked"       # str: the lockout message of the last attempt


def signed_in_user() -> str | None:
    return st.session_state.get(USER)


def sso_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section (OpenID Connect through ``st.login``)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file
        return False


def _app_secrets() -> dict:
    try:
        return dict(st.secrets.get("app", {}))
    except Exception:  # noqa: BLE001
        return {}


def sso_identity(user: dict, app: dict, now: float | None = None) -> tuple[str | None, str | None]:
    """``(name, None)`` for a signed-in single-sign-on user who may enter, else ``(None, why not)``."""
    name = user.get("email") or user.get("preferred_username") or user.get("sub")
    if not name:
        return None, "The identity provider sent no e-mail or user name."
    exp = user.get("exp")
    if exp is not None and float(exp) < (time.time() if now is None else now):
        return None, "Your sign-in has expired; sign in again."
    domains = [d.lower().lstrip("@") for d in app.get("allowed_email_domains", [])]
    allowed = list(app.get("allowed_users", []))
    if domains or allowed:
        domain = str(name).rsplit("@", 1)[-1].lower() if "@" in str(name) else ""
        if not (domain in domains or name in allowed):
            return None, f"{name} may not use this server; ask an admin to allow it."
    return str(name), None


def require_sign_in() -> None:
    """Return when the visitor may use the dashboard; otherwise show the sign-in form and stop the script."""
    root = home()
    _store_readable()
    sso = sso_configured()
    if not auth.auth_enabled(root) and not sso:
        return
    try:
        users = auth.load_users(root) if auth.auth_enabled(root) else {}
    except ConfigError as exc:
        st.error(md(exc))
        st.stop()
    if sso and st.user.is_logged_in:
        name, problem = sso_identity(st.user.to_dict(), _app_secrets())
        if name:
            st.session_state[USER] = name
            _media_access(name)
            return
        st.session_state.pop(USER, None)
        media_guard.revoke()
        st.navigation([st.Page(lambda: _refused(problem), title="Sign in", icon=":material/login:",
                               url_path="sign-in")], position="hidden").run()
        st.stop()
    if st.session_state.get(USER) in users:
        _media_access(st.session_state[USER])
        return
    media_guard.revoke()
    st.session_state.pop(USER, None)  # removed from the users file (or signed out of single sign-on) since
    # Always call st.navigation: without it Streamlit would list (and serve) the files in pages/ directly.
    st.navigation([st.Page(lambda: _form(root, bool(users), sso), title="Sign in", icon=":material/login:",
                           url_path="sign-in")], position="hidden").run()
    st.stop()


def _media_access(user: str) -> None:
    """This browser may now load images and downloads (/media/*); see ui/media_guard.py."""
    media_guard.grant(user)
    from streamlit import runtime

    if runtime.exists() and not media_guard.installed():
        st.sidebar.warning("Images and downloads (/media/) are served without sign-in: start the dashboard with "
                           "`streamlit run serve.py` (scripts/start.sh does).")


def _refused(problem: str) -> None:
    st.title("Sign in to TL Studio")
    st.error(md(problem))
    st.button("Sign out", key="tl_sso_sign_out", on_click=st.logout)


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


def _form(root: str, passwords: bool = True, sso: bool = False) -> None:
    st.title("Sign in to TL Studio")
    if sso:
        st.button("Sign in with single sign-on", key="tl_sso_sign_in", type="primary", icon=":material/key:",
                  on_click=st.login)
        if not passwords:
            return
        st.caption("Or with a TL Studio user:")
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
    media_guard.revoke()
    if sso_configured() and st.user.is_logged_in:
        st.logout()


def sign_out_button() -> None:
    user = signed_in_user()
    if user:
        st.caption("Signed in")
        c1, c2 = st.columns([3, 2])
        c1.text(user)
        c2.button("Sign out", key="tl_sign_out", on_click=_sign_out)
