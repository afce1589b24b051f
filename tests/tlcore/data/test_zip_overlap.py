"""RELIABILITY.md item 15: the overlapping-entry zip bomb (gh-109858, CVE-2024-0450). Central-directory records
that point into the same member data are refused before anything is read; this Python (3.11.7) predates
CPython's own check. Valid archives (stored, deflated, with data descriptors) still read."""
from __future__ import annotations

import copy
import zipfile

import pytest

from tlcore.data import read_images
from tlcore.errors import UnsafeArchive


def _overlapping_zip(path, png: bytes, overlap_at: str = "header"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("cat/a.png", png)
        zf.writestr("dog/b.png", png)
        first = zf.filelist[0]
        twin = copy.copy(first)
        twin.filename = twin.orig_filename = "dog/c.png"
        if overlap_at == "data":  # starts inside the first member's compressed data
            twin.header_offset = first.header_offset + 40
        zf.filelist.append(twin)
    return path


@pytest.mark.parametrize("overlap_at", ["header", "data"])
def test_item_15_overlapping_entries_are_refused(tmp_path, image_bytes, overlap_at):
    path = _overlapping_zip(tmp_path / "bomb.zip", image_bytes(), overlap_at)
    with pytest.raises(UnsafeArchive, match=r"bomb\.zip: member .* overlaps another member's data"):
        read_images(path)


def test_valid_archives_are_not_mistaken_for_overlaps(tmp_path, image_bytes):
    png = image_bytes()
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        path = tmp_path / f"ok{method}.zip"
        with zipfile.ZipFile(path, "w", method) as zf:
            for name in ("cat/a.png", "cat/b.png", "dog/c.png", "dog/d.png"):
                zf.writestr(name, png)
            with zf.open("dog/e.png", "w") as fh:  # streamed: sizes in a data descriptor after the data
                fh.write(png)
        assert len(read_images(path)) == 5
