"""RELIABILITY.md item 78 (artifact path traversal, the MLflow CVE lineage): run ids that are encoded, hold
control characters, or name a link inside runs/ that points out of it are "not found"; nothing outside the
runs folder is read or written through the store."""
import pytest

from tlcore.runs.store import RunNotFound


@pytest.mark.parametrize("bad", ["../x", "..\\x", "a/b", "/etc", ".hidden", "", "a\x00b", "a\nb",
                                 "%2e%2e%2fetc"])
def test_item_78_run_ids_that_could_leave_the_runs_folder_are_not_found(store, bad):
    if "%" in bad:  # never decoded: a literal (missing) folder name inside runs/
        assert store.folder(bad).parent == store.runs_dir
        with pytest.raises(RunNotFound):
            store.get(bad)
        return
    with pytest.raises(RunNotFound):
        store.folder(bad)


def test_item_78_a_link_inside_runs_pointing_out_is_not_followed(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "metrics.json").write_text('{"secret": 1}')
    (store.runs_dir / "evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(RunNotFound):
        store.read_json("evil", "metrics.json")
    with pytest.raises(RunNotFound):
        store.write_json("evil", "config.json", {"x": 1})
    assert not (outside / "config.json").exists()
    inside = store.create({"source": {"demo": "digits"}, "target": {"demo": "digits"}})
    (store.runs_dir / "alias").symlink_to(store.runs_dir / inside, target_is_directory=True)
    assert store.folder("alias").resolve() == (store.runs_dir / inside).resolve()  # inside runs/: allowed
