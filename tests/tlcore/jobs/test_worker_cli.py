"""``python -m tlcore worker --light-jobs N``: the light slots (embeddings, shift reports) from the command line, not
only from TL_LIGHT_JOBS; the flag wins over the environment."""
import os
import subprocess
import sys

from tests.conftest import ROOT


def serve_once(home, *args, **env):
    out = subprocess.run([sys.executable, "-m", "tlcore", "worker", "--once", *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "TL_HOME": str(home), "TL_GPUS": "none", **env})
    return out


def test_worker_light_jobs_flag_sets_the_light_slots(tmp_path):
    out = serve_once(tmp_path / "a", "--max-jobs", "1", "--light-jobs", "3", TL_LIGHT_JOBS="1")
    assert out.returncode == 0, out.stderr
    assert "up to 1 concurrent job(s) and 3 light slot(s)" in out.stderr
    out = serve_once(tmp_path / "b", "--light-jobs", "0", TL_LIGHT_JOBS="2")
    assert "and 0 light slot(s)" in out.stderr
    out = serve_once(tmp_path / "c", TL_LIGHT_JOBS="2")
    assert "and 2 light slot(s)" in out.stderr, "without the flag the environment still sets it"
    bad = serve_once(tmp_path / "d", "--light-jobs", "-1")
    assert bad.returncode == 2 and "--light-jobs must be 0 or more" in bad.stderr
