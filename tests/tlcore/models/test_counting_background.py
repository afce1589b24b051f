"""The Train page's parameter count, computed by the engine in a background process and stored per choice."""
import time

from tlcore.models.counting import count_path, launch_count, read_count, trainable_parameters


def _wait(root, *choice, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rep = read_count(root, *choice)
        if rep and rep["status"] != "running":
            return rep
        time.sleep(0.3)
    raise AssertionError(read_count(root, *choice))


def test_background_count_equals_the_direct_count_and_is_stored(tmp_path):
    choice = ("tiny_cnn", "dann", {"freeze_backbone": True}, 4, 16)
    assert read_count(tmp_path, *choice) is None
    launch_count(tmp_path, *choice)
    rep = _wait(tmp_path, *choice)
    assert rep["status"] == "done"
    assert {k: rep[k] for k in ("trainable", "total")} == trainable_parameters(*choice)
    assert count_path(tmp_path, *choice).is_file()
    other = ("tiny_cnn", "dann", {"freeze_backbone": False}, 4, 16)
    assert count_path(tmp_path, *other) != count_path(tmp_path, *choice) and read_count(tmp_path, *other) is None


def test_a_choice_the_engine_refuses_is_reported_with_its_reason(tmp_path):
    choice = ("tiny_cnn", "dann", {"trade_off": -1}, 4, 0)
    launch_count(tmp_path, *choice)
    rep = _wait(tmp_path, *choice)
    assert rep["status"] == "failed" and "params.trade_off" in rep["detail"]
