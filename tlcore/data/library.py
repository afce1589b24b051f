"""The domain library: saved domains shared by every user of the server.

Each entry is a row of the ``domains`` table in the run store's ``tl.db`` plus, for uploads, one folder
``<root>/domains/<uuid>/data.<ext>``. An upload is copied in chunks to a staging folder, read once with the
normal readers (so a bad file raises :class:`~tlcore.errors.DataError` before any row exists), then renamed
into place and indexed in one transaction. The client's file name is display metadata only: it never
becomes a path. Server folders are registered in place, but only under an allowed root.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import time
import unicodedata
import uuid
from pathlib import Path
from typing import BinaryIO

from tlcore.data.archive import read_images
from tlcore.data.domain import Domain
from tlcore.data.formats import EXTENSIONS as TABLE_EXTENSIONS
from tlcore.data.table import read_text
from tlcore.errors import DataError
from tlcore.runs.store import RunStore

MAX_UPLOAD_MB = 1024  # keep equal to server.maxUploadSize in .streamlit/config.toml
CHUNK = 1024 * 1024
UPLOAD_EXTENSIONS = (".zip", *TABLE_EXTENSIONS)
MAX_NAME = 100

SCHEMA = """
CREATE TABLE IF NOT EXISTS domains (
    domain_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    modality TEXT NOT NULL,
    path TEXT NOT NULL,
    original_filename TEXT,
    text_column TEXT,
    label_column TEXT,
    created REAL NOT NULL,
    n INTEGER,
    classes TEXT,
    summary TEXT
);
"""


def sanitize_filename(name: str | None) -> str:
    """A client file name made safe to display: NFC, no control/format characters, no folders, <= 255."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = re.split(r"[\\/]", text)[-1].strip()
    if len(text) > 255:
        suffix = Path(text).suffix[:16]
        text = text[: 255 - len(suffix)] + suffix
    return text or "upload"


def allowed_roots(root: Path) -> list[Path]:
    """Folders under which server folders may be registered: env ``TL_ALLOWED_ROOTS`` or ``<root>/imports``."""
    env = os.environ.get("TL_ALLOWED_ROOTS", "")
    roots = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    return [p.resolve() for p in (roots or [root / "imports"])]


class DomainLibrary:
    """Saved domains: ingest uploads, register server folders, list, rename, delete."""

    def __init__(self, root: str | Path | None = None):
        self.store = RunStore(root)
        self.root = self.store.root
        self.dir = self.root / "domains"
        self.dir.mkdir(parents=True, exist_ok=True)
        with self.store.connect() as db:
            db.executescript(SCHEMA)

    # -- reading ----------------------------------------------------------------------------------
    def list(self) -> list[dict]:
        with self.store.connect() as db:
            rows = db.execute("SELECT * FROM domains ORDER BY created DESC").fetchall()
        return [_entry(r) for r in rows]

    def get(self, domain_id: str) -> dict:
        with self.store.connect() as db:
            row = db.execute("SELECT * FROM domains WHERE domain_id = ?", (domain_id,)).fetchone()
        if row is None:
            raise DataError(f"saved domain {domain_id!r} not found")
        return _entry(row)

    def spec(self, domain_id: str) -> dict:
        """A RunConfig source/target spec for the entry."""
        e = self.get(domain_id)
        out = {"path": e["path"], "name": e["name"]}
        for k in ("text_column", "label_column"):
            if e.get(k):
                out[k] = e[k]
        return out

    # -- adding -----------------------------------------------------------------------------------
    def ingest_upload(self, name: str, filename: str, fileobj: BinaryIO, text_column: str | None = None,
                      label_column: str | None = None) -> dict:
        """Copy an uploaded stream under the root, validate it by reading it, then index it.

        Raises:
            DataError: bad name, duplicate name, unsupported type or unreadable content (the library is unchanged).
        """
        name = self._check_name(name)
        display = sanitize_filename(filename)
        ext = Path(display).suffix.lower()
        if ext not in UPLOAD_EXTENSIONS:
            raise DataError(f"{display}: unsupported file type {ext or '(none)'!r}; "
                            f"upload one of {', '.join(UPLOAD_EXTENSIONS)}")
        domain_id = uuid.uuid4().hex
        folder = self.dir / domain_id
        staging = folder / ".staging"
        try:
            staging.mkdir(parents=True)
            staged = staging / f"data{ext}"
            limit = MAX_UPLOAD_MB * 1024 * 1024
            copied = 0
            with open(staged, "wb") as out:
                while True:
                    chunk = fileobj.read(CHUNK)
                    if not chunk:
                        break
                    copied += len(chunk)
                    if copied > limit:
                        raise DataError(f"{display}: larger than the {MAX_UPLOAD_MB} MB upload limit; ask an admin "
                                        "to put large data in the server import folder")
                    out.write(chunk)
            if copied == 0:
                raise DataError(f"{display}: the file is empty")
            domain = self._read(staged, display, name, text_column, label_column)
            final = folder / f"data{ext}"
            os.replace(staged, final)
            shutil.rmtree(staging, ignore_errors=True)
            return self._insert(domain_id, name, "upload", domain, final, display, text_column, label_column)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def register_folder(self, name: str, path: str | Path, allowed: list[str | Path] | None = None) -> dict:
        """Register an image folder (``class/img.jpg``) or a table file on the server, in place.

        Args:
            allowed: roots the path must resolve under; default :func:`allowed_roots`.
        """
        name = self._check_name(name)
        roots = [Path(r).expanduser().resolve() for r in allowed] if allowed else allowed_roots(self.root)
        p = Path(str(path)).expanduser()
        try:
            resolved = p.resolve(strict=True)
        except (OSError, RuntimeError):
            raise DataError(f"{path}: not found on the server") from None
        if not any(resolved == r or resolved.is_relative_to(r) for r in roots):
            raise DataError(f"{path}: outside the allowed import folders ({', '.join(map(str, roots))}); "
                            "ask an admin to copy the data there or to set TL_ALLOWED_ROOTS")
        domain = self._read(resolved, resolved.name, name, None, None)
        return self._insert(uuid.uuid4().hex, name, "folder", domain, resolved, resolved.name, None, None)

    def upload_columns(self, filename: str, fileobj: BinaryIO) -> list[str]:
        """Column names of an uploaded table (for the column pickers), read from a temporary copy."""
        from tlcore.data.table import table_columns

        display = sanitize_filename(filename)
        ext = Path(display).suffix.lower()
        if ext not in TABLE_EXTENSIONS:
            raise DataError(f"{display}: not a table; give one of {', '.join(TABLE_EXTENSIONS)}")
        whole = ext in (".parquet", ".json")
        peek = self.dir / f".peek-{uuid.uuid4().hex}"
        try:
            peek.mkdir(parents=True)
            tmp = peek / f"data{ext}"
            copied = 0
            with open(tmp, "wb") as out:
                while whole or copied < 2 * CHUNK:
                    chunk = fileobj.read(CHUNK)
                    if not chunk:
                        break
                    copied += len(chunk)
                    out.write(chunk)
            try:
                return table_columns(tmp)
            except DataError as exc:
                raise DataError(str(exc).replace(tmp.name, display, 1)) from None
        finally:
            shutil.rmtree(peek, ignore_errors=True)
            if hasattr(fileobj, "seek"):
                fileobj.seek(0)

    # -- changing ---------------------------------------------------------------------------------
    def rename(self, domain_id: str, new_name: str) -> dict:
        new_name = self._check_name(new_name, exclude=domain_id)
        self.get(domain_id)
        try:
            with self.store.connect() as db:
                db.execute("UPDATE domains SET name = ? WHERE domain_id = ?", (new_name, domain_id))
        except sqlite3.IntegrityError:
            raise DataError(_taken(new_name)) from None
        return self.get(domain_id)

    def delete(self, domain_id: str) -> None:
        """Remove the row, then (for uploads only) the stored files. Server folders are never touched."""
        entry = self.get(domain_id)
        with self.store.connect() as db:
            db.execute("DELETE FROM domains WHERE domain_id = ?", (domain_id,))
        if entry["kind"] == "upload":
            folder = self.dir / domain_id
            if folder.resolve().is_relative_to(self.dir.resolve()) and folder != self.dir:
                shutil.rmtree(folder, ignore_errors=True)

    # -- internals --------------------------------------------------------------------------------
    def _check_name(self, name: str, exclude: str | None = None) -> str:
        name = unicodedata.normalize("NFC", str(name or ""))
        name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
        if not name:
            raise DataError("domain name: give a non-empty name")
        if len(name) > MAX_NAME:
            raise DataError(f"domain name: at most {MAX_NAME} characters")
        with self.store.connect() as db:
            row = db.execute("SELECT domain_id FROM domains WHERE name = ?", (name,)).fetchone()
        if row is not None and row["domain_id"] != exclude:
            raise DataError(_taken(name))
        return name

    @staticmethod
    def _read(path: Path, display: str, name: str, text_column, label_column) -> Domain:
        try:
            if path.is_dir() or path.suffix.lower() == ".zip":
                return read_images(path, name=name)
            if path.suffix.lower() in TABLE_EXTENSIONS:
                return read_text(path, text_column=text_column or None, label_column=label_column or None, name=name)
        except DataError as exc:
            raise DataError(f"{display}: {exc}".replace(f"{display}: {path.name}: ", f"{display}: ")) from None
        raise DataError(f"{display}: unsupported file type; give a folder, a .zip or one of {', '.join(TABLE_EXTENSIONS)}")

    def _insert(self, domain_id, name, kind, domain: Domain, path: Path, display, text_column, label_column) -> dict:
        summary = domain.summary()
        small = {k: v for k, v in summary.items() if k not in ("sizes", "lengths")}
        try:
            with self.store.connect() as db:
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT INTO domains (domain_id, name, kind, modality, path, original_filename, text_column,"
                    " label_column, created, n, classes, summary) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (domain_id, name, kind, domain.modality, str(path), display, text_column or None,
                     label_column or None, time.time(), len(domain), json.dumps(domain.classes), json.dumps(small)))
                db.execute("COMMIT")
        except sqlite3.IntegrityError:
            raise DataError(_taken(name)) from None
        return self.get(domain_id)


def _taken(name: str) -> str:
    return f"a domain named {name!r} already exists; choose another name"


def _entry(row) -> dict:
    d = dict(row)
    d["classes"] = json.loads(d["classes"] or "[]")
    d["summary"] = json.loads(d["summary"] or "{}")
    return d
