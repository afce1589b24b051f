"""Checks of the server's own files for ``python -m tlcore doctor`` (RELIABILITY.md item 80): the dashboard's
secrets file (identity-provider client secret, cookie secret) must be readable by its owner only.

Also the dashboard's stable cookie secret (item 86): Streamlit signs its XSRF and session cookies with
``server.cookieSecret``, a new random value per process by default, so every restart answers an open page's upload
with 403 and signs everyone out. :func:`cookie_secret` creates one secret in the data root once (``cookie_secret``,
mode 0600) and reuses it; ``scripts/start.sh`` passes it as ``STREAMLIT_SERVER_COOKIE_SECRET`` unless the admin
set one (``python -m tlcore.server_checks --cookie-secret`` prints what to pass, nothing when the admin's wins).
``serve.py`` calls ``ui.cookie_secret.use_stable_cookie_secret``, so ``streamlit run serve.py`` started without the script gets
the same secret.
"""
from __future__ import annotations

import os
import secrets
import stat
import sys
import tomllib
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
COOKIE_FILE = "cookie_secret"
COOKIE_ENV = "STREAMLIT_SERVER_COOKIE_SECRET"


def secrets_files(folders=None) -> list[Path]:
    out = []
    for folder in folders or {PROJECT, Path.cwd()}:
        path = Path(folder) / ".streamlit" / "secrets.toml"
        if path.is_file() and path.resolve() not in {p.resolve() for p in out}:
            out.append(path)
    return out


def problems(folders=None) -> list[str]:
    """One line per secrets file that others can read or write, with the command that fixes it."""
    found = []
    for path in secrets_files(folders):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            found.append(f"{path} has mode {mode:04o}: group or others can read the identity-provider and cookie "
                         f"secrets; run: chmod 600 {path}")
    return found


def cookie_secret(root: str | Path | None = None) -> str:
    """The data root's cookie secret: created once (64 hex characters, mode 0600, written atomically so two
    starts at once agree), then the same value on every call and every restart."""
    from tlcore.runs.files import private_dir
    from tlcore.runs.home import default_root

    root = Path(root) if root else default_root()
    private_dir(root)
    path = root / COOKIE_FILE
    for _ in range(2):
        try:
            value = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            value = ""
        if len(value) >= 32:
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                os.chmod(path, 0o600)
            return value
        tmp = root / f".{COOKIE_FILE}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # first writer wins; a concurrent start reads the winner's value
        except FileExistsError:
            if len(path.read_text(encoding="ascii").strip()) < 32:  # an empty or cut file: replace it
                os.replace(tmp, path)
                continue
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


def admin_cookie_secret(folders=None, env=None) -> str | None:
    """Where the admin set ``server.cookieSecret`` themselves (the environment, or a ``.streamlit/config.toml``
    in the home folder or the project), else None: then :func:`cookie_secret` is used."""
    env = os.environ if env is None else env
    if env.get(COOKIE_ENV):
        return COOKIE_ENV
    for folder in folders or (Path.home(), PROJECT, Path.cwd()):
        path = Path(folder) / ".streamlit" / "config.toml"
        try:
            conf = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if str(conf.get("server", {}).get("cookieSecret") or ""):
            return str(path)
    return None


def cookie_secret_problems(root: str | Path | None = None, folders=None, env=None) -> list[str]:
    """For ``doctor``: a missing stable cookie secret (every restart then signs users out and breaks open uploads),
    or one that others can read."""
    from tlcore.runs.home import default_root

    if admin_cookie_secret(folders, env):
        return []
    path = (Path(root) if root else default_root()) / COOKIE_FILE
    if not path.is_file():
        return [f"no stable cookie secret ({path} is missing): each dashboard restart signs everyone out and open "
                "pages get 403 on upload; start the dashboard with scripts/start.sh (it creates the file) or set "
                f"{COOKIE_ENV}"]
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return [f"{path} has mode {mode:04o}: others can read the cookie secret and forge sessions; run: "
                f"chmod 600 {path}"]
    return []


if __name__ == "__main__":  # scripts/start.sh: the secret to export, or nothing when the admin set one
    if sys.argv[1:] == ["--cookie-secret"]:
        if admin_cookie_secret() is None:
            print(cookie_secret())
        sys.exit(0)
    print("usage: python -m tlcore.server_checks --cookie-secret", file=sys.stderr)
    sys.exit(2)
