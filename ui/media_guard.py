"""Images and downloads behind sign-in: Streamlit serves them at ``/media/<hash>.<ext>`` from its own HTTP route,
which knows nothing of TL Studio's sign-in. ``MediaGuard`` is an ASGI middleware (installed by ``serve.py``
through ``st.App(middleware=...)``, Streamlit's supported hook) that

- gives every browser an unguessable ``tl_browser`` cookie (HttpOnly, SameSite=Lax) on its first HTTP request
  (the page itself, before the WebSocket opens, so the script sees it in ``st.context.cookies``);
- when sign-in is on, answers ``/media/*`` with 403 unless that cookie belongs to a browser whose Streamlit
  session is signed in and still connected. ``require_sign_in`` calls ``grant()`` for the session once the user
  is known, and ``revoke()`` on sign-out or when the user is no longer allowed.

A media file is thus readable only by a browser that holds a live signed-in session; a copied URL, a proxy log
or another machine gets 403. Run with plain ``streamlit run app.py`` the guard is absent (there is no
middleware hook for that mode); ``installed()`` says so and the sidebar warns when sign-in is on.
"""
from __future__ import annotations

import secrets
import threading

COOKIE = "tl_browser"
_TOKEN_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")

_lock = threading.Lock()
_grants: dict[str, dict[str, str]] = {}   # browser token -> {Streamlit session id: user name}
_installed = False


def installed() -> bool:
    """True when this server process answers HTTP through ``MediaGuard`` (started with ``serve.py``)."""
    return _installed


def _valid(token: str | None) -> bool:
    return bool(token) and 32 <= len(token) <= 64 and set(token) <= _TOKEN_CHARS


def _session_active(session_id: str) -> bool:
    from streamlit.runtime import Runtime

    return Runtime.exists() and Runtime.instance().is_active_session(session_id)


def grant_token(token: str | None, session_id: str, user: str) -> None:
    if _valid(token):
        with _lock:
            _grants.setdefault(token, {})[session_id] = user


def revoke_session(session_id: str) -> None:
    with _lock:
        for token in list(_grants):
            _grants[token].pop(session_id, None)
            if not _grants[token]:
                del _grants[token]


def allowed(token: str | None, is_active=_session_active) -> bool:
    """True when ``token`` belongs to a browser with a signed-in, connected session (ended sessions are pruned)."""
    if not _valid(token):
        return False
    with _lock:
        sessions = dict(_grants.get(token, {}))
    live = [sid for sid in sessions if is_active(sid)]
    for sid in set(sessions) - set(live):
        revoke_session(sid)
    return bool(live)


def _current() -> tuple[str | None, str | None]:
    """(browser token, session id) of the script run on this thread, or (None, None) outside a server."""
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return None, None
    try:
        token = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no request context (AppTest)
        token = None
    return token, ctx.session_id


def grant(user: str) -> None:
    """Called by the sign-in gate on every script run of a signed-in session."""
    token, session_id = _current()
    if session_id:
        grant_token(token, session_id, user)


def revoke() -> None:
    _, session_id = _current()
    if session_id:
        revoke_session(session_id)


def sign_in_on() -> bool:
    """Whether the dashboard asks for sign-in (users file or single sign-on): read per request, like the pages."""
    from tlcore import auth
    from ui.auth import sso_configured
    from ui.state import home

    try:
        from ui.auth import listen_address

        return (auth.auth_enabled(home()) or sso_configured()
                or auth.open_access_problem(listen_address()) is not None)  # no users, not loopback: closed
    except Exception:  # noqa: BLE001 - fail closed
        return True


def _media_prefix() -> str:
    from streamlit import config

    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/media/" if base else "/media/"


def _guarded(path: str, prefix: str) -> bool:
    """``/media/*`` and Streamlit's ``/_stcore/metrics`` (server internals) need a signed-in browser."""
    return path.startswith(prefix) or path.rstrip("/").endswith("/_stcore/metrics")


def _cookie(scope) -> str | None:
    from starlette.requests import cookie_parser

    for name, value in scope.get("headers", []):
        if name == b"cookie":
            return cookie_parser(value.decode("latin-1")).get(COOKIE)
    return None


class MediaGuard:
    """Pure ASGI middleware (no buffering, so media range requests and WebSockets pass untouched)."""

    def __init__(self, app, sign_in_required=sign_in_on, prefix=_media_prefix, is_active=_session_active):
        global _installed
        self.app = app
        self.sign_in_required = sign_in_required
        self.prefix = prefix
        self.is_active = is_active
        _installed = True

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _cookie(scope)
        if (_guarded(scope["path"], self.prefix()) and self.sign_in_required()
                and not allowed(token, self.is_active)):
            body = b"Sign in to TL Studio first: images and downloads are only served to signed-in browsers.\n"
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode()),
                                    (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]})
            await send({"type": "http.response.body", "body": body})
            return
        extra = []
        if scope["path"].startswith(self.prefix()):  # user content: never sniffed into HTML (RELIABILITY 79)
            extra.append((b"x-content-type-options", b"nosniff"))
        if not _valid(token):
            secure = "; Secure" if scope.get("scheme") == "https" else ""
            extra.append((b"set-cookie", f"{COOKIE}={secrets.token_urlsafe(32)}; Path=/; HttpOnly; "
                                         f"SameSite=Lax{secure}".encode()))
        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
