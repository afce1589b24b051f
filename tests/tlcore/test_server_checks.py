"""RELIABILITY.md item 80 (file permissions): ``doctor`` warns when the dashboard's secrets file (client secret,
cookie secret) is group- or world-readable, with the command that fixes it; a 0600 file passes."""
from tlcore.server_checks import problems


def test_item_80_a_readable_secrets_file_is_reported_with_the_fix(tmp_path):
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text('[auth]\ncookie_secret = "x"\n')
    secrets.chmod(0o644)
    found = problems([tmp_path])
    assert len(found) == 1 and "mode 0644" in found[0] and f"chmod 600 {secrets}" in found[0]
    secrets.chmod(0o600)
    assert problems([tmp_path]) == []
    assert problems([tmp_path / "none"]) == []  # no secrets file: nothing to say
