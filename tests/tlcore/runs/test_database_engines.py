"""Issue 26 item 1: the run database on PostgreSQL (``TL_DATABASE_URL``) beside the SQLite default: what reaches the
server (domains, the audit log, migrations), what doctor says, and one clear line for a bad URL or a dead server."""
import json
import sqlite3

import pytest

from tlcore.errors import ConfigError
from tlcore.runs import audit, db
from tlcore.runs.store import RunStore

from tests.tlcore.runs.pg_server import free_port


def test_sqlite_dialect_is_translated_for_postgresql():
    assert db.pg_sql("SELECT * FROM jobs WHERE config LIKE ? AND x = '%'", True) == \
        "SELECT * FROM jobs WHERE config LIKE %s AND x = '%%'"
    assert db.pg_sql("BEGIN IMMEDIATE", False) == "BEGIN"
    assert db.pg_sql("CREATE TABLE t (a REAL, b INTEGER, c TEXT)", False) == \
        "CREATE TABLE t (a DOUBLE PRECISION, b BIGINT, c TEXT)"
    assert db.pg_sql("SELECT real_name FROM t", False) == "SELECT real_name FROM t"
    assert db.split_script("CREATE TABLE a (x TEXT);  -- note; here\nCREATE INDEX i ON a(x);") == \
        ["CREATE TABLE a (x TEXT)", "CREATE INDEX i ON a(x)"]


def test_a_bad_url_or_a_dead_server_is_one_line_naming_the_setting_without_its_password(tl_home, monkeypatch,
                                                                                        capsys):
    from tlcore.__main__ import main

    monkeypatch.setenv("TL_DATABASE_URL", "mysql://tl:hunter2@db/tl")
    with pytest.raises(ConfigError, match="TL_DATABASE_URL") as err:
        RunStore(tl_home)
    assert "hunter2" not in str(err.value)
    monkeypatch.setenv("TL_DATABASE_URL", f"postgresql://tl:hunter2@127.0.0.1:{free_port()}/tl")  # nothing listens
    assert main(["runs"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: TL_DATABASE_URL=postgresql://tl:***@127.0.0.1:") and len(err.splitlines()) == 1
    assert "hunter2" not in err
    assert main(["doctor", "--settings"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["TL_DATABASE_URL"]["value"].startswith("postgresql://tl:***@127.0.0.1")


def test_doctor_names_the_engine_with_the_password_masked_and_backups_are_the_servers(pg_url, tl_home, monkeypatch,
                                                                                      capsys):
    from tlcore.__main__ import main

    url = pg_url.replace("://postgres@", "://postgres:hunter2@")  # trust authentication ignores the password
    monkeypatch.setenv("TL_DATABASE_URL", url)
    RunStore(tl_home).create({"source": {"demo": "digits"}, "target": {"demo": "usps"}, "strategy": "linear_probe"})
    assert main(["doctor"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["engine"] == "postgresql" and out["runs"] == 1 and "postgres:***@" in out["database"]
    assert "pg_dump" in out["backups"] and "pg_dump" in captured.err
    assert "hunter2" not in captured.out + captured.err
    assert main(["doctor", "--backup"]) == 2 and "pg_dump" in capsys.readouterr().err
    assert not (tl_home / "tl.db").exists() and not (tl_home / "backups").exists()


def test_domains_audit_and_refusals_live_in_postgresql(pg_url, tl_home, monkeypatch):
    from tlcore import auth
    from tlcore.data.library import DomainLibrary
    from tlcore.errors import DataError

    imports = tl_home / "imports"
    imports.mkdir(parents=True)
    (imports / "t.csv").write_text("text,label\nhello there,a\nbye now,b\nagain,a\nmore,b\n")
    lib = DomainLibrary(tl_home)
    assert lib.store.engine == "postgresql"
    entry = lib.register_folder("t", imports / "t.csv", allowed=[imports])
    with pytest.raises(DataError, match="taken|exists|already"):
        lib.register_folder("t", imports / "t.csv", allowed=[imports])
    assert [d["name"] for d in lib.list()] == ["t"]
    lib.rename(entry["domain_id"], "t2")
    auth.audit_refusal("mallory", "delete", "run x", "not the owner", tl_home)
    actions = [e["action"] for e in audit.entries(lib.store)]
    assert actions[:3] == ["refused: delete", "rename domain", "add domain (folder)"], actions
    assert not (tl_home / "tl.db").exists(), "nothing went to the SQLite file"


def test_an_older_postgresql_schema_is_migrated_and_duplicate_keys_raise_sqlite_integrity_error(pg_url, tl_home):
    with db.postgres(pg_url).connect() as conn:  # the runs table of the first release
        conn.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL, strategy TEXT, "
                     "backbone TEXT, source TEXT, target TEXT, modality TEXT, seed INTEGER, created REAL NOT NULL, "
                     "finished REAL, seconds REAL, target_acc REAL, target_f1 REAL, source_acc REAL, error TEXT, "
                     "config TEXT NOT NULL)")
    store = RunStore(tl_home)
    with store.connect() as conn:
        assert {"owner", "pid", "pid_start", "host"} <= db.columns(conn, "runs")
    rid = store.create({"source": {"demo": "digits"}, "target": {"demo": "usps"}})
    rec = store.get(rid)
    assert rec.owner and abs(rec.created - __import__("time").time()) < 60, "timestamps keep their seconds"
    with store.connect() as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO runs (run_id, status, created, config) VALUES (?,?,?,?)", (rid, "x", 0.0, "{}"))


def test_the_dashboard_reads_runs_and_jobs_from_postgresql(pg_url, tl_home):
    from streamlit.testing.v1 import AppTest

    from tlcore.jobs.queue import JobQueue
    from tests.app.apptest_paths import APP, TIMEOUT, open_page

    store = RunStore(tl_home)
    rid = store.create({"source": {"demo": "digits"}, "target": {"demo": "usps"}, "strategy": "linear_probe",
                        "backbone": "tiny_cnn", "name": "on-postgres"})
    store.finish(rid, "completed", metrics={"target_test": {"accuracy": 0.5, "f1_macro": 0.4}}, seconds=1.0)
    JobQueue(store).submit({"seconds": 0}, kind="probe", label="probe on postgres")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    at = open_page(at, "compare").run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    shown = " ".join(str(x.value) for x in [*at.markdown, *at.dataframe, *at.selectbox, *at.multiselect])
    assert "probe on postgres" in shown or rid in shown or "on-postgres" in shown, shown[:2000]
    assert not (tl_home / "tl.db").exists()


def test_users_settings_are_rows_in_postgresql(pg_url, tl_home):
    from tlcore.user_settings import load_settings, save_settings, settings_path, update_settings

    assert save_settings(tl_home, "ana", {"pair": {"source": {"demo": "digits"}}})
    assert not save_settings(tl_home, "ana", {"pair": {"source": {"demo": "digits"}}}), "unchanged: nothing written"
    assert update_settings(tl_home, "ana", train={"epochs": 3}) == {"pair": {"source": {"demo": "digits"}},
                                                                    "train": {"epochs": 3}}
    assert load_settings(tl_home, "ana")["train"] == {"epochs": 3} and load_settings(tl_home, "bo") == {}
    assert not settings_path(tl_home, "ana").exists()
