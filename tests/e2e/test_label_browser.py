"""Browser end-to-end of labelling (issue 27): a pair whose target is an unlabelled folder of images, a finished
run on it; signed in as ana, the Label page asks a ``query`` job for 10 samples, ana labels them in the browser
(seeing only "Sample i of K" and neutral names, never a file name), saves the label set, trains with it, and the run
appears on Compare with its label set. Real dashboard, real worker, tiny model (tiny_cnn, 1 epoch)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.dashboard_server import running_dashboard
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, goto, shot
from tests.tlcore.active.image_pair import make_image_pair

pytestmark = pytest.mark.e2e
K = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (scripts/test.sh installs it as root)")
    pytest.importorskip("playwright")
    tmp = tmp_path_factory.mktemp("label_e2e")
    src, tgt, truth = make_image_pair(tmp / "data", n_source=20, n_target=40)
    home = tmp / "home"
    env = {**os.environ, "TL_HOME": str(home), "HF_HUB_OFFLINE": "1", "TL_MAX_JOBS": "1", "TL_USER": "ana"}
    env.pop("TL_NO_AUTOWORKER", None)
    cfg = tmp / "base.json"
    cfg.write_text(json.dumps({"name": "camera base", "source": {"path": str(src)}, "target": {"path": str(tgt)},
                               "backbone": "tiny_cnn", "epochs": 1, "strategy": "mcc"}))
    for cmd in ([sys.executable, "-c", "from tlcore import auth; auth.add_user('ana', 'correct horse 42')"],
                [sys.executable, "-m", "tlcore", "train", str(cfg), "--quiet"]):
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, timeout=300, capture_output=True)
    with running_dashboard(tmp, env, script="app.py") as (url, _):
        yield url, home, truth
    subprocess.run([sys.executable, "-c", "import os,signal\nfrom tlcore.jobs.queue import JobQueue\n"
                    "for w in JobQueue().live_workers(): os.kill(w['pid'], signal.SIGTERM)"],
                   env=env, cwd=ROOT, timeout=60)


def test_query_label_train_and_see_the_run_on_compare(server):
    from playwright.sync_api import expect, sync_playwright

    from tlcore.data.label_sets import LabelSets, sample_name
    from tlcore.runs.store import RunStore

    url, home, truth = server
    by_name = {sample_name(i): c for i, c in truth.items()}  # what ana knows by looking at the picture
    ARTIFACTS.mkdir(exist_ok=True)
    t0 = time.time()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                               "--disable-background-networking", "--no-first-run"])
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(90_000)
        expect.set_options(timeout=60_000)
        page.goto(url)
        page.get_by_role("textbox", name="User").fill("ana")
        page.get_by_role("textbox", name="Password").fill("correct horse 42")
        page.get_by_role("button", name="Sign in").click()
        goto(page, "Label")
        expect(page.get_by_role("heading", name="Label").first).to_be_visible()
        page.get_by_role("combobox", name="Method").click()
        page.get_by_role("option", name="margin", exact=True).click()
        box = page.get_by_label("How many samples", exact=True)
        box.fill(str(K))
        box.press("Enter")
        page.get_by_role("button", name="Ask which samples to label").click()
        rows = page.get_by_text(re.compile(rf"^Sample \d+ of {K} · s-[0-9a-f]{{10}}"))
        expect(rows).to_have_count(K, timeout=120_000)  # the query job ran in the worker
        expect(page.get_by_test_id("stImage")).to_have_count(K)  # a thumbnail per sample
        assert "cam_" not in page.get_by_test_id("stMain").inner_text()  # never a file name (an id)
        for i in range(K):
            name = re.search(r"s-[0-9a-f]{10}", rows.nth(i).inner_text()).group(0)
            picker = page.locator(f".st-key-tl_label_{i}").get_by_role("combobox")
            picker.click()  # typed, then Enter: a click on the open list's option can be intercepted by the next row
            page.keyboard.type(by_name[name])
            page.keyboard.press("Enter")
        page.get_by_role("button", name="Save label set").click()
        expect(page.get_by_text(re.compile(rf"Saved label set ls-[0-9a-f]+ \({K} labels\)"))).to_be_visible()
        saved = LabelSets(home).list()
        assert len(saved) == 1 and saved[0]["owner"] == "ana" and saved[0]["n"] == K
        labels = dict(map(tuple, LabelSets(home).get(saved[0]["id"])["labels"]))
        assert labels == {i: truth[i] for i in labels}  # the answers given in the browser, stored by real id
        shot(page, "label-1-labelled")
        page.get_by_role("button", name="Train with these labels").click()
        expect(page.get_by_text(re.compile("Training job .* queued"))).to_be_visible()
        store = RunStore(home)
        deadline = time.time() + 180
        while time.time() < deadline and not any(r.config.get("target", {}).get("label_set") == saved[0]["id"]
                                                 and r.status == "completed" for r in store.list()):
            time.sleep(1)
        run = next(r for r in store.list() if r.config.get("target", {}).get("label_set") == saved[0]["id"])
        assert run.status == "completed" and run.owner == "ana"
        goto(page, "Compare")
        expect(page.get_by_role("heading", name="Compare runs")).to_be_visible()
        expect(page.get_by_text(re.compile(rf"camera base \+ {saved[0]['id']}")).first).to_be_visible()
        shot(page, "label-2-compare")
        b.close()
    split = json.loads((home / "runs" / run.run_id / "split.json").read_text())
    assert len(split["target_labeled"]) == K  # the set's samples (all from the training pool), nothing else
    print(f"label flow in the browser: {time.time() - t0:.0f} s")
