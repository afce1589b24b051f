"""Dashboard access without users and the lifetime of a sign-in: whether a dashboard with no users may open its
pages (loopback only, or ``TL_OPEN_WITHOUT_SIGN_IN=1``) and when a signed-in session ends (``TL_SESSION_HOURS``).
Used by :mod:`tlcore.auth`, which re-exports them."""
from __future__ import annotations

import os
import time

SESSION_HOURS_DEFAULT = 12.0
OPEN_ENV = "TL_OPEN_WITHOUT_SIGN_IN"   # "1": serve every page without sign-in even on a non-loopback address
SESSION_ENV = "TL_SESSION_HOURS"       # absolute lifetime of a dashboard sign-in (hours; default 12, 0 = none)


def is_loopback(address: str | None) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost); False for unset or empty
    (Streamlit then listens on every interface), 0.0.0.0, :: and any other address or host name."""
    import ipaddress

    a = (address or "").strip().strip("[]")
    if a.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(a).is_loopback
    except ValueError:
        return False


def open_access_problem(address: str | None, env: dict | None = None) -> str | None:
    """Why a dashboard with no users (and no single sign-on) must not open its pages, or None when it may: it
    listens on loopback only, or an admin set ``TL_OPEN_WITHOUT_SIGN_IN=1`` on purpose (e.g. behind an
    authenticating reverse proxy)."""
    env = os.environ if env is None else env
    if is_loopback(address) or env.get(OPEN_ENV) == "1":
        return None
    where = address or "every interface (server.address unset)"
    return (f"The dashboard listens on {where} and has no users, so anyone who reaches it would get every page "
            f"and action. Create the first admin with the one-time setup token from the server log, or on the "
            f"server: `python -m tlcore user add NAME` and `python -m tlcore admin add NAME`. (To serve it "
            f"without sign-in on purpose, e.g. behind an authenticating proxy, set {OPEN_ENV}=1.)")


def session_lifetime_s(env: dict | None = None) -> float | None:
    """The absolute lifetime of a dashboard sign-in in seconds (``TL_SESSION_HOURS``, default 12); None: no
    limit (``0``). A signed-in session older than this is signed out, however active."""
    env = os.environ if env is None else env
    try:
        hours = float(env.get(SESSION_ENV) or SESSION_HOURS_DEFAULT)
    except ValueError:
        hours = SESSION_HOURS_DEFAULT
    return hours * 3600 if hours > 0 else None


def session_expired(signed_in_at: float | None, now: float | None = None, env: dict | None = None) -> bool:
    limit = session_lifetime_s(env)
    if limit is None:
        return False
    if signed_in_at is None:
        return True
    return (time.time() if now is None else now) - float(signed_in_at) > limit
