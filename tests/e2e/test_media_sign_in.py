"""Browser end-to-end: with sign-in on, an image on the Domains page (Streamlit serves it at /media/<hash>.png)
loads in the signed-in browser and is refused (403) to a request without that browser's session: no cookie,
another browser that has not signed in, and the same browser after signing out. Server: `streamlit run
serve.py` (what scripts/start.sh runs). Fails without ui/media_guard.py: Streamlit serves /media/ to anyone."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT
from tests.dashboard_server import running_dashboard
from tests.e2e.test_browser import CHROMIUM

pytestmark = pytest.mark.e2e


def _status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (scripts/test.sh installs it as root)")
    pytest.importorskip("playwright")
    tmp = tmp_path_factory.mktemp("media")
    env = {**os.environ, "TL_HOME": str(tmp / "home"), "HF_HUB_OFFLINE": "1", "TL_NO_AUTOWORKER": "1"}
    subprocess.run([sys.executable, "-c", "from tlcore import auth; auth.add_user('ana', 'correct horse 42')"],
                   env=env, cwd=ROOT, check=True, timeout=60)
    with running_dashboard(tmp, env) as (url, _):
        yield url


def test_media_files_are_served_only_to_signed_in_browsers(server):
    from playwright.sync_api import expect, sync_playwright

    url = server
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                               "--disable-background-networking", "--no-first-run"])
        ana = b.new_context().new_page()
        ana.set_default_timeout(90_000)
        ana.goto(url)
        ana.get_by_role("textbox", name="User").fill("ana")
        ana.get_by_role("textbox", name="Password").fill("correct horse 42")
        ana.get_by_role("button", name="Sign in").click()
        image = ana.locator("img[src*='/media/']").first
        expect(image).to_be_visible(timeout=120_000)               # the digits demo's sample images
        src = image.get_attribute("src")
        media = src if src.startswith("http") else url + src
        assert ana.request.get(media).status == 200                 # the signed-in browser loads it
        assert _status(media) == 403                                # no cookie (a copied URL, curl)
        stranger = b.new_context().new_page()
        stranger.goto(url)                                          # has its own browser cookie, not signed in
        expect(stranger.get_by_role("button", name="Sign in")).to_be_visible()
        assert stranger.request.get(media).status == 403
        ana.get_by_role("button", name="Sign out").click()
        expect(ana.get_by_role("button", name="Sign in")).to_be_visible()
        assert ana.request.get(media).status == 403                 # signed out: refused again
        b.close()
