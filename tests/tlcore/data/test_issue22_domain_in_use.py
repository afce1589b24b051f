"""Issue 22 item 9: the domain-in-use check compares resolved paths, so a job naming the domain's file as
``.../<id>/./data.csv`` (or through a link) still blocks deleting it."""
from __future__ import annotations

import io

import pytest

from tlcore.data.library import DomainLibrary
from tlcore.errors import DataError
from tlcore.jobs.queue import JobQueue

CSV = b"text,label\n" + b"".join(f"review number {i},{'pos' if i % 2 else 'neg'}\n".encode() for i in range(40))


@pytest.mark.parametrize("spelling", ["dot", "link"])
def test_item9_domain_in_use_check_compares_resolved_paths(store, tl_home, tmp_path, spelling):
    lib = DomainLibrary(tl_home)
    entry = lib.ingest_upload("books", "b.csv", io.BytesIO(CSV), label_column="label")
    from pathlib import Path

    path = Path(entry["path"])
    if spelling == "dot":
        written = f"{path.parent}/./{path.name}"
    else:
        (tmp_path / "alias").symlink_to(path.parent)
        written = str(tmp_path / "alias" / path.name)
    assert written != entry["path"]
    job = JobQueue(store).submit({"source": {"path": written, "name": "other"}, "target": {"demo": "reviews"},
                                  "backbone": "tiny_text", "strategy": "fine_tuning"})
    assert lib.jobs_using(entry["domain_id"]) == [job]
    with pytest.raises(DataError, match=f"used by 1 queued or running job\\(s\\): {job}"):
        lib.delete(entry["domain_id"])
    assert path.is_file()
