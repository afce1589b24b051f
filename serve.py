"""Start the dashboard: ``streamlit run serve.py`` (what scripts/start.sh runs). It serves ``app.py`` through
Streamlit's ``st.App`` with TL Studio's HTTP middleware: images and downloads under ``/media/`` go only to
browsers with a signed-in session when sign-in is on (ui/media_guard.py), and an uncaught page error shows an
incident id instead of a traceback (ui/error_boundary.py). ``streamlit run app.py`` still works but without
either. Started directly (not through scripts/start.sh), it still uses the data root's stable cookie secret
(ui/cookie_secret.py), set here before the server builds its app."""
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from ui.auth import announce_first_admin_setup
from ui.cookie_secret import use_stable_cookie_secret
from ui.error_boundary import report
from ui.media_guard import MediaGuard

use_stable_cookie_secret()  # no-op when start.sh exported it or the admin set one
announce_first_admin_setup()  # no users and not on loopback: the one-time setup token goes to this log
app = st.App(Path(__file__).resolve().parent / "app.py", middleware=[Middleware(MediaGuard)], on_script_error=report)
