"""AppTest fixtures: a fresh data root per test, no auto-started worker."""
from __future__ import annotations

import pytest
from apptest_paths import ROOT


@pytest.fixture
def tl_home(tmp_path, monkeypatch):
    home = tmp_path / "tl_home"
    monkeypatch.setenv("TL_HOME", str(home))
    monkeypatch.setenv("TL_NO_AUTOWORKER", "1")
    monkeypatch.setenv("TL_PARAM_COUNT", "0")  # no torch-loading count process per page render; tests that
    # check the count turn it on
    monkeypatch.delenv("TL_ALLOWED_ROOTS", raising=False)
    monkeypatch.chdir(ROOT)
    # as .streamlit/config.toml says (loopback), whatever the working directory was when Streamlit first read its
    # config in this process: with no users, a non-loopback address shows only the first-admin form (issue 23)
    from streamlit import config

    config.set_option("server.address", "127.0.0.1")
    return home


@pytest.fixture
def job_worker(tl_home):
    """A job worker serving ``tl_home`` for the test (the dashboard's autostart is off in AppTests): the parameter
    count and the backbone ranking are jobs of the queue."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TL_HOME": str(tl_home), "TL_MAX_JOBS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tlcore", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield proc
    proc.terminate()
    proc.wait(30)
