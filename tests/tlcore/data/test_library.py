"""The domain library: ingest, refuse duplicates, atomic failure, rename, delete, allowed roots."""

from __future__ import annotations

import io
import os
import zipfile

import pytest
from PIL import Image

from tlcore.data.library import DomainLibrary, sanitize_filename
from tlcore.errors import DataError
from tlcore.runs.store import RunStore



def image_bytes(size=(8, 8), color=(120, 90, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for cls in ("cat", "dog"):
            for i in range(3):
                z.writestr(f"{cls}/{i}.png", image_bytes(size=(8, 8), color=(40 * i, 90, 10)))
    return buf.getvalue()


CSV = b"text,label\nlovely book,pos\nawful plot,neg\ngreat read,pos\nboring,neg\n"


@pytest.fixture
def lib(tmp_path, monkeypatch):
    monkeypatch.delenv("TL_ALLOWED_ROOTS", raising=False)
    return DomainLibrary(tmp_path / "home")


def _leftovers(lib) -> list[str]:
    return sorted(str(p.relative_to(lib.dir)) for p in lib.dir.rglob("*"))


def test_ingest_zip_and_csv(lib):
    e = lib.ingest_upload("pets", "pets.zip", io.BytesIO(_zip_bytes()))
    assert e["modality"] == "image" and e["n"] == 6 and e["classes"] == ["cat", "dog"]
    assert e["kind"] == "upload" and e["original_filename"] == "pets.zip"
    assert os.path.isfile(e["path"]) and e["path"].endswith("data.zip")
    t = lib.ingest_upload("books", "b.csv", io.BytesIO(CSV), label_column="label")
    assert t["modality"] == "text" and t["classes"] == ["neg", "pos"]
    assert [x["name"] for x in lib.list()] == ["books", "pets"]
    spec = lib.spec(t["domain_id"])
    assert spec["path"] == t["path"] and spec["name"] == "books" and spec["label_column"] == "label"
    # the same table is visible through another instance (shared by all users of the root)
    assert len(DomainLibrary(lib.root).list()) == 2
    assert not list(lib.dir.rglob(".staging"))


def test_duplicate_name_refused(lib):
    first = lib.ingest_upload("pets", "pets.zip", io.BytesIO(_zip_bytes()))
    with pytest.raises(DataError, match="a domain named 'pets' already exists; choose another name"):
        lib.ingest_upload("pets", "other.csv", io.BytesIO(CSV))
    assert [e["domain_id"] for e in lib.list()] == [first["domain_id"]]
    assert lib.get(first["domain_id"])["path"] == first["path"]


@pytest.mark.parametrize("filename,data", [
    ("broken.zip", b"PK\x03\x04 not really a zip"),
    ("empty.csv", b""),
    ("bad.csv", b"text,label\n,\n"),
    ("notes.exe", b"MZ"),
])
def test_failed_ingest_leaves_library_unchanged(lib, filename, data):
    keep = lib.ingest_upload("keep", "k.csv", io.BytesIO(CSV))
    before = _leftovers(lib)
    with pytest.raises(DataError) as exc:
        lib.ingest_upload("new", filename, io.BytesIO(data))
    assert filename in str(exc.value)
    assert [e["domain_id"] for e in lib.list()] == [keep["domain_id"]]
    assert _leftovers(lib) == before
    assert not list(lib.dir.rglob(".staging"))


def test_item_05_failure_mid_copy_cleans_staging(lib):
    class Exploding(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 0:
                raise OSError("connection dropped")
            return super().read(10)

    with pytest.raises(OSError):
        lib.ingest_upload("x", "x.csv", Exploding(CSV))
    assert lib.list() == [] and _leftovers(lib) == []


def test_rename_and_delete(lib):
    a = lib.ingest_upload("a", "a.csv", io.BytesIO(CSV))
    b = lib.ingest_upload("b", "b.csv", io.BytesIO(CSV))
    assert lib.rename(a["domain_id"], "a2")["name"] == "a2"
    with pytest.raises(DataError, match="already exists"):
        lib.rename(a["domain_id"], "b")
    folder = os.path.dirname(b["path"])
    lib.delete(b["domain_id"])
    assert not os.path.exists(folder)
    assert [e["name"] for e in lib.list()] == ["a2"]
    with pytest.raises(DataError, match="not found"):
        lib.get(b["domain_id"])


def test_register_folder_allowed_roots(lib, tmp_path):
    imports = lib.root / "imports" / "pets"
    for cls in ("cat", "dog"):
        (imports / cls).mkdir(parents=True)
        for i in range(2):
            (imports / cls / f"{i}.png").write_bytes(image_bytes(size=(8, 8)))
    e = lib.register_folder("server pets", imports)
    assert e["kind"] == "folder" and e["n"] == 4
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(DataError, match="no such file or folder in the allowed import folders"):
        lib.register_folder("evil", outside)
    with pytest.raises(DataError, match="no such file or folder in the allowed import folders"):
        lib.register_folder("evil2", str(lib.root / "imports" / ".." / ".."))
    with pytest.raises(DataError, match="no such file or folder"):
        lib.register_folder("evil3", outside, allowed=[lib.root / "imports"])
    lib.delete(e["domain_id"])
    assert imports.is_dir()  # a registered server folder is never deleted


def test_allowed_roots_from_env(lib, tmp_path, monkeypatch):
    extra = tmp_path / "team"
    (extra / "a").mkdir(parents=True)
    (extra / "a" / "x.png").write_bytes(image_bytes(size=(8, 8)))
    (extra / "b").mkdir()
    (extra / "b" / "y.png").write_bytes(image_bytes(size=(8, 8)))
    monkeypatch.setenv("TL_ALLOWED_ROOTS", str(extra))
    assert lib.register_folder("team", extra)["n"] == 2


@pytest.mark.parametrize("hostile", [
    "../../home/u/.bashrc.csv", "..\\..\\x.csv", "/etc/cron.d/x.csv", "C:\\x.csv", "a\x00b.csv",
    "\u202eevil.csv", "CON.csv", "x" * 300 + ".csv",
])
def test_item_03_hostile_filename_stays_under_root(lib, hostile):
    e = lib.ingest_upload(f"t{abs(hash(hostile))}", hostile, io.BytesIO(CSV))
    stored = os.path.realpath(e["path"])
    assert stored.startswith(str(lib.dir.resolve()) + os.sep)
    assert os.path.basename(stored) == "data.csv"
    shown = e["original_filename"]
    assert "/" not in shown and "\\" not in shown and "\x00" not in shown and "\u202e" not in shown
    assert len(shown) <= 255


def test_sanitize_filename():
    assert sanitize_filename("../../a.zip") == "a.zip"
    assert sanitize_filename("") == "upload"


def test_library_shares_the_run_db(lib):
    assert lib.store.db_path == RunStore(lib.root).db_path


def test_upload_columns_leaves_nothing(lib):
    f = io.BytesIO(b"review,stars,label\nok,3,pos\n")
    assert lib.upload_columns("r.csv", f) == ["review", "stars", "label"]
    assert f.tell() == 0 and _leftovers(lib) == []
    with pytest.raises(DataError, match="r.zip"):
        lib.upload_columns("r.zip", f)


def test_item_01_an_upload_over_the_limit_is_refused_with_the_limit_and_nothing_is_stored(lib, monkeypatch):
    from tlcore.data import uploads

    monkeypatch.setattr(uploads, "MAX_UPLOAD_MB", 1)
    big = b"text,label\n" + b"a fine text,pos\n" * (1024 * 1024 // 16 + 1)  # 1 MB + a bit
    with pytest.raises(DataError, match=r"big\.csv: larger than the 1 MB upload limit; ask an admin"):
        lib.ingest_upload("big", "big.csv", io.BytesIO(big))
    assert lib.list() == [] and _leftovers(lib) == []
    lib.ingest_upload("small", "small.csv", io.BytesIO(CSV))  # under the limit: accepted


@pytest.mark.parametrize("filename,data,reason", [
    ("data.zip", image_bytes(), r"data\.zip: not a valid ZIP archive"),     # a PNG named .zip
    ("train.csv", _zip_bytes(), r"train\.csv: this looks like an Excel/ZIP file"),  # a ZIP named .csv
    ("model.safetensors", b"MZ\x90\x00" + b"\x00" * 60, r"unsupported file type '\.safetensors'"),
    ("x.exe:$DATA.zip", b"MZ\x90\x00" + b"\x00" * 60, r"not a valid ZIP archive"),  # NTFS-ADS-style, EXE inside
])
def test_item_02_content_that_does_not_match_the_extension_is_refused_and_nothing_is_stored(lib, filename, data,
                                                                                           reason):
    with pytest.raises(DataError, match=reason):
        lib.ingest_upload("x", filename, io.BytesIO(data))
    assert lib.list() == [] and _leftovers(lib) == []
