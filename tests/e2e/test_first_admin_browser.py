"""Browser end-to-end for issue 23 item 1 (closed by default): a dashboard started with no users on a
non-loopback ``server.address`` shows a browser nothing but the first-admin form; a wrong setup token is refused;
the one-time token from the server log creates the first admin, who then gets the pages; a second browser then
gets the sign-in form (the token is used up and no page opens without signing in).

The server is started with ``--server.address 0.0.0.0`` (what an admin opening it to the network types), and the
browser reaches it only through 127.0.0.1: no traffic leaves loopback."""
from __future__ import annotations

import json
import os
import re
import time

import pytest

from tests.dashboard_server import running_dashboard
from tests.e2e.test_browser import CHROMIUM

pytestmark = pytest.mark.e2e
TOKEN = re.compile(r"one-time setup token: (\S+)")


def _token(log, wait_s: float = 60.0) -> str:
    deadline = time.time() + wait_s
    while time.time() < deadline:
        found = TOKEN.findall(log.read_text(errors="replace")) if log.exists() else []
        if found:
            assert len(set(found)) == 1, found  # one token per server process
            return found[-1]
        time.sleep(0.5)
    raise AssertionError("no setup token in the server log:\n" + log.read_text(errors="replace")[-3000:])


def test_item1_first_admin_flow_in_a_browser_on_a_non_loopback_address(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (scripts/test.sh installs it as root)")
    pytest.importorskip("playwright")
    from playwright.sync_api import expect, sync_playwright

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "TL_OPEN_WITHOUT_SIGN_IN"}
    env.update({"TL_HOME": str(home), "HF_HUB_OFFLINE": "1", "TL_NO_AUTOWORKER": "1"})
    with running_dashboard(tmp_path, env, address="0.0.0.0") as (url, _):
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                                   "--disable-background-networking",
                                                                   "--no-first-run"])
            page = b.new_context().new_page()
            page.set_default_timeout(90_000)
            page.goto(url)
            expect(page.get_by_role("heading", name="Set up TL Studio")).to_be_visible()
            assert page.get_by_text("Domains", exact=True).count() == 0  # no navigation, no page
            token = _token(tmp_path / "streamlit.log")

            def submit(tok: str, name: str = "ana", password: str = "correct horse 42"):
                page.get_by_label("Setup token (from the server log)").fill(tok)
                page.get_by_label("Admin user name").fill(name)
                page.get_by_label("Password", exact=True).fill(password)
                page.get_by_label("Password again").fill(password)
                page.get_by_role("button", name="Create the first admin").click()

            submit("not-the-token")
            expect(page.get_by_text("Wrong setup token")).to_be_visible()
            assert not (home / "users.json").exists()
            submit(token)
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()  # signed in as the new admin
            expect(page.get_by_role("heading", name="Set up TL Studio")).to_have_count(0)
            users = json.loads((home / "users.json").read_text())
            assert "ana" in users.get("admins", []) and (home / "users.json").stat().st_mode & 0o077 == 0

            other = b.new_context().new_page()  # another browser: users exist now, so it must sign in
            other.set_default_timeout(90_000)
            other.goto(url)
            expect(other.get_by_role("button", name="Sign in")).to_be_visible()
            expect(other.get_by_role("heading", name="Set up TL Studio")).to_have_count(0)
            b.close()
