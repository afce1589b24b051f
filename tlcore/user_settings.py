"""Per-user dashboard settings kept in the data root: the chosen domain pair and the Train page's settings.

``$TL_HOME/settings/<user>.json`` (one small JSON file per user; ``local`` when sign-in is off), written
atomically. Plain data only; the dashboard reads it when a browser session starts, so the pair chosen on the
Domains page and the Train settings survive a reload, a new tab and a server restart.

``carry_over`` decides what happens to the Train settings when the pair changes modality (image <-> text):
what the user chose stays; a value still at the old modality's default moves to the new modality's default;
values that cannot carry over (the backbone) change. Every change comes back with its reason, so the page
never changes a setting silently.

With ``TL_DATABASE_URL`` (PostgreSQL) the settings are rows of the ``user_settings`` table there instead (one per
user, the same JSON), like the runs and jobs: whichever dashboard process serves the user reads the same settings.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

LOCAL_USER = "local"
CARRIED = ("strategy", "epochs", "batch_size", "lr")   # settings the user's choice of which survives a modality change
TIED = ("backbone",)                                    # settings that depend on the modality (never carried)


def settings_path(root, user: str | None) -> Path:
    """``<root>/settings/<user>.json``; the file name is the user name made safe plus a short hash."""
    name = user or LOCAL_USER
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:40] or "user"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return Path(root) / "settings" / f"{safe}-{digest}.json"


SCHEMA = "CREATE TABLE IF NOT EXISTS user_settings (name TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL NOT NULL);"


def _postgres():
    """The PostgreSQL database of ``TL_DATABASE_URL``, or None (the files under the data root)."""
    from tlcore.runs.db import database_url, postgres

    url = database_url()
    return postgres(url) if url else None


def load_settings(root, user: str | None) -> dict:
    """The user's stored settings (``{}`` when none, or when the file or row is damaged)."""
    pg = _postgres()
    try:
        if pg is not None:
            with pg.connect() as db:
                db.executescript(SCHEMA)
                row = db.execute("SELECT data FROM user_settings WHERE name = ?", (user or LOCAL_USER,)).fetchone()
            data = json.loads(row["data"]) if row else {}
        else:
            data = json.loads(settings_path(root, user).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_settings(root, user: str | None, settings: dict) -> bool:
    """Write the settings atomically; returns False when they equal the stored ones (nothing written)."""
    if load_settings(root, user) == settings:
        return False
    text = json.dumps(settings, indent=1, sort_keys=True, default=str)
    pg = _postgres()
    if pg is not None:
        import time

        with pg.connect() as db:
            db.execute("INSERT INTO user_settings (name, data, updated) VALUES (?,?,?) ON CONFLICT (name) DO UPDATE "
                       "SET data=excluded.data, updated=excluded.updated", (user or LOCAL_USER, text, time.time()))
        return True
    path = settings_path(root, user)
    from tlcore.runs.files import private_dir, write_atomic

    private_dir(path.parent)
    write_atomic(path, text.encode("utf-8"))  # 0600
    return True


def update_settings(root, user: str | None, **parts) -> dict:
    """Merge top-level ``parts`` (e.g. ``pair={...}``) into the stored settings and save; returns the result."""
    settings = {**load_settings(root, user), **parts}
    save_settings(root, user, settings)
    return settings


def carry_over(previous: dict, old_defaults: dict, new_defaults: dict, old_modality: str,
               new_modality: str) -> tuple[dict, list[str]]:
    """The Train settings for a pair of ``new_modality`` after the user worked with ``previous`` on an
    ``old_modality`` pair.

    Args:
        previous: the settings in use (keys of ``CARRIED`` and ``TIED``; missing keys are skipped).
        old_defaults / new_defaults: the default config of each modality (``DEMO_CONFIGS`` entries).

    Returns:
        ``(settings, changes)``: the settings to use, and one sentence per setting that changed, with the reason.
    """
    out, changes = {}, []
    for key in CARRIED:
        if key not in previous:
            continue
        old, new_default = previous[key], new_defaults.get(key)
        if _same(old, old_defaults.get(key)) and new_default is not None and not _same(old, new_default):
            out[key] = new_default
            changes.append(f"{key.replace('_', ' ')}: {old} → {new_default} (the default for {new_modality} pairs; "
                           f"you had kept the {old_modality} default)")
        else:
            out[key] = old  # the user's choice (or a default both modalities share) stays
    for key in TIED:
        new = new_defaults.get(key)
        if key in previous and previous[key] != new:
            if new is not None:
                out[key] = new
            changes.append(f"{key}: {previous[key]} → {new or f'a {new_modality} one'} ({old_modality} backbones "
                           f"cannot read {new_modality})")
    return out, changes


def _same(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return a == b
