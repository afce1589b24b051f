"""RELIABILITY.md item 82 (error details leak) and the hardened server settings of item 10: a page that fails
shows an incident id, not the traceback; the traceback is in the server-side log under that id."""
import ast
import tomllib

from streamlit.testing.v1 import AppTest

from apptest_paths import ROOT


def _failing_page():
    from ui.error_boundary import report

    try:
        {}["/srv/secret/path.csv"]  # an unexpected bug whose message would reveal a server path
    except KeyError as exc:
        report(exc)


def test_item_82_a_page_error_shows_an_incident_id_and_logs_the_traceback(tl_home):
    at = AppTest.from_function(_failing_page).run(timeout=30)
    shown = " ".join(e.value for e in at.error)
    assert "incident" in shown
    incident = shown.split("incident ")[1][:8]
    assert "secret" not in shown and "Traceback" not in shown and "KeyError" not in shown
    log = (tl_home / "logs" / "dashboard-errors.log")
    text = log.read_text()
    assert f"incident {incident}" in text and "KeyError" in text and "/srv/secret/path.csv" in text
    assert log.stat().st_mode & 0o077 == 0


def test_the_start_script_installs_the_error_boundary_and_the_server_hides_details():
    tree = ast.parse((ROOT / "serve.py").read_text())
    app = next(n.value for n in ast.walk(tree) if isinstance(n, ast.Assign) and n.targets[0].id == "app")
    assert {k.arg: ast.unparse(k.value) for k in app.keywords}["on_script_error"] == "report"
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["client"]["showErrorDetails"] == "none"                     # item 82
    assert cfg["server"]["enableXsrfProtection"] is True and cfg["server"]["enableCORS"] is True  # item 10
    assert cfg["server"]["enableStaticServing"] is False                    # nothing served from disk
