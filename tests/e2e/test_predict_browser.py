"""Browser end-to-end for the Predict page: a real dashboard, a run with a real (tiny) model artifact, a sentence
typed into the page and answered by the predict-server child."""
from __future__ import annotations

import re

import pytest

from tests.e2e.test_browser import browser, dashboard, goto, page, shot  # noqa: F401,F811 - fixtures, helpers

pytestmark = pytest.mark.e2e


def test_predict_page_answers_a_sentence(dashboard, page):  # noqa: F811
    from playwright.sync_api import expect

    from tests.tlcore.export.artifacts import artifact_run
    from tlcore.runs.store import RunStore

    url, home, _ = dashboard
    store = RunStore(home)
    artifact_run(store, "tiny_text", "reviews", strategy="fine_tuning", name="source only")
    artifact_run(store, "tiny_text", "reviews", strategy="dann", seed=1, name="adapted")
    page.goto(url)
    goto(page, "Predict")
    expect(page.get_by_role("heading", name="Predict").first).to_be_visible(timeout=90_000)
    page.get_by_label("Sentence").fill("The kettle boils fast and looks nice.")
    page.get_by_role("button", name="Predict", exact=True).click()
    answers = page.get_by_test_id("stMetric").filter(has_text="Predicted")  # the sidebar has metrics too
    expect(answers).to_have_count(2, timeout=120_000)  # one per selected run, side by side
    expect(page.get_by_text(re.compile(r"Answered in \d+ ms")).first).to_be_visible()
    shot(page, "6-predict")
