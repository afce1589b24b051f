"""Sign-in gate for the whole dashboard: on when ``$TL_HOME/users.json`` exists (named users, see tlcore.auth)
or when single sign-on is configured (an ``[auth]`` section in ``.streamlit/secrets.toml``: Streamlit's
``st.login`` with an OpenID Connect provider). With both, the sign-in page offers both. A single-sign-on user is
known as ``sso:`` + a verified e-mail (or ``preferred_username``/``sub``); an allow-list (``[app]
allowed_email_domains`` / ``allowed_users``) is required unless ``allow_any_account = true``, and the ID token's
``exp`` is checked (Streamlit does not). With no users and no single sign-on the dashboard is open only on a
loopback address (or with ``TL_OPEN_WITHOUT_SIGN_IN=1``); elsewhere it shows nothing but the first-admin form,
which asks for the one-time setup token printed in the server log. Every sign-in has an absolute lifetime
(``TL_SESSION_HOURS``), and timer-refreshed fragments re-check it through :func:`session_guard`."""
from __future__ import annotations

import time

import streamlit as st

from tlcore import auth
from tlcore.errors import ConfigError
from ui import media_guard
from ui.safe import md
from ui.state import home

USER = "tl_user"          # str: the signed-in user's name (single sign-on: "sso:<identity>")
SIGNED_IN_AT = "tl_signed_in_at"   # float: when this session signed in (absolute lifetime, TL_SESSION_HOURS)
FAILURES = "tl_sign_in_failures"
LOCKED = "tl_sign_in_locked"       # str: the lockout message of the last attempt
SETUP_ERROR = "tl_setup_error"     # str: why the last first-admin attempt failed
EXPIRED = "tl_session_expired"     # str: shown on the sign-in form after a session ran out


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


def _verified(value) -> bool:
    return value is True or str(value).strip().lower() == "true"


def sso_identity(user: dict, app: dict, now: float | None = None) -> tuple[str | None, str | None]:
    """``("sso:<identity>", None)`` for a signed-in single-sign-on user who may enter, else ``(None, why not)``.

    The identity is the ``email`` claim, which must then be verified (``email_verified``; an admin may accept
    unverified addresses with ``[app] trust_unverified_email = true``), else ``preferred_username``, else ``sub``.
    An allow-list (``[app] allowed_email_domains`` for verified e-mails, ``allowed_users`` for identities) is
    required unless an admin opens the server to every account at the provider with ``[app] allow_any_account =
    true``. The ``sso:`` prefix keeps these identities apart from users-file names and their admin entries."""
    email = user.get("email")
    if email:
        if not (_verified(user.get("email_verified")) or app.get("trust_unverified_email") is True):
            return None, (f"The identity provider has not verified the e-mail address {email}; verify it there, or "
                          "ask an admin.")
        name, from_email = str(email), True
    else:
        name, from_email = user.get("preferred_username") or user.get("sub"), False
    if not name:
        return None, "The identity provider sent no e-mail or user name."
    name = str(name)
    exp = user.get("exp")
    if exp is not None and float(exp) < (time.time() if now is None else now):
        return None, "Your sign-in has expired; sign in again."
    domains = [str(d).lower().lstrip("@") for d in app.get("allowed_email_domains", [])]
    allowed = [str(u) for u in app.get("allowed_users", [])]
    if domains or allowed:
        domain = name.rsplit("@", 1)[-1].lower() if from_email and "@" in name else None
        if not ((domain is not None and domain in domains) or name in allowed):
            return None, f"{name} may not use this server; ask an admin to allow it."
    elif app.get("allow_any_account") is not True:
        return None, ("Single sign-on is configured without an allow-list, so nobody may enter: an admin sets "
                      "[app] allowed_email_domains or allowed_users in .streamlit/secrets.toml (or, on purpose, "
                      "allow_any_account = true).")
    return auth.sso_name(name), None


def listen_address() -> str | None:
    """``server.address`` as Streamlit was started with it (None/empty: every interface)."""
    from streamlit import config

    return config.get_option("server.address")


def _client_address() -> str | None:
    """The browser's IP address (None on loopback, where Streamlit reports none, and outside a request)."""
    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001 - no request context
        return None
    return ip if isinstance(ip, str) else None


def _current_identity(root: str) -> tuple[str | None, str | None]:
    """``(user, None)`` for a session that may use the dashboard right now (``("", None)``: sign-in is off and
    the dashboard may be open), else ``(None, why not or None)``. No widgets: the gate and the fragments' check."""
    sso = sso_configured()
    if not auth.auth_enabled(root) and not sso:
        return ("", None) if auth.open_access_problem(listen_address()) is None else (None, None)
    users = auth.load_users(root) if auth.auth_enabled(root) else {}
    if sso and st.user.is_logged_in:
        name, problem = sso_identity(st.user.to_dict(), _app_secrets())
        if not name:
            return None, problem
        if st.session_state.get(USER) != name:  # the provider's sign-in time (the cookie outlives sessions)
            claims = st.user.to_dict()
            st.session_state[SIGNED_IN_AT] = float(claims.get("auth_time") or claims.get("iat") or time.time())
    else:
        name = st.session_state.get(USER)
        if name not in users:
            return None, None
        st.session_state.setdefault(SIGNED_IN_AT, time.time())
    if auth.session_expired(st.session_state.get(SIGNED_IN_AT)):
        return None, "expired"
    return name, None


def _drop_session(reason: str | None = None) -> None:
    had = st.session_state.pop(USER, None)
    st.session_state.pop(SIGNED_IN_AT, None)
    if had and reason == "expired":
        st.session_state[EXPIRED] = "Your session reached its time limit; sign in again."
    media_guard.revoke()


def session_guard() -> None:
    """First call of every fragment that refreshes on a timer (job cards, sidebar, Predict, exports): a user
    removed from the users file, whose single-sign-on token expired or whose session outlived
    ``TL_SESSION_HOURS`` loses the page on the next tick (a full rerun shows the sign-in form)."""
    try:
        name, problem = _current_identity(home())
    except ConfigError:
        name, problem = None, None
    if name is not None:
        return
    had = USER in st.session_state
    _drop_session(problem)
    if had:
        st.rerun()  # the whole app: require_sign_in then shows the form
    st.stop()


def require_sign_in() -> None:
    """Return when the visitor may use the dashboard; otherwise show the sign-in (or first-admin) form and stop
    the script."""
    root = home()
    _store_readable()
    sso = sso_configured()
    if not auth.auth_enabled(root) and not sso:
        problem = auth.open_access_problem(listen_address())
        if problem is None:
            return
        media_guard.revoke()
        auth.setup_token()  # printed once to the server log
        st.navigation([st.Page(lambda: _setup_form(root, problem), title="Set up", icon=":material/key:",
                               url_path="setup")], position="hidden").run()
        st.stop()
    try:
        name, problem = _current_identity(root)
    except ConfigError as exc:
        st.error(md(exc))
        st.stop()
    if name:
        st.session_state[USER] = name
        _media_access(name)
        return
    _drop_session(problem)
    if problem and sso and st.user.is_logged_in:
        if problem == "expired":
            st.session_state.pop(EXPIRED, None)
            problem = "Your session reached its time limit; sign out, then sign in again."
        st.navigation([st.Page(lambda: _refused(problem), title="Sign in", icon=":material/login:",
                               url_path="sign-in")], position="hidden").run()
        st.stop()
    # Always call st.navigation: without it Streamlit would list (and serve) the files in pages/ directly.
    users = auth.load_users(root) if auth.auth_enabled(root) else {}
    st.navigation([st.Page(lambda: _form(root, bool(users), sso), title="Sign in", icon=":material/login:",
                           url_path="sign-in")], position="hidden").run()
    st.stop()


def announce_first_admin_setup() -> None:
    """At server start (serve.py): with no users, no single sign-on and a non-loopback address, print the one-time
    first-admin token to the server log now (as Jupyter does), not only when the first browser comes."""
    try:
        if not auth.auth_enabled(home()) and not sso_configured() and auth.open_access_problem(listen_address()):
            auth.setup_token()
    except Exception:  # noqa: BLE001 - the page asks for it anyway (and prints it then)
        pass


def _setup_form(root: str, problem: str) -> None:
    """No users and reachable from other machines: nothing but the first-admin form (token from the server log)."""
    st.title("Set up TL Studio")
    st.warning(md(problem))
    with st.form("tl_setup"):
        st.text_input("Setup token (from the server log)", type="password", key="tl_setup_token")
        st.text_input("Admin user name", key="tl_setup_user")
        st.text_input("Password", type="password", key="tl_setup_password")
        st.text_input("Password again", type="password", key="tl_setup_password2")
        st.form_submit_button("Create the first admin", type="primary", on_click=_setup, args=(root,))
    if st.session_state.get(SETUP_ERROR):
        st.error(md(st.session_state[SETUP_ERROR]))


def _setup(root: str) -> None:
    token = st.session_state.get("tl_setup_token") or ""
    name = (st.session_state.get("tl_setup_user") or "").strip()
    p1, p2 = st.session_state.get("tl_setup_password") or "", st.session_state.get("tl_setup_password2") or ""
    for k in ("tl_setup_token", "tl_setup_password", "tl_setup_password2"):
        st.session_state[k] = ""
    st.session_state[SETUP_ERROR] = ""
    if p1 != p2:
        st.session_state[SETUP_ERROR] = "The two passwords differ."
        return
    try:
        auth.create_first_admin(token, name, p1, root)
    except ConfigError as exc:
        st.session_state[SETUP_ERROR] = str(exc)
        time.sleep(0.5)
        return
    st.session_state[USER] = name
    st.session_state[SIGNED_IN_AT] = time.time()


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
    if st.session_state.get(EXPIRED):
        st.info(md(st.session_state[EXPIRED]))
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
    try:  # lock per name and address, throttle per address, persisted in $TL_HOME (not per session)
        ok = auth.sign_in(name, password, root, address=_client_address())
    except auth.LockedOut as exc:
        st.session_state[LOCKED] = str(exc)
        return
    if ok:
        st.session_state[USER] = name
        st.session_state[SIGNED_IN_AT] = time.time()
        st.session_state[FAILURES] = 0
        st.session_state.pop(EXPIRED, None)
        return
    st.session_state[FAILURES] = st.session_state.get(FAILURES, 0) + 1
    time.sleep(0.5)


def _sign_out() -> None:
    st.session_state.pop(USER, None)
    st.session_state.pop(SIGNED_IN_AT, None)
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
