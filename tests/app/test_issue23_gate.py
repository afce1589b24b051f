"""Issue 23, dashboard side (AppTest; no address but loopback is ever bound): no users on a non-loopback address
shows only the first-admin form; sessions expire and timer fragments re-check them; single sign-on needs a
verified e-mail and an allow-list; a refused Cancel stays visible; Plotly labels escape user text."""
from __future__ import annotations

import ast
import asyncio
import time
from pathlib import Path

import pytest
from apptest_paths import APP, ROOT, TIMEOUT, page
from streamlit import config
from streamlit.testing.v1 import AppTest

from tlcore import auth
from tlcore.jobs.queue import JobQueue
from tlcore.runs.store import RunStore
from ui.auth import sso_identity

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 64, "client_id": "tl",
        "client_secret": "secret", "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
JOBS_SCRIPT = """
from ui.jobs_panel import jobs_panel
jobs_panel()
"""


@pytest.fixture
def address(monkeypatch):
    """Set the configured server.address for the script runs (a value only: nothing is bound)."""
    monkeypatch.delenv(auth.OPEN_ENV, raising=False)
    before = config.get_option("server.address")

    def set_address(value):
        config.set_option("server.address", value)

    yield set_address
    config.set_option("server.address", before)


def test_item1_non_loopback_without_users_shows_only_the_first_admin_form(tl_home, address, monkeypatch):
    monkeypatch.setattr(auth, "_setup_token", None)
    address("0.0.0.0")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Set up TL Studio"]
    assert not any("Job queue" in c.value for c in at.sidebar.caption) and not at.dataframe  # no page at all
    for name in ("domains", "train", "compare", "embeddings", "predict"):  # each page file gates itself too
        p = AppTest.from_file(page(name), default_timeout=TIMEOUT).run()
        assert [t.value for t in p.title] == ["Set up TL Studio"], name
    token = auth._setup_token
    assert token  # created (and printed to the server log) by the first visit
    at.text_input(key="tl_setup_token").input("not-the-token")
    at.text_input(key="tl_setup_user").input("lead")
    at.text_input(key="tl_setup_password").input("lead-password")
    at.text_input(key="tl_setup_password2").input("lead-password")
    at.button[0].click().run()
    assert "Wrong setup token" in at.error[0].value and not auth.auth_enabled(tl_home)
    at.text_input(key="tl_setup_token").input(token)
    at.text_input(key="tl_setup_user").input("lead")
    at.text_input(key="tl_setup_password").input("lead-password")
    at.text_input(key="tl_setup_password2").input("lead-password")
    at.button[0].click().run()
    assert auth.load_users(tl_home).keys() == {"lead"} and auth.is_admin("lead", tl_home)
    assert at.session_state["tl_user"] == "lead"
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)  # a new visitor now meets the sign-in form
    at.run()
    assert at.title[0].value == "Sign in to TL Studio"


def test_item1_loopback_or_opened_on_purpose_serves_pages_without_users(tl_home, address, monkeypatch):
    address("127.0.0.1")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception and at.title[0].value == "Domains"
    address("0.0.0.0")
    monkeypatch.setenv(auth.OPEN_ENV, "1")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert at.title[0].value == "Domains"


def test_item1_media_and_metrics_closed_without_users_on_another_address(tl_home, address):
    from ui import media_guard

    address("127.0.0.1")
    assert media_guard.sign_in_on() is False
    address("0.0.0.0")
    assert media_guard.sign_in_on() is True

    async def inner(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"metrics"})

    guard = media_guard.MediaGuard(inner, sign_in_required=lambda: True, prefix=lambda: "/media/",
                                   is_active=lambda sid: False)
    out = []

    async def send(m):
        out.append(m)

    async def receive():
        return {"type": "http.request", "body": b""}

    asyncio.run(guard({"type": "http", "method": "GET", "path": "/_stcore/metrics", "headers": [],
                       "scheme": "http"}, receive, send))
    assert out[0]["status"] == 403


def test_item2_expired_session_is_signed_out(tl_home):
    auth.add_user("ana", "pass-word-1", tl_home)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["tl_user"] = "ana"
    at.session_state["tl_signed_in_at"] = time.time() - 13 * 3600  # default lifetime 12 h
    at.run()
    assert at.title[0].value == "Sign in to TL Studio"
    assert "tl_user" not in at.session_state
    assert any("time limit" in i.value for i in at.info)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["tl_user"] = "ana"
    at.session_state["tl_signed_in_at"] = time.time() - 3600
    at.run()
    assert at.title[0].value == "Domains"


def _timer_fragments():
    for folder in ("ui", "views"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef):
                    for dec in node.decorator_list:
                        if (isinstance(dec, ast.Call) and ast.unparse(dec.func).endswith("fragment")
                                and any(k.arg == "run_every" for k in dec.keywords)):
                            yield path.relative_to(ROOT), node


def test_item2_every_timer_fragment_rechecks_the_session(tl_home):
    found = list(_timer_fragments())
    assert len(found) >= 8  # job cards, sidebar, predict, exports, embeddings, shift, ranking, parameter count
    for path, fn in found:
        body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        first = ast.unparse(body[0])
        assert first == "session_guard()", f"{path}:{fn.name} starts with {first!r}, not session_guard()"
    # and the guard works: a user removed from the users file loses the job cards on the next tick
    auth.add_user("ana", "pass-word-1", tl_home)
    auth.add_user("bo", "pass-word-2", tl_home)
    JobQueue(RunStore(tl_home)).submit({"source": {"demo": "digits"}, "target": {"demo": "digits"},
                                        "backbone": "tiny_cnn", "epochs": 1}, owner="ana")
    at = AppTest.from_string(JOBS_SCRIPT, default_timeout=TIMEOUT)
    at.session_state["tl_user"] = "ana"
    at.run()
    assert any(" · job-" in t.value for t in at.text)
    auth.remove_user("ana", tl_home)
    at.run()
    assert not any(" · job-" in t.value for t in at.text)
    assert "tl_user" not in at.session_state


def test_item3_sso_requires_verified_email_and_an_allow_list(tl_home):
    app = {"allowed_email_domains": ["team.example"]}
    name, why = sso_identity({"email": "lead@team.example"}, app)  # no email_verified claim
    assert name is None and "not verified" in why
    assert sso_identity({"email": "lead@team.example", "email_verified": False}, app)[0] is None
    assert sso_identity({"email": "lead@team.example", "email_verified": True}, app) == ("sso:lead@team.example",
                                                                                          None)
    assert sso_identity({"email": "x@team.example"}, {**app, "trust_unverified_email": True})[0] == \
        "sso:x@team.example"  # opened on purpose
    # a user name that looks like an address is not an e-mail: the domain list does not let it in
    assert sso_identity({"preferred_username": "eve@team.example"}, app)[0] is None
    # no allow-list: nobody, unless an admin opens it on purpose
    name, why = sso_identity({"email": "a@any.example", "email_verified": True}, {})
    assert name is None and "allow-list" in why
    assert sso_identity({"email": "a@any.example", "email_verified": True}, {"allow_any_account": True})[0] == \
        "sso:a@any.example"
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "lead@team.example", "email_verified": False}
    at.secrets["app"] = app
    at.run()
    assert at.title[0].value == "Sign in to TL Studio" and "not verified" in at.error[0].value
    assert "tl_user" not in at.session_state


def test_item4_refused_cancel_message_survives_the_fragment_rerun(tl_home):
    for name in ("ana", "bo"):
        auth.add_user(name, "pass-word-x", tl_home)
    q = JobQueue(RunStore(tl_home))
    job = q.submit({"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn",
                    "epochs": 1}, owner="ana")
    at = AppTest.from_string(JOBS_SCRIPT, default_timeout=TIMEOUT)
    at.session_state["tl_user"] = "bo"
    at.run()
    at.button(key=f"cancel-{job}").click().run()  # AppTest reruns the whole script, where Streamlit refuses the
    # handler's st.rerun(scope="fragment") (a browser reruns the fragment only); the refusal is stored first
    assert q.get(job).status == "queued"
    at.run()  # the next run of the fragment (the browser's rerun, or the 2 s tick) still shows why
    assert any("belongs to ana" in e.value for e in at.error), [e.value for e in at.error]
    at.run()
    assert any("belongs to ana" in e.value for e in at.error)
    rows = [r for r in __import__("tlcore.runs.audit", fromlist=["entries"]).entries(q.store)
            if r["action"].startswith("refused")]
    assert rows and rows[0]["actor"] == "bo"


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if k != "uirevision":  # an identity for Plotly's UI state, never drawn
                yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


def test_item8_plotly_labels_escape_user_text():
    import pandas as pd

    from ui import charts, embedding_view

    bad = '<a href="http://evil.example">x</a>'
    figs = [
        charts.metric_bars([{"label": bad, "target_acc": 0.5, "target_f1": 0.4, "source_acc": 0.9,
                             "source_f1": 0.8}]),
        charts.confusion_heatmaps([{"label": bad, "matrix": [[1, 0], [0, 1]], "classes": [bad, "b"]}]),
        charts.per_class_f1_bars([{"label": bad, "per_class": {bad: {"f1": 0.5}}}]),
        charts.training_curves([{"label": bad, "history": [{"epoch": 1, "val_acc": 0.5, "loss": 1.0}]}]),
        charts.roc_pr_curves([{"label": bad, "roc": {bad: {"fpr": [0, 1], "tpr": [0, 1]}},
                               "pr": {bad: {"recall": [0, 1], "precision": [1, 0]}}}]),
        charts.reliability_diagram([{"label": bad, "bins": [{"confidence": 0.5, "accuracy": 0.5, "n": 3}]}]),
        charts.value_distribution({"source": [1, 2], "target": [2]}, bad, bad),
        charts.class_chart({"source": {"counts": {bad: 3}}, "target": {"counts": {"b": 1}}}),
    ]
    df = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0], "domain": ["source", "target"], "label": [bad, bad],
                       "pred": [bad, "b"], "confidence": [0.9, 0.8], "sample": [bad, bad], "index": [0, 1],
                       "pid": [0, 1]})
    figs.append(charts.embedding_scatter(df, color_by="label", title=bad))
    figs.append(embedding_view.embedding_figure(df, color_by="label", title=bad))
    for fig in figs:
        text = list(_strings(fig.to_plotly_json()))
        assert not [t for t in text if "<a" in t], (fig.layout.title.text, [t for t in text if "<a" in t])
        assert any("&lt;a href" in t for t in text)


EXPORT_SCRIPT = """
import zipfile
import streamlit as st
import ui.predict_export as pe

calls = st.session_state.setdefault("zip_calls", [])
original = zipfile.ZipFile  # restored after the poll: the patch must not leak into later tests in this process
zipfile.ZipFile = lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(AssertionError("zipped on a poll"))
try:
    st.session_state.setdefault(pe.EXPORT_JOBS, [st.session_state["job"]])
    pe._jobs()
finally:
    zipfile.ZipFile = original
"""


def test_item5_a_finished_export_is_not_zipped_on_every_poll(tl_home):
    """The export job wrote its ZIP once when it finished; the fragment's polls only read the job's snapshot and
    offer that file (read when the button is clicked)."""
    from tlcore.jobs.queue import JobQueue
    from tlcore.runs.store import RunStore

    q = JobQueue(RunStore(tl_home))
    job_id = q.submit({"seconds": 0}, kind="probe", owner="ana")  # stands in for a finished export job
    q.claim_next("w")
    q.finish(job_id, "completed")
    folder = tl_home / "outputs" / job_id
    folder.mkdir(parents=True)
    (folder / "r1-onnx.zip").write_bytes(b"PK" + b"x" * 1000)
    (folder / "result.json").write_text(f'{{"file": "{folder / "r1-onnx.zip"}"}}')
    at = AppTest.from_string(EXPORT_SCRIPT, default_timeout=TIMEOUT)
    at.session_state["job"] = {"job_id": job_id, "run_id": "r1", "format": "onnx", "root": str(tl_home)}
    at.run()
    at.run()  # two polls of the fragment
    assert not at.exception
    assert at.session_state["zip_calls"] == []  # nothing zipped: the job did, once
    assert [b.label for b in at.get("download_button")] == ["Download r1 as onnx (ZIP)"]


def test_item6_metrics_need_sign_in_on_the_real_server(tmp_path):
    """`streamlit run serve.py` on loopback with a user: Streamlit's /_stcore/metrics answers 403 without a
    signed-in browser (it answered anyone before)."""
    import os
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    from tests.dashboard_server import running_dashboard

    env = {**os.environ, "TL_HOME": str(tmp_path / "home"), "TL_NO_AUTOWORKER": "1"}
    subprocess.run([sys.executable, "-c", "from tlcore import auth; auth.add_user('ana', 'correct horse 42')"],
                   env=env, cwd=ROOT, check=True, timeout=60)
    with running_dashboard(tmp_path, env) as (url, _):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "/_stcore/metrics", timeout=10)
        assert refused.value.code == 403
        assert urllib.request.urlopen(url + "/_stcore/health", timeout=10).read() == b"ok"
