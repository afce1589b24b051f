"""Start the real dashboard in its own process for server and browser tests, and stop it again."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_dashboard(tmp: Path, env: dict, script: str = "serve.py", start_timeout: float = 60.0,
                      address: str = "127.0.0.1"):
    """``streamlit run <script>`` on a free local port with ``env``; yields ``(url, proc)`` once
    ``/_stcore/health`` answers; the log is ``tmp/streamlit.log``. The process group is stopped on exit.
    ``address`` is the server's ``server.address``; the tests always talk to it through 127.0.0.1."""
    port = free_port()
    log_path = Path(tmp) / "streamlit.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / script), "--server.port",
                                 str(port), "--server.headless", "true", "--server.address", address],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + start_timeout
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        os.killpg(proc.pid, 15)
        pytest.fail("the dashboard did not start:\n" + log_path.read_text(errors="replace")[-3000:])
    try:
        yield url, proc
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
