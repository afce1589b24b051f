"""Checks of the server's own files for ``python -m tlcore doctor`` (RELIABILITY.md item 80): the dashboard's
secrets file (identity-provider client secret, cookie secret) must be readable by its owner only."""
from __future__ import annotations

import stat
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


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
