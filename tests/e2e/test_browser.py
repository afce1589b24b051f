"""Browser end-to-end: the real dashboard in headless Chromium, a real worker, a real run.

Opens the dashboard, keeps the built-in image demo pair, starts a linear_probe run on the Train page,
watches it complete, finds it on the Compare page, and saves a screenshot of every page to
``test-artifacts/`` (kept by CI as test artifacts).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dashboard(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (scripts/test.sh installs it as root)")
    pytest.importorskip("playwright")
    port = free_port()
    env = {**os.environ, "TL_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    env.pop("TL_NO_AUTOWORKER", None)
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
                             str(port), "--server.headless", "true", "--server.address", "127.0.0.1"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    import urllib.request

    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("the dashboard did not start:\n" + (tmp_path / "streamlit.log").read_text()[-3000:])
    yield url, tmp_path / "home"
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)
    subprocess.run([sys.executable, "-c", "import os,signal,sys\nfrom tlcore.jobs.queue import JobQueue\n"
                    "for w in JobQueue().live_workers(): os.kill(w['pid'], signal.SIGTERM)"],
                   env={**env, "TL_HOME": str(tmp_path / "home")}, cwd=ROOT, timeout=60)


def test_demo_run_end_to_end(dashboard):
    from playwright.sync_api import expect, sync_playwright

    url, home = dashboard
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(url)
        expect(page.get_by_text("The chosen pair", exact=False).first).to_be_visible(timeout=90_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(ARTIFACTS / "1-domains.png"), full_page=True)

        page.get_by_role("link", name="Train").click()
        start = page.get_by_role("button", name="Start run")
        expect(start).to_be_enabled(timeout=90_000)
        expect(page.get_by_text("Trainable parameters", exact=False)).to_be_visible(timeout=90_000)
        start.click()
        expect(page.get_by_text("Queued 1 job", exact=False)).to_be_visible()
        expect(page.get_by_text("completed · linear_probe", exact=False).first).to_be_visible(timeout=240_000)
        page.wait_for_timeout(2500)
        page.screenshot(path=str(ARTIFACTS / "2-train.png"), full_page=True)

        page.get_by_role("link", name="Compare").click()
        expect(page.get_by_text("linear_probe", exact=False).first).to_be_visible()
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(ARTIFACTS / "3-compare.png"), full_page=True)

        page.get_by_role("link", name="Embeddings").click()
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
        page.wait_for_timeout(2000)
        page.screenshot(path=str(ARTIFACTS / "4-embeddings.png"), full_page=True)
        browser.close()

    from tlcore.runs.store import RunStore

    runs = RunStore(home).list()
    assert len(runs) == 1 and runs[0].status == "completed" and runs[0].strategy == "linear_probe"


def test_embeddings_page_renders_20k_points(dashboard):
    """A fake run with 20,000 points (10k source + 10k target) before and after: both WebGL charts render."""
    import io

    import numpy as np
    from playwright.sync_api import expect, sync_playwright

    from tests.app.fake_runs import make_run
    from tlcore.runs.store import RunStore

    url, home = dashboard
    store = RunStore(home)
    rid = make_run(store, name="20k points", n=10_000, dim=32, strategy="dann")
    with np.load(store.path(rid, "features_after.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["target_test.features"] = (arrays["target_test.features"].astype(np.float32) + 2).astype(np.float16)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    store.write_bytes(rid, "features_before.npz", buf.getvalue())
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--use-gl=swiftshader",
            "--enable-unsafe-swiftshader"])
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.get_by_role("link", name="Embeddings").click()
        t0 = time.time()
        expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=120_000)
        expect(page.get_by_text("20,000 of 20,000 points").first).to_be_visible(timeout=120_000)
        seconds = time.time() - t0
        page.wait_for_timeout(3000)
        # still responsive: the main thread answers and both plots hold their 20k points
        n = page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                          ".map(p => p._fullData.reduce((s, t) => s + (t._length || 0), 0))")
        page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "5-embeddings-20k.png"), full_page=True)
        browser.close()
    assert n == [20_000, 20_000]
    assert seconds < 120, f"the page took {seconds:.0f}s to show 2 x 20k points"
    print(f"embeddings page with 2 x 20,000 points rendered in {seconds:.1f}s")


def test_exported_report_opens_offline(tmp_path):
    """An HTML report of fake runs, opened from a file:// URL with the network off, draws its charts."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (scripts/test.sh installs it as root)")
    pytest.importorskip("playwright")
    from playwright.sync_api import expect, sync_playwright

    from tests.app.fake_runs import make_run
    from tlcore.reports.html import build_report
    from tlcore.runs.store import RunStore

    store = RunStore(tmp_path / "home")
    ids = [make_run(store, name="probe", seed=0, truth_seed=1),
           make_run(store, name="<b>ft</b>", strategy="fine_tuning", seed=1, truth_seed=1)]
    report = tmp_path / "report.html"
    report.write_text(build_report(store, ids, n_resamples=100), encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        context = browser.new_context(offline=True, viewport={"width": 1300, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(report.as_uri())
        expect(page.locator(".js-plotly-plot").first).to_be_visible()
        assert page.locator(".js-plotly-plot").count() >= 4
        expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
        expect(page.get_by_text("McNemar", exact=False).first).to_be_visible()
        expect(page.get_by_text("<b>ft</b>", exact=False).first).to_be_visible()   # escaped, shown as text
        page.screenshot(path=str(ARTIFACTS / "5-report.png"), full_page=True)
        browser.close()
