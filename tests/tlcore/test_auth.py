"""Dashboard users: salted hashes only, constant-time checks, atomic 0600 file, clear errors."""
import json
import os
import stat
import subprocess
import sys

import pytest

from tlcore import auth
from tlcore.errors import ConfigError


def test_hash_is_salted_and_verifies(tmp_path):
    a, b = auth.hash_password("correct horse", iterations=1000), auth.hash_password("correct horse", iterations=1000)
    assert a != b and "correct horse" not in a
    assert auth.verify_password("correct horse", a) and not auth.verify_password("wrong horse", a)
    assert not auth.verify_password("x", "garbage") and not auth.verify_password("x", "md5$1$00$00")


def test_users_file_lifecycle(tmp_path):
    assert not auth.auth_enabled(tmp_path) and auth.load_users(tmp_path) == {}
    assert auth.add_user("ana", "s3cret-pass", tmp_path) is True
    assert auth.auth_enabled(tmp_path)
    path = auth.users_file(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "s3cret-pass" not in path.read_text()
    assert auth.check("ana", "s3cret-pass", tmp_path) and not auth.check("ana", "nope-nope", tmp_path)
    assert not auth.check("bob", "s3cret-pass", tmp_path) and not auth.check("", "", tmp_path)
    assert auth.add_user("ana", "new-password", tmp_path) is False  # changes the password
    assert auth.check("ana", "new-password", tmp_path) and not auth.check("ana", "s3cret-pass", tmp_path)
    auth.remove_user("ana", tmp_path)
    assert auth.load_users(tmp_path) == {} and auth.auth_enabled(tmp_path)  # still on: nobody gets in
    with pytest.raises(ConfigError, match="no user 'ana'"):
        auth.remove_user("ana", tmp_path)


def test_bad_names_short_passwords_and_a_damaged_file_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="not a valid name"):
        auth.add_user("../etc", "long-enough", tmp_path)
    with pytest.raises(ConfigError, match="at least 8"):
        auth.add_user("ana", "short", tmp_path)
    auth.users_file(tmp_path).write_text("{not json")
    with pytest.raises(ConfigError, match="users.json: not a valid users file"):
        auth.check("ana", "long-enough", tmp_path)
    with pytest.raises(ConfigError, match="not a valid users file"):
        auth.add_user("ana", "long-enough", tmp_path)  # never silently replaces a damaged file
    assert auth.users_file(tmp_path).read_text() == "{not json"


def test_cli_adds_lists_and_removes_users(tmp_path):
    env = {**os.environ, "TL_HOME": str(tmp_path)}
    run = [sys.executable, "-m", "tlcore", "user"]
    p = subprocess.run(run + ["add", "ana", "--password-stdin"], input="pass-word-1\n", env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    out = json.loads(subprocess.run(run + ["list"], env=env, capture_output=True, text=True).stdout.splitlines()[-1])
    assert out["users"] == ["ana"] and out["sign_in_required"] is True
    assert auth.check("ana", "pass-word-1", tmp_path)
    p = subprocess.run(run + ["add", "bo b", "--password-stdin"], input="pass-word-1\n", env=env,
                       capture_output=True, text=True)
    assert p.returncode == 2 and "not a valid name" in p.stderr
    assert subprocess.run(run + ["remove", "ana"], env=env, capture_output=True).returncode == 0
    assert auth.load_users(tmp_path) == {}
