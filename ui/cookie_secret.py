"""The dashboard process's side of catalogue item 86: Streamlit's cookie secret set to the data root's stable one
(tlcore/server_checks.py creates it) when ``streamlit run serve.py`` is started without scripts/start.sh. Kept out
of the engine because it imports Streamlit."""
from __future__ import annotations

import os

from streamlit import config

from tlcore.server_checks import COOKIE_ENV, admin_cookie_secret, cookie_secret


def use_stable_cookie_secret() -> str | None:
    """In the dashboard process (``serve.py``, imported by ``streamlit run`` after Streamlit read its config and
    before the server builds its app): set ``server.cookieSecret`` to :func:`cookie_secret` unless it was set
    (environment, as scripts/start.sh does, a ``--server.cookieSecret`` flag or a config.toml) or the admin's
    own :func:`admin_cookie_secret` exists. Returns the secret it set, or None when it left the setting alone."""
    if config.is_manually_set("server.cookieSecret") or admin_cookie_secret():
        return None
    value = cookie_secret()
    os.environ[COOKIE_ENV] = value  # so a reload of the config files (they are watched) keeps it
    config.set_option("server.cookieSecret", value, where_defined="environment variable")
    return value
