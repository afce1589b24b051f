"""Issue 23, engine side: closed by default (address decision, first admin), sign-in (atomic lock, per-address
throttle, no eviction of locks, PBKDF2 600k + re-hash, session lifetime), single-sign-on identities kept apart
from users-file names, ownership of rename/export/compress/predict and the CLI, refusals audited, the model card,
the DDP store on loopback, the pyarrow floor. Network: loopback only."""
from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tlcore import auth
from tlcore.errors import ConfigError, PermissionDenied

ROOT = Path(__file__).resolve().parents[2]
FAST = {"source": {"demo": "digits"}, "target": {"demo": "digits"}, "backbone": "tiny_cnn", "epochs": 1,
        "image_size": 16, "max_samples_per_domain": 120, "strategy": "scratch", "device": "cpu"}
CSV = b"text,label\nlovely book,pos\nawful plot,neg\ngreat read,pos\nboring,neg\n"


@pytest.fixture
def root(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("TL_HOME", str(home))
    monkeypatch.delenv("TL_ADMINS", raising=False)
    monkeypatch.delenv("TL_USER", raising=False)
    monkeypatch.delenv(auth.OPEN_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml of the working directory
    return home


def _audit(root) -> list[dict]:
    from tlcore.runs import audit
    from tlcore.runs.store import RunStore

    return audit.entries(RunStore(root))


# -- 1. secure defaults -------------------------------------------------------------------------------------
def test_item1_dashboard_listens_on_loopback_by_default():
    """The project's .streamlit/config.toml sets server.address = 127.0.0.1: `streamlit run serve.py` (what
    scripts/start.sh runs) binds loopback unless an admin passes another address (read, not bound)."""
    code = "from streamlit import config; print(config.get_option('server.address'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "127.0.0.1", out.stderr[-2000:]


def test_item1_no_users_opens_only_on_loopback_or_on_purpose():
    for address in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert auth.open_access_problem(address, env={}) is None, address
    for address in (None, "", "0.0.0.0", "::", "192.168.1.20", "10.0.0.5", "ml.team.example"):
        problem = auth.open_access_problem(address, env={})
        assert problem and "no users" in problem and "setup token" in problem, address
    assert auth.open_access_problem("0.0.0.0", env={auth.OPEN_ENV: "1"}) is None  # opened on purpose


def test_item1_first_admin_needs_the_one_time_setup_token_from_the_log(root, monkeypatch):
    monkeypatch.setattr(auth, "_setup_token", None)
    logged: list[str] = []
    token = auth.setup_token(announce=logged.append)
    assert auth.setup_token(announce=logged.append) == token and len(logged) == 1 and token in logged[0]
    from tlcore.runs.store import RunStore

    RunStore(root)
    with pytest.raises(ConfigError, match="Wrong setup token"):
        auth.create_first_admin("guess", "eve", "password-123", root)
    assert not auth.auth_enabled(root)
    assert any(r["action"] == "refused: create the first admin" for r in _audit(root))
    auth.create_first_admin(token, "lead", "password-123", root)
    assert auth.load_users(root).keys() == {"lead"} and auth.is_admin("lead", root)
    with pytest.raises(ConfigError):  # used up
        auth.create_first_admin(token, "eve", "password-123", root)
    assert auth.load_users(root).keys() == {"lead"}


# -- 2. sign-in ---------------------------------------------------------------------------------------------
def test_item2_lockout_race_checks_at_most_allowed(root, monkeypatch):
    """10 parallel wrong passwords for one name: the lock check and the failure record are one step, so at most
    FREE_FAILURES passwords are checked; the others are refused without a check."""
    auth.add_user("ana", "right-password", root)
    real_check, checked = auth.check, []

    def slow_check(name, password, root=None):
        checked.append(name)
        time.sleep(0.3)  # a slow hash widens the window between the lock check and the record
        return real_check(name, password, root)

    monkeypatch.setattr(auth, "check", slow_check)
    results, start = [], threading.Barrier(10)

    def attempt():
        start.wait()
        try:
            results.append(auth.sign_in("ana", "wrong", root, now=1000.0))
        except auth.LockedOut:
            results.append("locked")

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(checked) <= auth.FREE_FAILURES, checked
    assert results.count("locked") >= 10 - auth.FREE_FAILURES


def test_item2_failing_on_a_name_from_another_address_does_not_lock_its_owner_out(root):
    auth.add_user("boss", "boss-password", root)
    t = 1000.0
    for _ in range(auth.FREE_FAILURES):
        assert auth.sign_in("boss", "guess", root, now=t, address="10.0.0.66") is False
    with pytest.raises(auth.LockedOut, match="for this user name"):
        auth.sign_in("boss", "boss-password", root, now=t + 1, address="10.0.0.66")
    assert auth.sign_in("boss", "boss-password", root, now=t + 1, address="10.0.0.7") is True  # her own address


def test_item2_per_address_throttle_over_many_names(root):
    t = 1000.0
    for i in range(auth.ADDRESS_FREE_FAILURES):
        assert auth.sign_in(f"name{i}", "guess", root, now=t, address="10.0.0.66") is False
    with pytest.raises(auth.LockedOut, match="from your address"):
        auth.sign_in("someone-new", "guess", root, now=t + 1, address="10.0.0.66")
    auth.add_user("ana", "ana-password", root)
    assert auth.sign_in("ana", "ana-password", root, now=t + 1, address="10.0.0.9") is True  # others unaffected


def test_item2_no_eviction_frees_a_locked_name(root, monkeypatch):
    monkeypatch.setattr(auth, "MAX_ENTRIES", 10)
    auth.add_user("boss", "boss-password", root)
    t = 1000.0
    for _ in range(auth.FREE_FAILURES + 3):  # locked for a while from 10.0.0.66
        try:
            auth.sign_in("boss", "guess", root, now=t, address="10.0.0.66")
        except auth.LockedOut:
            pass
    for i in range(30):  # fill the file with newer entries from many addresses
        auth.sign_in(f"random{i}", "x", root, now=t + 1 + i * 0.01, address=f"10.1.{i}.1")
    assert len(json.loads(auth.failures_file(root).read_text())) <= 200
    with pytest.raises(auth.LockedOut):  # still locked (2 s from t): its entry was not dropped for newer ones
        auth.sign_in("boss", "boss-password", root, now=t + 1.5, address="10.0.0.66")


def test_item2_pbkdf2_600k_and_older_hashes_rehashed_at_sign_in(root):
    assert auth.ITERATIONS >= 600_000 and auth.hash_password("x" * 8).split("$")[1] == str(auth.ITERATIONS)
    old = auth.hash_password("old-password", iterations=200_000)
    auth._write(auth.users_file(root), {"ana": old}, ["ana"])
    assert auth.sign_in("ana", "wrong-password", root) is False
    assert auth.load_users(root)["ana"] == old  # a failure re-hashes nothing
    assert auth.sign_in("ana", "old-password", root) is True
    new = auth.load_users(root)["ana"]
    assert new != old and new.split("$")[1] == str(auth.ITERATIONS) and not auth.needs_rehash(new)
    assert auth.is_admin("ana", root)  # admins kept
    assert auth.sign_in("ana", "old-password", root) is True


def test_item2_absolute_session_lifetime_setting():
    now = 100_000.0
    assert auth.session_lifetime_s({}) == 12 * 3600
    assert not auth.session_expired(now - 11 * 3600, now, env={})
    assert auth.session_expired(now - 13 * 3600, now, env={})
    assert auth.session_expired(now - 2 * 3600, now, env={auth.SESSION_ENV: "1"})
    assert not auth.session_expired(now - 99 * 3600, now, env={auth.SESSION_ENV: "0"})  # 0: no limit


# -- 3. single sign-on: identities apart --------------------------------------------------------------------
def test_item3_sso_identities_never_match_users_file_names_or_admins(root, monkeypatch, tmp_path):
    auth.add_user("lead@team.example", "password-1", root)
    auth.set_admin("lead@team.example", True, root)
    monkeypatch.setenv("TL_ADMINS", "ops@team.example")
    sso = auth.sso_name("lead@team.example")
    assert sso == "sso:lead@team.example" and not auth.is_admin(sso, root)
    assert not auth.is_admin(auth.sso_name("ops@team.example"), root)
    with pytest.raises(ConfigError):  # a users-file name can never look like a single-sign-on identity
        auth.add_user("sso:lead@team.example", "password-1", root)
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[app]\nadmins = ["boss@team.example"]\n')
    assert auth.is_admin("sso:boss@team.example", root)
    auth.add_user("boss@team.example", "password-2", root)
    assert not auth.is_admin("boss@team.example", root)  # the SSO admin entry is not the users-file name's
    with pytest.raises(PermissionDenied):
        auth.authorize("sso:ana@team.example", "ana@team.example", "run r1", root)


# -- 4. ownership everywhere --------------------------------------------------------------------------------
def test_item4_rename_of_a_domain_needs_owner_or_admin_and_is_audited(root):
    from tlcore.data.library import DomainLibrary

    lib = DomainLibrary(root)
    for name in ("ana", "bo", "boss"):
        auth.add_user(name, "password-x", root)
    auth.set_admin("boss", True, root)
    d = lib.ingest_upload("reviews", "a.csv", io.BytesIO(CSV), owner="ana")
    with pytest.raises(PermissionDenied, match="belongs to ana"):
        lib.rename(d["domain_id"], "poisoned", actor="bo")
    assert lib.get(d["domain_id"])["name"] == "reviews"
    lib.rename(d["domain_id"], "reviews 2", actor="ana")
    lib.rename(d["domain_id"], "reviews 3", actor="boss")
    rows = _audit(root)
    assert any(r["action"] == "refused: rename" and r["actor"] == "bo" for r in rows)
    assert [r["actor"] for r in rows if r["action"] == "rename domain"] == ["boss", "ana"]


def test_item4_export_compress_predict_need_owner_and_refusals_are_audited(root, monkeypatch):
    from tlcore.export import client
    from tlcore.runs.store import RunStore

    store = RunStore(root, owner="ana")
    for name in ("ana", "bo"):
        auth.add_user(name, "password-x", root)
    from tlcore.jobs.queue import JobQueue

    rid = store.create(FAST, status="completed")
    queue = JobQueue(store)
    batch = client.new_batch(root, "in.csv", b"text\nhi\n")
    for call in (lambda: client.launch_export(root, rid, "onnx", actor="bo"),
                 lambda: client.launch_compress(root, rid, 0.5, True, actor="bo"),
                 lambda: client.launch_batch(root, rid, batch, actor="bo"),
                 lambda: client.PredictClient(root).predict(rid, text="hi", actor="bo")):
        with pytest.raises(PermissionDenied, match="belongs to ana"):
            call()
    assert queue.list() == []  # nothing was queued for bo
    assert {r["action"] for r in _audit(root) if r["actor"] == "bo"} == {
        "refused: export", "refused: compress", "refused: predict with"}
    job = client.launch_compress(root, rid, 0.5, True, actor="ana")
    assert queue.get(job["job_id"]).owner == "ana"  # a queued job of ana's: the compressed run is owned by ana


def _cli(args, root, **env):
    full = {**os.environ, "TL_HOME": str(root), **env}
    for k in [k for k, v in env.items() if v is None]:
        full.pop(k, None)
    return subprocess.run([sys.executable, "-m", "tlcore", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=120)


def test_item4_cli_acts_as_the_os_user_not_TL_USER(root):
    from tlcore.jobs.queue import JobQueue
    from tlcore.runs.store import RunStore

    me = auth.os_user()
    store = RunStore(root, owner="ana")
    rid = store.create(FAST, status="completed")
    job = JobQueue(store).submit(FAST, owner="ana")
    for args in (["delete", rid], ["cancel", job]):
        r = _cli(args, root, TL_USER="bo", TL_ADMINS=None)
        assert r.returncode != 0 and "only an admin may act as another user" in r.stderr, r.stderr
        r = _cli(args, root, TL_USER=None, TL_ADMINS=None, USER="ana", LOGNAME="ana")  # env names are not the OS user
        assert r.returncode != 0 and "belongs to ana" in r.stderr, r.stderr
        r = _cli(args, root, TL_USER=None, TL_ADMINS=None)  # the OS user, who owns neither
        assert r.returncode != 0 and "belongs to ana" in r.stderr, r.stderr
    assert store.get(rid) and JobQueue(store).get(job).status == "queued"
    rows = _audit(root)
    assert any(r["action"] == "refused: act as bo" and r["actor"] == me for r in rows)
    assert any(r["action"].startswith("refused:") and r["object"] == f"run {rid}" for r in rows)
    # an admin (here the OS user, named in TL_ADMINS by the server's admin) may
    r = _cli(["cancel", job], root, TL_USER=None, TL_ADMINS=me)
    assert r.returncode == 0, r.stderr
    r = _cli(["delete", rid], root, TL_USER=None, TL_ADMINS=me)
    assert r.returncode == 0, r.stderr


# -- 6. rendering, DDP store, version floor -----------------------------------------------------------------
def test_item8_model_card_escapes_user_text():
    from types import SimpleNamespace

    from tlcore.export.card import md, model_card

    bad = '<a href="http://evil.example">click</a>\n# heading ![x](http://evil.example/p.png)'
    rec = SimpleNamespace(name=bad, source=bad, target="t<img src=x onerror=alert(1)>", config={"strategy": "dann"})
    store = SimpleNamespace(get=lambda rid: rec, metrics=lambda rid: {}, read_json=lambda *a: {})
    meta = {"modality": "text", "classes": ["`ok`", "<b>bold</b>"], "backbone": {"name": "tiny_text"},
            "preprocessing": {"max_length": 8}}
    card = model_card(store, "r1", meta, "safetensors")
    assert re.search(r"(?<!\\)<(a|img|b)\b", card) is None, card  # every tag's "<" escaped
    assert "](http://evil" not in card and "](http\\://evil" not in card
    assert "\n# heading" not in card  # no heading injected by a line break in a name
    out = md(bad)
    assert "\n" not in out and "\\<a" in out
    assert re.search(r"(?<!\\)[<>\[\]()!#`]", out) is None, out  # every metacharacter escaped


def _listening(port: int) -> list[str]:
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(path).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            ip, p = f[1].rsplit(":", 1)
            if int(p, 16) == port and f[3] == "0A":  # LISTEN
                found.append(ip)
    return found


def test_item9_ddp_rendezvous_store_listens_on_loopback_only():
    pytest.importorskip("torch.distributed")
    from tlcore.training.ddp import _free_port, rendezvous_store

    port = _free_port()
    store = rendezvous_store(0, 1, port, timedelta(seconds=20))
    try:
        store.set("k", "v")
        seen = _listening(port)
        assert seen and all(ip == "0100007F" for ip in seen), seen  # 127.0.0.1 only, never *:port / [::]:port
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        del store


def test_item11_pyarrow_floor_refuses_14_0_0():
    from tlcore.versions import FLOORS, problems

    assert FLOORS["pyarrow"][0] == "14.0.1" and "CVE-2023-47248" in FLOORS["pyarrow"][1]
    assert any("pyarrow 14.0.0" in p for p in problems(lambda pkg: "14.0.0" if pkg == "pyarrow" else "999"))
    assert problems(lambda pkg: "14.0.1" if pkg == "pyarrow" else "999") == []
