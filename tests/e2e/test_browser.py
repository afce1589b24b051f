"""Browser end-to-end: the real dashboard in headless Chromium, a real worker, real runs (tiny models).

One fresh server (fresh data root) for the module; the tests run in file order and build on each other:
navigation on the fresh server first, then every page's main buttons, each waiting for its result, so a page
and the background command it starts are always tested together. Screenshots of every page go to
``test-artifacts/`` (kept by CI as artifacts; committed after a run).

Locators: roles, labels and keyed containers (``st.container(key=...)`` -> CSS class ``st-key-<key>``), never
text that a Plotly chart may also draw (chart SVG text can be hidden and would match first).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.dashboard_server import running_dashboard

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
PAGES = ("Domains", "Train", "Compare", "Embeddings")
TIMINGS: dict[str, float] = {}

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (scripts/test.sh installs it as root)")
    pytest.importorskip("playwright")
    tmp = tmp_path_factory.mktemp("e2e")
    home = tmp / "home"
    env = {**os.environ, "TL_HOME": str(home), "HF_HUB_OFFLINE": "1", "TL_MAX_JOBS": "2"}  # 2 cores: 2 tiny jobs
    env.pop("TL_NO_AUTOWORKER", None)
    with running_dashboard(tmp, env, script="app.py") as (url, _):
        yield url, home, tmp
    subprocess.run([sys.executable, "-c", "import os,signal,sys\nfrom tlcore.jobs.queue import JobQueue\n"
                    "for w in JobQueue().live_workers(): os.kill(w['pid'], signal.SIGTERM)"],
                   env={**env, "TL_HOME": str(home)}, cwd=ROOT, timeout=60)


@pytest.fixture(scope="module")
def browser(dashboard):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # pages import and compute on a shared 2-core CPU
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    p = browser.new_page(viewport={"width": 1400, "height": 1000})
    p.set_default_timeout(60_000)
    yield p
    p.close()


def shot(page, name: str) -> None:
    """Full-page screenshot once the script run has finished (no half-drawn, faded elements)."""
    try:
        page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=20_000)
    except Exception:  # noqa: BLE001 - a fragment may be polling: take the picture anyway
        pass
    try:  # charts and images arrive after the script run: no grey placeholders or half-loaded pictures
        page.wait_for_function("() => !document.querySelector('[data-testid=stSkeleton]') && "
                               "[...document.images].every(i => i.complete)", timeout=15_000)
    except Exception:  # noqa: BLE001 - take the picture anyway
        pass
    page.mouse.move(0, 0)  # no tooltip of the last hovered button in the picture
    page.wait_for_timeout(800)
    # Streamlit scrolls inside its main container, so a "full page" screenshot is only the viewport: grow the
    # viewport to the content's height for the picture, then restore it
    size = page.viewport_size
    height = page.evaluate("() => Math.max(...['stMain', 'stMainBlockContainer', 'stSidebarContent'].map("
                           "id => (document.querySelector(`[data-testid=${id}]`) || {scrollHeight: 0}).scrollHeight))")
    page.set_viewport_size({"width": size["width"], "height": min(max(size["height"], int(height) + 40), 8000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(size)


def keyed(page, prefix: str):
    """Elements of ``st.container(key=...)`` whose key starts with ``prefix``."""
    return page.locator(f"[class*='st-key-{prefix}']")


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` (a regex) in the selectbox labelled ``label``."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=re.compile(option)).first.click()


def set_number(page, label: str, value) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_timeout(400)


def goto(page, name: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name).click()
    page.wait_for_timeout(300)


def assert_named_navigation(page) -> None:
    from playwright.sync_api import expect

    nav = page.get_by_test_id("stSidebarNav")
    expect(nav).to_be_visible()
    for name in PAGES:
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    for raw in ("app", "compare", "domains", "embeddings", "train", "predict"):  # Streamlit's list of a pages/ dir
        expect(nav.get_by_role("link", name=raw, exact=True)).to_have_count(0)


def test_named_navigation_on_a_fresh_server(dashboard, page):
    """Item 9: the first request of a fresh server goes straight to a page URL; the sidebar is the named
    navigation there and after every click."""
    from playwright.sync_api import expect

    url, _, _ = dashboard
    page.goto(url + "/embeddings")
    expect(page.get_by_role("heading", name="Embeddings")).to_be_visible(timeout=90_000)
    assert_named_navigation(page)
    for name in ("Domains", "Train", "Compare", "Embeddings", "Domains"):
        goto(page, name)
        expect(page.get_by_role("heading", name=name if name != "Compare" else "Compare runs").first).to_be_visible()
        assert_named_navigation(page)
    shot(page, "1-domains-demo")


def test_domains_upload_and_shift_report(dashboard, page, tmp_path):
    from playwright.sync_api import expect

    url, _, _ = dashboard
    csv = tmp_path / "reviews.csv"
    csv.write_text("review,stars\n" + "".join(f"a lovely useful thing number {i},pos\nbroken and bad item {i},neg\n"
                                              for i in range(15)))
    page.goto(url)
    expect(page.get_by_role("heading", name="Domains")).to_be_visible(timeout=90_000)
    page.locator("input[type=file]").set_input_files(str(csv))
    expect(page.get_by_role("combobox", name="Text column")).to_be_visible()
    name = page.get_by_label("Name for the new domain").first
    name.fill("tiny reviews")
    name.press("Enter")
    page.get_by_role("button", name="Save domain").click()
    expect(page.get_by_text("Saved 30 samples, 2 classes.")).to_be_visible()
    for role in ("Source", "Target"):
        page.get_by_role("radiogroup", name=f"{role} comes from").get_by_text("Saved domain").click()
        page.wait_for_timeout(500)
    expect(page.get_by_role("heading", name="Shift report")).to_be_visible()
    t0 = time.time()
    page.get_by_role("button", name="Compute the shift report").click()
    expect(keyed(page, "shift-reading")).to_be_visible(timeout=120_000)
    TIMINGS["shift report"] = time.time() - t0
    expect(keyed(page, "shift-reading")).to_contain_text(re.compile("(Small|Moderate|Large) shift"))
    shot(page, "2-domains-upload-shift")


def test_train_start_cancel_and_run_all(dashboard, page):
    from playwright.sync_api import expect

    url, home, _ = dashboard
    page.goto(url + "/train")
    expect(page.get_by_role("heading", name="Train")).to_be_visible(timeout=90_000)
    # the pair saved on Domains (another session) is preselected; switch to the image demo for tiny runs
    expect(page.get_by_role("combobox", name="Domain pair (source → target)")).to_have_value(
        re.compile("tiny reviews"))
    expect(page.get_by_label("Max length (tokens)", exact=True)).to_be_visible()  # the text form is drawn
    choose(page, "Domain pair (source → target)", "demo: digits")
    expect(page.get_by_label("Image size (px)", exact=True)).to_be_visible()
    expect(page.get_by_text("This pair holds image data, so some settings changed")).to_be_visible()
    expect(page.get_by_text("Runs 4 recipes on the same split", exact=False)).to_be_visible()  # auto, the default
    choose(page, "Strategy", r"^MCC")  # an explicit recipe: its backbone and schedule can be set
    choose(page, "Backbone", "Tiny CNN")
    set_number(page, "Epochs", 2)
    set_number(page, "Image size (px)", 32)
    set_number(page, "Max samples per domain (0 = all)", 300)
    start = page.get_by_role("button", name="Start run")
    expect(page.get_by_text("Trainable parameters", exact=False)).to_be_visible()
    t0 = time.time()
    start.click()
    expect(page.get_by_text("Queued 1 job", exact=False)).to_be_visible()
    done = keyed(page, "job-completed-")
    expect(done.first).to_be_visible(timeout=120_000)
    TIMINGS["tiny run, click to result"] = time.time() - t0
    expect(done.first).to_contain_text(re.compile(r"Target accuracy \d+\.\d% \[\d+\.\d%, \d+\.\d%\]"))
    expect(done.first.get_by_role("link", name="Open on Compare")).to_be_visible()

    set_number(page, "Seed", 1)  # new settings: a second job, cancelled while it waits or runs
    start.click()
    active = page.locator("[class*='st-key-job-queued-'], [class*='st-key-job-running-']")
    active.get_by_role("button", name="Cancel").first.click()
    expect(keyed(page, "job-cancelled-").first).to_be_visible(timeout=60_000)
    shot(page, "3-train-run-and-cancel")

    set_number(page, "Seed", 0)      # the smallest settings: every strategy once, a few seconds each
    set_number(page, "Epochs", 1)
    set_number(page, "Image size (px)", 16)
    set_number(page, "Max samples per domain (0 = all)", 100)
    t0 = time.time()
    page.get_by_role("button", name="Run all strategies").click()
    summary = keyed(page, "batch-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Batch finished", timeout=600_000)
    TIMINGS["run all strategies"] = time.time() - t0
    expect(summary).to_contain_text(re.compile("Best: |No strategy beat source-only"))
    shot(page, "4-train-run-all")

    from tlcore.runs.store import RunStore

    runs = RunStore(home).list()
    assert sum(r.status == "completed" for r in runs) >= 5


def test_compare_buttons(dashboard, page):
    from playwright.sync_api import expect

    url, _, _ = dashboard
    page.goto(url + "/compare")
    expect(page.get_by_role("heading", name="Compare runs")).to_be_visible(timeout=90_000)
    page.get_by_role("tab", name="Paired test").click()  # one tab per question; only the open one runs
    expect(page.get_by_role("heading", name="Paired comparison (same target test samples)")).to_be_visible()
    expect(page.get_by_text("A small p-value (< 0.05) means", exact=False)).to_be_visible()   # the paired test ran
    page.get_by_role("tab", name="Inspect one run").click()
    page.get_by_role("button", name="Show thumbnails").click()
    expect(page.get_by_test_id("stImage").first).to_be_visible()
    page.get_by_role("tab", name="Cross-validation").click()
    choose(page, "Folds", "^3$")  # the tiny runs keep only a few target samples per class
    page.get_by_role("button", name="Run cross-validation").click()
    expect(page.get_by_text(re.compile(r"folds: accuracy \d\.\d{3}"))).to_be_visible()
    page.get_by_role("tab", name="Share").click()
    page.get_by_role("button", name="Build HTML report of the selected runs").click()
    expect(page.get_by_role("button", name="Download HTML report")).to_be_visible()
    shot(page, "5-compare")


def test_embeddings_buttons(dashboard, page):
    from playwright.sync_api import expect

    url, _, _ = dashboard
    page.goto(url + "/embeddings")
    expect(page.get_by_role("heading", name="Embeddings")).to_be_visible(timeout=90_000)
    charts = page.locator(".js-plotly-plot")
    expect(charts).to_have_count(2, timeout=60_000)                       # PCA, computed in the page
    shot(page, "6-embeddings-pca")
    choose(page, "Projection", "t-SNE")
    t0 = time.time()
    page.get_by_role("button", name=re.compile("Compute t-SNE")).click()
    expect(page.get_by_role("button", name=re.compile("Compute t-SNE"))).to_have_count(0, timeout=120_000)
    expect(charts).to_have_count(2, timeout=60_000)
    TIMINGS["t-SNE in the background"] = time.time() - t0
    expect(page.get_by_text("Background computation failed")).to_have_count(0)
    shot(page, "7-embeddings-tsne")
    choose(page, "Projection", "PCA")
    page.get_by_text("Compare with another run").click()
    expect(page.get_by_role("combobox", name="Other run")).to_be_visible()
    expect(charts).to_have_count(2, timeout=60_000)
    shot(page, "8-embeddings-compare-runs")
    print("\nbrowser timings (s):", {k: round(v, 1) for k, v in TIMINGS.items()})


def test_embeddings_page_renders_20k_points(dashboard, page):
    """A fake run with 20,000 points (10k source + 10k target) before and after: both WebGL charts render."""
    import io

    import numpy as np
    from playwright.sync_api import expect

    from tests.app.fake_runs import make_run
    from tlcore.runs.store import RunStore

    url, home, _ = dashboard
    store = RunStore(home)
    rid = make_run(store, name="20k points", n=10_000, dim=32, strategy="dann")
    with np.load(store.path(rid, "features_after.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["target_test.features"] = (arrays["target_test.features"].astype(np.float32) + 2).astype(np.float16)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    store.write_bytes(rid, "features_before.npz", buf.getvalue())
    page.set_viewport_size({"width": 1500, "height": 1100})
    page.goto(url + "/embeddings")
    t0 = time.time()
    expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=120_000)
    expect(page.get_by_text("20,000 of 20,000 points").first).to_be_visible(timeout=120_000)
    seconds = time.time() - t0
    page.wait_for_timeout(2000)
    # still responsive: the main thread answers and both plots hold their 20k points
    n = page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                      ".map(p => p._fullData.reduce((s, t) => s + (t._length || 0), 0))")
    page.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
    shot(page, "9-embeddings-20k")
    assert n == [20_000, 20_000]
    assert seconds < 120, f"the page took {seconds:.0f}s to show 2 x 20k points"
