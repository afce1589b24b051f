"""Sign-in lockout per user name, persisted in $TL_HOME so a new browser session does not reset it."""
import pytest

from tlcore import auth


def test_sign_in_lockout_per_user_name_with_exponential_back_off_across_sessions(tmp_path):
    auth.add_user("ana", "right-password", tmp_path)
    t = 1000.0
    for _ in range(auth.FREE_FAILURES - 1):
        assert auth.sign_in("ana", "wrong", tmp_path, now=t) is False
    assert auth.sign_in("ana", "wrong", tmp_path, now=t) is False  # the 3rd failure locks for 2 s
    with pytest.raises(auth.LockedOut) as err:
        auth.sign_in("ana", "right-password", tmp_path, now=t + 1)  # even the right password waits
    assert 0 < err.value.retry_after <= 2
    assert "try again in" in str(err.value)
    # the state lives in the data root, not in the (new) session: a fresh call sees the same lock
    assert (tmp_path / "sign_in_failures.json").stat().st_mode & 0o077 == 0
    assert auth.sign_in("ana", "wrong", tmp_path, now=t + 2.5) is False  # 4th failure: 4 s
    with pytest.raises(auth.LockedOut) as err:
        auth.sign_in("ana", "wrong", tmp_path, now=t + 5)
    assert 1 < err.value.retry_after <= 4
    assert auth.sign_in("ana", "wrong", tmp_path, now=t + 7) is False  # 5th: 8 s
    with pytest.raises(auth.LockedOut):
        auth.sign_in("ana", "right-password", tmp_path, now=t + 14)
    assert auth.lock_seconds(40) == auth.MAX_LOCK_S
    # other names are not affected; unknown names are counted the same way (no hint that they don't exist)
    auth.add_user("bo", "bo-password", tmp_path)
    assert auth.sign_in("bo", "bo-password", tmp_path, now=t + 14) is True
    for _ in range(3):
        auth.sign_in("ghost", "x", tmp_path, now=t)
    with pytest.raises(auth.LockedOut):
        auth.sign_in("ghost", "x", tmp_path, now=t + 1)
    # a success clears the count
    assert auth.sign_in("ana", "right-password", tmp_path, now=t + 100) is True
    assert auth.sign_in("ana", "wrong", tmp_path, now=t + 100) is False
    assert auth.sign_in("ana", "right-password", tmp_path, now=t + 100) is True
