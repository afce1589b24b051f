"""The real server as `scripts/start.sh` starts it (`streamlit run serve.py`), probed over HTTP and WebSocket
(no browser): RELIABILITY.md item 10 (cross-site WebSocket hijacking: a page on another origin cannot open
the app's stream), item 79 (user content under /media/ is never sniffed), and /media/ behind sign-in."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT
from tests.dashboard_server import running_dashboard


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("websockets")
    tmp = tmp_path_factory.mktemp("server")
    env = {**os.environ, "TL_HOME": str(tmp / "home"), "TL_NO_AUTOWORKER": "1"}
    subprocess.run([sys.executable, "-c", "from tlcore import auth; auth.add_user('ana', 'correct horse 42')"],
                   env=env, cwd=ROOT, check=True, timeout=60)
    with running_dashboard(tmp, env) as (url, _):
        yield int(url.rsplit(":", 1)[1])


def _handshake(port: int, origin: str | None) -> str:
    import websockets

    async def go():
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", origin=origin,
                                          subprotocols=["streamlit"], open_timeout=20):
                return "open"
        except websockets.InvalidStatus as exc:
            return str(exc.response.status_code)

    return asyncio.run(go())


def test_item_10_cross_site_websocket_is_refused_same_origin_opens(server):
    assert _handshake(server, "https://evil.example") == "403"
    assert _handshake(server, f"http://127.0.0.1:{server}") == "open"


def test_media_is_refused_without_a_signed_in_browser_on_the_real_server(server):
    first = urllib.request.urlopen(f"http://127.0.0.1:{server}/", timeout=10)
    assert "tl_browser=" in first.headers.get("set-cookie", "") and "HttpOnly" in first.headers["set-cookie"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{server}/media/0123456789abcdef.png", timeout=10)
    assert refused.value.code == 403  # Streamlit alone answers 404 (unknown file) or 200: the guard is in front
    assert refused.value.headers["x-content-type-options"] == "nosniff"
