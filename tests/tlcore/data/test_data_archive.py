"""ZIP and folder layouts, unsafe archives and limits (tlcore.data.archive)."""

from __future__ import annotations

import zipfile

import pytest

from tlcore.data import ArchiveLimits, read_images
from tlcore.errors import DataError, UnsafeArchive


def test_item_17_wrapped_folder_is_unwrapped_and_junk_counted(tmp_path, write_zip, image_bytes):
    png = image_bytes()
    path = write_zip(tmp_path / "pets.zip", {
        "pets/": None,
        "pets/cat/a.png": png,
        "pets/cat/b.png": png,
        "pets/dog/c.png": png,
        "pets/labels.csv": b"file,label\n",
        "pets/.DS_Store": b"x",
        "pets/dog/Thumbs.db": b"x",
        "__MACOSX/pets/cat/._a.png": b"x",
        "pets/.hidden/d.png": png,
    })
    domain = read_images(path)
    assert domain.name == "pets"
    assert len(domain) == 3
    assert domain.classes == ["cat", "dog"]
    assert domain.labels == ["cat", "cat", "dog"]
    assert domain.sources == ["pets/cat/a.png", "pets/cat/b.png", "pets/dog/c.png"]
    reasons = domain.summary()["skipped_reasons"]
    assert reasons == {
        "not an image": 1,
        "junk (.DS_Store)": 1,
        "junk (Thumbs.db)": 1,
        "junk (__MACOSX)": 1,
        "junk (hidden file)": 1,
    }
    assert any(s.file == "pets/labels.csv" and s.reason == "not an image" for s in domain.skipped)


def test_item_22_unwrapped_layout_and_nested_subfolders_use_first_level_class(tmp_path, write_zip, image_bytes):
    png = image_bytes()
    path = write_zip(tmp_path / "d.zip", {"cat/a.png": png, "cat/deep/b.png": png, "dog/c.png": png})
    domain = read_images(path)
    assert domain.labels == ["cat", "cat", "dog"]


def test_images_at_root_give_unlabeled_domain(tmp_path, write_zip, image_bytes):
    png = image_bytes()
    domain = read_images(write_zip(tmp_path / "t.zip", {"a.png": png, "b.png": png, "notes.txt": b"hi"}))
    assert domain.labels is None and domain.classes == [] and len(domain) == 2
    wrapped = read_images(write_zip(tmp_path / "w.zip", {"target/a.png": png, "target/b.png": png}))
    assert wrapped.labels is None and wrapped.sources == ["target/a.png", "target/b.png"]


def test_item_22_single_top_folder_is_a_wrapper_not_a_class(tmp_path, write_zip, image_bytes):
    png = image_bytes()
    domain = read_images(write_zip(tmp_path / "one.zip", {"cat/a.png": png, "cat/b.png": png}))
    assert domain.labels is None


def test_root_images_beside_class_folders_are_skipped(tmp_path, write_zip, image_bytes):
    png = image_bytes()
    domain = read_images(write_zip(tmp_path / "m.zip", {"x.png": png, "cat/a.png": png, "dog/b.png": png}))
    assert len(domain) == 2
    assert [(s.file, s.reason) for s in domain.skipped] == [("x.png", "not in a class folder")]


def test_item_25_empty_class_folder_reported(tmp_path, write_zip, image_bytes):
    png = image_bytes()
    path = write_zip(tmp_path / "e.zip", {
        "ds/cat/a.png": png, "ds/dog/": None, "ds/bird/readme.txt": b"x", "ds/fish/bad.png": b"junk",
    })
    domain = read_images(path)
    assert domain.classes == ["cat"]
    empty = {s.file for s in domain.skipped if s.reason == "class folder has no valid images"}
    assert empty == {"ds/dog/", "ds/bird/", "ds/fish/"}


def test_empty_archive_and_no_images(tmp_path, write_zip):
    with pytest.raises(DataError, match=r"empty\.zip: the archive is empty"):
        read_images(write_zip(tmp_path / "empty.zip", {}))
    with pytest.raises(DataError, match=r"dirs\.zip: the archive is empty"):
        read_images(write_zip(tmp_path / "dirs.zip", {"cat/": None, "dog/": None}))
    with pytest.raises(DataError, match=r"docs\.zip: no images found.*class_name/image\.jpg"):
        read_images(write_zip(tmp_path / "docs.zip", {"labels.csv": b"a,b", "cat/readme.md": b"x"}))


@pytest.mark.parametrize("member", [
    "../../evil.py", "/etc/x", "a/../../x", "..\\..\\x", "C:\\x", "C:/x", "\\\\host\\share\\x", "cat/../../x.png",
])
def test_item_12_zip_slip_refused_and_nothing_written(tmp_path, write_zip, image_bytes, member):
    work = tmp_path / "work"
    work.mkdir()
    path = write_zip(work / "slip.zip", {"cat/a.png": image_bytes(), member: b"print('pwned')"})
    with pytest.raises(UnsafeArchive) as info:
        read_images(path)
    assert "slip.zip" in str(info.value) and repr(member) in str(info.value)
    assert sorted(p.name for p in work.iterdir()) == ["slip.zip"]
    assert not (tmp_path / "evil.py").exists() and not (tmp_path.parent / "evil.py").exists()


def test_item_13_symlink_member_refused(tmp_path, image_bytes):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cat/a.png", image_bytes())
        info = zipfile.ZipInfo("cat/link.png")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchive, match=r"link\.zip: member 'cat/link\.png' is a symlink"):
        read_images(path)


def test_item_18_encrypted_member_refused(tmp_path, write_zip, image_bytes, patch_first_member):
    data = write_zip(tmp_path / "plain.zip", {"cat/a.png": image_bytes()}).read_bytes()
    path = tmp_path / "secret.zip"
    path.write_bytes(patch_first_member(data, 6, 8, 0x1))
    with pytest.raises(UnsafeArchive, match=r"secret\.zip: member 'cat/a\.png'.*Password-protected ZIPs"):
        read_images(path)


def test_item_19_unsupported_compression_suggests_deflate(tmp_path, write_zip, image_bytes, patch_first_member):
    data = write_zip(tmp_path / "plain.zip", {"cat/a.png": image_bytes()}).read_bytes()
    path = tmp_path / "deflate64.zip"
    path.write_bytes(patch_first_member(data, 8, 10, 9))
    with pytest.raises(DataError, match=r"deflate64\.zip: member 'cat/a\.png'.*method 9.*standard Deflate"):
        read_images(path)


def test_item_20_corrupt_and_truncated_zips(tmp_path, write_zip, image_bytes):
    (tmp_path / "fake.zip").write_bytes(b"this is not a zip file at all")
    with pytest.raises(DataError, match=r"fake\.zip: not a valid ZIP archive"):
        read_images(tmp_path / "fake.zip")
    data = write_zip(tmp_path / "full.zip", {f"c{i % 2}/{i}.png": image_bytes() for i in range(6)}).read_bytes()
    (tmp_path / "half.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"half\.zip: not a valid ZIP archive"):
        read_images(tmp_path / "half.zip")


def test_item_20_bad_crc_names_member(tmp_path, write_zip):
    payload = b"A" * 64
    data = bytearray(write_zip(tmp_path / "ok.zip", {"cat/a.png": payload}, zipfile.ZIP_STORED).read_bytes())
    data[data.find(payload) + 10] ^= 0xFF
    (tmp_path / "crc.zip").write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"crc\.zip: member 'cat/a\.png' is corrupt"):
        read_images(tmp_path / "crc.zip")


def test_item_14_zip_bomb_by_ratio_refused_quickly(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("cat/a.png", b"\0" * (20 * 1024**2))
    assert path.stat().st_size < 100_000
    with pytest.raises(UnsafeArchive, match=r"bomb\.zip: member 'cat/a\.png' has compression ratio"):
        read_images(path)


@pytest.mark.parametrize("limits, pattern", [
    (ArchiveLimits(max_members=10), r"11 members, more than the limit of 10"),
    (ArchiveLimits(max_member_bytes=100), r"member 'c0/0\.png' expands to .* more than the limit of 100"),
    (ArchiveLimits(max_total_bytes=300), r"expands to more than .* GB \(limit reached at member"),
])
def test_item_16_member_count_and_size_limits(tmp_path, write_zip, limits, pattern):
    members = {f"c{i % 2}/{i}.png": b"x" * 120 for i in range(11)}
    with pytest.raises(UnsafeArchive, match=pattern):
        read_images(write_zip(tmp_path / "many.zip", members), limits=limits)


def test_item_16_depth_and_name_length_limits(tmp_path, write_zip, image_bytes):
    deep = write_zip(tmp_path / "deep.zip", {"a/b/c/d/e.png": image_bytes()})
    with pytest.raises(UnsafeArchive, match=r"deep\.zip: member 'a/b/c/d/e\.png' is nested 5 levels deep \(limit 3\)"):
        read_images(deep, limits=ArchiveLimits(max_depth=3))
    long_name = write_zip(tmp_path / "long.zip", {"cat/" + "x" * 300 + ".png": image_bytes()})
    with pytest.raises(UnsafeArchive, match=r"long\.zip: member name too long"):
        read_images(long_name)


def test_item_21_duplicate_member_names_refused(tmp_path, image_bytes):
    path = tmp_path / "dup.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cat/a.png", image_bytes())
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("cat/a.png", image_bytes(color=(1, 2, 3)))
    with pytest.raises(UnsafeArchive, match=r"dup\.zip: member 'cat/a\.png' appears twice"):
        read_images(path)


def test_folder_input_with_symlink_skipped(tmp_path, image_bytes):
    root = tmp_path / "animals"
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        (root / cls / "a.png").write_bytes(image_bytes())
    (root / ".DS_Store").write_bytes(b"x")
    secret = tmp_path / "secret.png"
    secret.write_bytes(image_bytes())
    (root / "cat" / "link.png").symlink_to(secret)
    (root / "dog" / "linked_dir").symlink_to(tmp_path, target_is_directory=True)
    domain = read_images(root)
    assert domain.name == "animals"
    assert domain.labels == ["cat", "dog"]
    reasons = {(s.file, s.reason) for s in domain.skipped}
    assert ("cat/link.png", "symlink (not followed)") in reasons
    assert ("dog/linked_dir/", "symlink (not followed)") in reasons
    assert (".DS_Store", "junk (.DS_Store)") in reasons


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match=r"nothing\.zip: file not found"):
        read_images(tmp_path / "nothing.zip")


def test_archive_read_in_memory_only(tmp_path, write_zip, image_bytes, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_zip(tmp_path / "ok.zip", {"cat/a.png": image_bytes(), "dog/b.png": image_bytes()})
    before = sorted(p.name for p in tmp_path.rglob("*"))
    read_images(path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
