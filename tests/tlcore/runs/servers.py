"""Real servers the artifact store and tracking tests start on 127.0.0.1: moto's S3 server and ``mlflow server``."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

VENV_BIN = Path(__file__).resolve().parents[3] / ".venv" / "bin"


def free_port() -> int:
    """A free 127.0.0.1 port outside Ray's worker range (10002-19999)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not 10002 <= port <= 19999:
            return port
    raise RuntimeError("no free port outside 10002-19999")


def start(cmd: list[str], url: str, log: Path, wait_s: float):
    """Start ``cmd`` in its own process group and wait until ``url`` answers; returns the process."""
    fh = open(log, "wb")
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    pytest.fail(f"{cmd[0]} did not answer {url} within {wait_s:.0f} s: {log.read_text(errors='replace')[-2000:]}")


def stop(proc) -> None:
    """End the server started by :func:`start` and its children (its own process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def binary(name: str) -> str:
    path = VENV_BIN / name
    if not path.is_file():
        pytest.skip(f"{path} is not installed (dev dependency)")
    return str(path)
