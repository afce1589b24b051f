"""RELIABILITY.md item 86: a server restart must not change Streamlit's cookie secret (a new random one per process
answers open pages' uploads with XSRF 403 and signs everyone out). The engine creates one secret in the data root
once (mode 0600) and reuses it; scripts/start.sh exports it as STREAMLIT_SERVER_COOKIE_SECRET unless the admin set
one; ``doctor`` reports a missing or readable secret."""
import os
import stat
import subprocess
import sys

from tlcore.server_checks import COOKIE_ENV, admin_cookie_secret, cookie_secret, cookie_secret_problems

from tests.conftest import ROOT


def test_item_86_cookie_secret_is_created_once_private_and_stable(tmp_path):
    home = tmp_path / "home"
    first = cookie_secret(home)
    assert len(first) == 64 and int(first, 16) >= 0
    path = home / "cookie_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cookie_secret(home) == first, "the same value on the next start"
    path.chmod(0o644)
    assert cookie_secret_problems(home, folders=[tmp_path], env={}) == [
        f"{path} has mode 0644: others can read the cookie secret and forge sessions; run: chmod 600 {path}"]
    assert cookie_secret(home) == first and stat.S_IMODE(path.stat().st_mode) == 0o600  # reuse tightens it
    assert cookie_secret_problems(home, folders=[tmp_path], env={}) == []
    assert cookie_secret(tmp_path / "other") != first, "one secret per data root, random"
    missing = cookie_secret_problems(tmp_path / "none", folders=[tmp_path], env={})
    assert len(missing) == 1 and "no stable cookie secret" in missing[0]


def test_item_86_an_admins_own_cookie_secret_wins(tmp_path):
    assert admin_cookie_secret([tmp_path], env={COOKIE_ENV: "set-by-admin"}) == COOKIE_ENV
    conf = tmp_path / ".streamlit" / "config.toml"
    conf.parent.mkdir()
    conf.write_text('[server]\nheadless = true\n')
    assert admin_cookie_secret([tmp_path], env={}) is None
    conf.write_text('[server]\ncookieSecret = "from-config"\n')
    assert admin_cookie_secret([tmp_path], env={}) == str(conf)
    assert cookie_secret_problems(tmp_path / "none", folders=[tmp_path], env={}) == []


def test_item_86_start_script_exports_the_stable_secret(tmp_path):
    script = (ROOT / "scripts" / "start.sh").read_text()
    assert "python -m tlcore.server_checks --cookie-secret" in script
    assert 'export STREAMLIT_SERVER_COOKIE_SECRET="$cookie_secret"' in script
    assert script.index("--cookie-secret") < script.index("streamlit run")
    # what start.sh runs: the same secret on two starts; nothing when the admin set one
    env = {k: v for k, v in os.environ.items() if k != COOKIE_ENV}
    env.update(TL_HOME=str(tmp_path / "home"), HOME=str(tmp_path))

    def printed(**extra):
        return subprocess.run([sys.executable, "-m", "tlcore.server_checks", "--cookie-secret"], cwd=ROOT,
                              env={**env, **extra}, capture_output=True, text=True, timeout=60).stdout.strip()

    a, b = printed(), printed()
    assert len(a) == 64 and a == b == (tmp_path / "home" / "cookie_secret").read_text().strip()
    assert printed(**{COOKIE_ENV: "admin-value"}) == ""


SERVE = """
import sys
from streamlit import config
from streamlit.web import bootstrap
config._main_script_path = sys.argv[1]
bootstrap.load_config_options(flag_options={k: None for k in ("server_cookieSecret",)} | dict(
    a.split("=", 1) for a in sys.argv[2:]))  # what `streamlit run serve.py [--server.cookieSecret X]` does first
import serve  # then uvicorn imports serve:app, before the server builds its app
from streamlit.web.server.server_util import get_cookie_secret
print(get_cookie_secret())
"""


def test_item_86_streamlit_run_serve_py_without_the_start_script_uses_the_stable_secret(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != COOKIE_ENV}
    env.update(TL_HOME=str(tmp_path / "home"), HOME=str(tmp_path))

    def secret(*flags, **extra):
        out = subprocess.run([sys.executable, "-c", SERVE, str(ROOT / "serve.py"), *flags], cwd=ROOT,
                             env={**env, **extra}, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout.strip().splitlines()[-1]

    first = secret()
    assert first == (tmp_path / "home" / "cookie_secret").read_text().strip() and secret() == first
    assert secret(**{COOKIE_ENV: "a" * 64}) == "a" * 64  # start.sh's export (or the admin's) is kept
    assert secret("server_cookieSecret=" + "b" * 64) == "b" * 64  # so is --server.cookieSecret
