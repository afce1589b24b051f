"""The run database's two engines in the tests (issue 26 item 1).

``store`` (the conftest of tests/) is the SQLite file under a fresh data root. A test module that sets
``DB_ENGINES = ("sqlite", "postgresql")``, or a test marked ``both_engines``, runs once per engine: on PostgreSQL its
``store`` (and every process it starts, through ``TL_DATABASE_URL``) uses a fresh schema of one PostgreSQL server
started for the session (tests/tlcore/runs/pg_server.py), skipped with the reason when the binaries are missing.
"""
from __future__ import annotations

import os

import pytest

os.environ.pop("TL_DATABASE_URL", None)  # SQLite unless a test asks for PostgreSQL (pg_url), whatever the shell has

ENGINES = ("sqlite", "postgresql")


def pytest_configure(config):
    config.addinivalue_line("markers", "both_engines: run the test on SQLite and on PostgreSQL (its store fixture)")


def pytest_generate_tests(metafunc):
    if "store" not in metafunc.fixturenames:
        return
    both = metafunc.definition.get_closest_marker("both_engines") is not None
    engines = getattr(metafunc.module, "DB_ENGINES", ENGINES if both else None)
    if engines:
        metafunc.parametrize("db_engine", engines, indirect=True)


@pytest.fixture
def db_engine(request):
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def pg_server():
    from tests.tlcore.runs.pg_server import PgServer, unavailable

    why = unavailable()
    if why:
        pytest.skip(why)
    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server, monkeypatch):
    """``TL_DATABASE_URL`` of a fresh, empty schema on the session's PostgreSQL server (set for this test)."""
    url = pg_server.schema_url()
    monkeypatch.setenv("TL_DATABASE_URL", url)
    return url


@pytest.fixture
def store(tl_home, db_engine, request):
    from tlcore.runs.store import RunStore

    if db_engine == "postgresql":
        request.getfixturevalue("pg_url")
    return RunStore(tl_home)
