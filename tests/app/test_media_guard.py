"""/media/* (Streamlit's images and downloads) only for a browser with a signed-in, connected session when
sign-in is on (ui/media_guard.py). The middleware is driven with raw ASGI messages (no server, no browser);
tests/e2e/test_media_sign_in.py checks the same in Chromium against `streamlit run serve.py`."""
from __future__ import annotations

import asyncio
import ast

from tests.conftest import ROOT
from ui import media_guard

TOKEN = "A" * 43


async def _media_app(scope, receive, send):  # stands in for Streamlit's media route
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"image/png")]})
    await send({"type": "http.response.body", "body": b"\x89PNG secret"})


def _get(guard, path: str, cookie: str | None = None):
    headers = [(b"host", b"x")] + ([(b"cookie", f"other=1; tl_browser={cookie}".encode())] if cookie else [])
    scope = {"type": "http", "method": "GET", "path": path, "headers": headers, "scheme": "http"}
    out = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        out.append(message)

    asyncio.run(guard(scope, receive, send))
    start = out[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in out[1:])


def _guard(sign_in=True, active=("s1",)):
    return media_guard.MediaGuard(_media_app, sign_in_required=lambda: sign_in, prefix=lambda: "/media/",
                                  is_active=lambda sid: sid in active)


def test_media_is_refused_without_a_signed_in_session_and_served_with_one():
    media_guard.revoke_session("s1")
    guard = _guard()
    status, _, body = _get(guard, "/media/0a1b.png")
    assert status == 403 and b"secret" not in body                      # no cookie at all
    assert _get(guard, "/media/0a1b.png", TOKEN)[0] == 403              # a browser that never signed in
    media_guard.grant_token(TOKEN, "s1", "ana")                           # ana signs in from that browser
    status, headers, body = _get(guard, "/media/0a1b.png", TOKEN)
    assert status == 200 and body == b"\x89PNG secret"
    assert headers[b"x-content-type-options"] == b"nosniff"             # RELIABILITY item 79
    assert _get(guard, "/media/0a1b.png", "B" * 43)[0] == 403           # another browser still cannot
    media_guard.revoke_session("s1")                                      # sign-out
    assert _get(guard, "/media/0a1b.png", TOKEN)[0] == 403


def test_a_grant_ends_with_its_session_and_pages_are_not_guarded():
    guard = _guard(active=())                                             # the signed-in tab was closed
    media_guard.grant_token(TOKEN, "s2", "ana")
    assert _get(guard, "/media/0a1b.png", TOKEN)[0] == 403
    assert TOKEN not in media_guard._grants                               # pruned
    assert _get(guard, "/", TOKEN)[0] == 200                              # the page (sign-in form) itself
    assert _get(_guard(sign_in=False), "/media/0a1b.png")[0] == 200       # sign-in off: nothing changes


def test_every_browser_gets_an_httponly_cookie_once():
    guard = _guard()
    _, headers, _ = _get(guard, "/")
    cookie = headers[b"set-cookie"].decode()
    assert cookie.startswith("tl_browser=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert media_guard._valid(token) and token != TOKEN
    assert b"set-cookie" not in _get(guard, "/", token)[1]               # kept, not rotated
    assert media_guard._valid("x") is False and media_guard._valid("A" * 43 + "!") is False


def test_the_start_script_serves_the_dashboard_through_the_guard():
    tree = ast.parse((ROOT / "serve.py").read_text())
    assert "MediaGuard" in ast.unparse(tree) and "st.App" in ast.unparse(tree)
    assert "streamlit run serve.py" in (ROOT / "scripts" / "start.sh").read_text()
