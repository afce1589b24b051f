"""A throwaway PostgreSQL server for the tests (issue 26 item 1): ``initdb`` + ``pg_ctl`` in a temporary folder,
listening on 127.0.0.1 only (trust authentication, a free port outside Ray's 10002-19999), one database; each test
gets its own schema (``search_path`` in the URL), so tests never see each other's rows.

Started once per test session (``pg_server`` fixture in tests/tlcore/conftest.py) and stopped at its end. PostgreSQL
refuses to run as root: as root, the folder is given to the ``postgres`` user and the binaries run through
``runuser``. :func:`unavailable` says why no server can be started (no binaries, no ``postgres`` user), for the skip.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

RAY_PORTS = range(10002, 20000)


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    cands = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return cands[-1] if cands else None


def unavailable() -> str | None:
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if pg_bin(b) is None]
    if missing:
        return (f"PostgreSQL binaries not found ({', '.join(missing)}): install the Debian `postgresql` package "
                "to run the store and queue tests on PostgreSQL")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a `postgres` user: PostgreSQL refuses to run as root"
        if shutil.which("runuser") is None:
            return "running as root without `runuser`: PostgreSQL refuses to run as root"
    return None


def free_port() -> int:
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in RAY_PORTS:
            return port
    raise RuntimeError("no free port outside 10002-19999")


class PgServer:
    """One server: :meth:`start`, :meth:`schema_url` per test, :meth:`stop`."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="tl_pg_"))
        self.data, self.sock, self.log = self.base / "data", self.base / "sock", self.base / "server.log"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.dbname = "tl_test"

    def _run(self, *cmd: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        out = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=timeout, cwd=self.base)
        if out.returncode:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}): {out.stderr[-2000:]}\n{log}")

    def start(self) -> "PgServer":
        self.sock.mkdir()
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (self.base, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        self._run(pg_bin("initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        opts = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sock} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w", "-t", "60", "start")
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.dbname}")
        return self

    def url(self, dbname: str | None = None) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname or self.dbname}"

    def schema_url(self) -> str:
        """A URL whose connections see a fresh, empty schema (one per test)."""
        import psycopg

        schema = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{self.url()}?options=-csearch_path%3D{schema}"

    def stop(self) -> None:
        try:
            self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
