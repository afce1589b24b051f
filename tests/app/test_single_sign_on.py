"""Single sign-on through st.login (OpenID Connect): the gate, the allow-list, an expired token, and the user
name feeding owners (AppTest seeds st.user; no identity provider is contacted)."""
from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from ui.auth import sso_identity

from apptest_paths import APP, TIMEOUT

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 64, "client_id": "tl",
        "client_secret": "secret", "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}


def _app(user: dict | None, app_section: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["auth"] = AUTH
    if app_section:
        at.secrets["app"] = app_section
    if user is not None:
        at.user = user
    return at


def test_single_sign_on_gate_shows_the_provider_button_and_no_data(tl_home):
    at = _app({"is_logged_in": False}).run()
    assert not at.exception
    assert at.title[0].value == "Sign in to TL Studio"
    assert at.button(key="tl_sso_sign_in").label == "Sign in with single sign-on"
    assert not at.dataframe and not any("Job queue" in c.value for c in at.sidebar.caption)


def test_single_sign_on_user_enters_and_owns_what_they_create(tl_home):
    at = _app({"is_logged_in": True, "email": "ana@team.example", "email_verified": True, "exp": time.time() + 3600},
              {"allowed_email_domains": ["team.example"]}).run()
    assert not at.exception and at.title[0].value == "Domains"
    assert at.session_state["tl_user"] == "sso:ana@team.example"  # apart from users-file names (issue 23)


def test_item_08_single_sign_on_refuses_other_domains_and_expired_tokens(tl_home):
    at = _app({"is_logged_in": True, "email": "eve@evil.example", "email_verified": True},
              {"allowed_email_domains": ["team.example"]}).run()
    assert at.title[0].value == "Sign in to TL Studio" and "may not use this server" in at.error[0].value
    now = 1000.0
    assert sso_identity({"email": "a@team.example", "email_verified": True, "exp": now - 1}, {},
                        now=now)[1].startswith("Your sign-in has")
    assert sso_identity({"sub": "123"}, {"allowed_users": ["123"]}, now=now) == ("sso:123", None)
    assert sso_identity({"email": "b@x.example", "email_verified": "true"},
                        {"allowed_users": ["b@x.example"], "allowed_email_domains": ["team.example"]}) \
        == ("sso:b@x.example", None)
