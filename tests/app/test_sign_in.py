"""The sign-in gate: off without users; with users every page waits for a valid sign-in."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tlcore import auth

from apptest_paths import APP, TIMEOUT


def test_no_users_means_no_gate(tl_home):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception and at.title[0].value == "Domains"


def test_users_file_turns_the_gate_on(tl_home):
    auth.add_user("ana", "pass-word-1", tl_home)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "Sign in to TL Studio"
    assert not any("Job queue" in c.value for c in at.sidebar.caption)  # nothing else renders
    at.text_input[0].input("ana")
    at.text_input[1].input("wrong-password")
    at.button[0].click().run()
    assert at.error and "wrong password" in at.error[0].value
    assert at.title[0].value == "Sign in to TL Studio"
    at.text_input[1].input("pass-word-1")
    at.button[0].click().run()
    assert not at.exception and at.title[0].value == "Domains"
    assert "ana" in [t.value for t in at.sidebar.text]
    at.button(key="tl_sign_out").click().run()
    # AppTest runs only the page script on a rerun after st.navigation, so check the callback's effect
    # (the next real rerun of app.py shows the form again: test_a_signed_in_session_skips_the_form)
    assert "tl_user" not in at.session_state


def test_a_signed_in_session_skips_the_form_until_the_user_is_removed(tl_home):
    auth.add_user("ana", "pass-word-1", tl_home)
    auth.add_user("bob", "pass-word-2", tl_home)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["tl_user"] = "ana"
    at.run()
    assert not at.exception and at.title[0].value == "Domains"
    auth.remove_user("ana", tl_home)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["tl_user"] = "ana"
    at.run()
    assert at.title[0].value == "Sign in to TL Studio"


def test_a_damaged_users_file_keeps_everyone_out(tl_home):
    tl_home.mkdir(parents=True, exist_ok=True)
    auth.users_file(tl_home).write_text("[]")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert at.error and "not a valid users file" in at.error[0].value
    assert not at.title or at.title[0].value != "Domains"


def test_item_08_every_page_file_is_gated_on_its_own(tl_home):
    """Each page file also gates itself (defence in depth: with a pages/ folder Streamlit served them directly)."""
    from apptest_paths import page

    auth.add_user("ana", "pass-word-1", tl_home)
    for name in ("domains", "train", "compare", "embeddings"):
        at = AppTest.from_file(page(name), default_timeout=TIMEOUT).run()
        assert not at.exception, name
        assert [t.value for t in at.title] == ["Sign in to TL Studio"], name
