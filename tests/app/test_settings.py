"""The upload limit the app enforces matches the Streamlit server setting."""
import tomllib

from tlcore.data.library import MAX_UPLOAD_MB

from apptest_paths import ROOT


def test_item_01_app_upload_limit_matches_streamlit_max_upload_size():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["maxUploadSize"] == MAX_UPLOAD_MB
    assert cfg["server"]["headless"] is True and cfg["server"]["runOnSave"] is False
    assert cfg["browser"]["gatherUsageStats"] is False
