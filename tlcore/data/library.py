"""The domain library: saved domains shared by every user of the server.

Each entry is a row of the ``domains`` table in the run store's ``tl.db`` plus, for uploads, one folder
``<root>/domains/<uuid>/data.<ext>``. An upload is copied in chunks to a staging folder, read once with the
normal readers (so a bad file raises :class:`~tlcore.errors.DataError` before any row exists), then renamed
into place and indexed in one transaction. The client's file name is display metadata only: it never
becomes a path. Server folders are registered in place, but only under an allowed root; the answer for a
path outside them is the same as for a missing path (the field is no oracle for what exists on the server).

Large uploads are read (validated) in a child process, so the dashboard's memory does not grow with the
file. A staging folder records its owner process; leftovers of a killed server are swept when the library
opens. Entries record their owner: only the owner or an admin deletes one, and never while a queued or
running job uses it. Folders are private to the server's user (0700, files 0600).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
import unicodedata
import uuid
from contextlib import nullcontext as _nullcontext
from pathlib import Path
from typing import BinaryIO

from tlcore.data import stored_domains
from tlcore.data.formats import EXTENSIONS as TABLE_EXTENSIONS
from tlcore.data.uploads import MAX_UPLOAD_MB  # noqa: F401 - re-exported (pages, tests)
from tlcore.data.uploads import (CHUNK, allowed_roots, check_free_space, copy_upload, in_use, ingest_slot,
                                 inspect_domain, mark_owner, needs_child, peek_columns, resolve_allowed,
                                 sanitize_filename)
from tlcore.errors import DataError
from tlcore.runs import artifact_store
from tlcore.runs.store import RunStore, current_user, private_dir
from tlcore.runs.db import add_column

UPLOAD_EXTENSIONS = (".zip", *TABLE_EXTENSIONS)
MAX_NAME = 100
CHILD_READ_BYTES = 8 * 1024 * 1024  # uploads larger than this are validated in a child process
STAGING_MAX_AGE_S = 24 * 3600       # staging without an owner file is swept after this
_swept: set[str] = set()
_peeked: dict[str, list[str]] = {}  # column names of peeked uploads by content digest (a page asks on each rerun)

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


class DomainLibrary:
    """Saved domains: ingest uploads, register server folders, list, rename, delete."""

    def __init__(self, root: str | Path | None = None):
        self.store = RunStore(root)
        self.root = self.store.root
        self.dir = private_dir(self.root / "domains")
        with self.store.connect() as db:
            db.executescript(SCHEMA)
            add_column(db, "domains", "owner", "TEXT")
        if str(self.root) not in _swept:  # once per process and data root: at server start
            _swept.add(str(self.root))
            self.sweep_staging()

    def sweep_staging(self, max_age_s: float = STAGING_MAX_AGE_S) -> list[str]:
        """Remove what killed uploads left: staging and peek folders whose owner process is gone (or, without an
        owner file, older than ``max_age_s``), and upload folders with no library row. Returns what was removed."""
        removed = []
        with self.store.connect() as db:
            known = {r["domain_id"] for r in db.execute("SELECT domain_id FROM domains").fetchall()}
        now = time.time()
        for folder in list(self.dir.iterdir()):
            if not folder.is_dir():
                continue
            work = folder if folder.name.startswith(".peek-") else folder / ".staging"
            if folder.name in known and not work.exists():
                continue
            if not work.exists() and folder.name not in known:
                work = folder  # an upload folder without a row (killed between rename and insert)
            if in_use(work, now, max_age_s):
                continue
            target = folder if folder.name not in known else work
            shutil.rmtree(target, ignore_errors=True)
            removed.append(str(target))
        return removed

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
                      label_column: str | None = None, owner: str | None = None) -> dict:
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
        size = getattr(fileobj, "size", None)  # Streamlit's UploadedFile knows its size
        if isinstance(size, int):
            check_free_space(self.dir, size, display)
        domain_id = uuid.uuid4().hex
        folder = self.dir / domain_id
        staging = folder / ".staging"
        try:
            folder.mkdir(mode=0o700)
            staging.mkdir(mode=0o700)
            mark_owner(staging)
            staged = staging / f"data{ext}"
            copied = copy_upload(fileobj, staged, display)
            big = copied > CHILD_READ_BYTES
            with ingest_slot(self.root, display) if big else _nullcontext():
                info = inspect_domain(staged, display, name, text_column, label_column,
                                      in_child=needs_child(staged, copied, CHILD_READ_BYTES))
            final = folder / f"data{ext}"
            os.replace(staged, final)
            shutil.rmtree(staging, ignore_errors=True)
            entry = self._insert(domain_id, name, "upload", info, final, display, text_column, label_column, owner)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        # TL_ARTIFACTS_URL: also in object storage, for jobs on nodes without this disk (a failure is reported:
        # jobs here still read it; ``artifacts_problem`` says why a remote job would not)
        problem = stored_domains.put(self.root, domain_id, final)
        artifact_store.report(problem)
        return {**entry, "artifacts_problem": problem} if problem else entry

    def register_folder(self, name: str, path: str | Path, allowed: list[str | Path] | None = None,
                        owner: str | None = None) -> dict:
        """Register an image folder (``class/img.jpg``) or a table file on the server, in place.

        A path outside the allowed roots gets the same answer as a missing one, and the check is made on the
        path as written before anything on disk is looked at: the field tells nothing about other paths.

        Args:
            allowed: roots the path must resolve under; default :func:`allowed_roots`.
        """
        name = self._check_name(name)
        roots = [Path(r).expanduser().resolve() for r in allowed] if allowed else allowed_roots(self.root)
        resolved = resolve_allowed(path, roots)
        info = inspect_domain(resolved, resolved.name, name, None, None, in_child=True)
        return self._insert(uuid.uuid4().hex, name, "folder", info, resolved, resolved.name, None, None, owner)

    def upload_columns(self, filename: str, fileobj: BinaryIO) -> list[str]:
        """Column names of an uploaded table (for the column pickers), read from a temporary copy in the limited
        child (:func:`peek_columns`)."""
        display = sanitize_filename(filename)
        ext = Path(display).suffix.lower()
        if ext not in TABLE_EXTENSIONS:
            raise DataError(f"{display}: not a table; give one of {', '.join(TABLE_EXTENSIONS)}")
        whole = ext in (".parquet", ".json")
        peek = self.dir / f".peek-{uuid.uuid4().hex}"
        try:
            peek.mkdir(parents=True, mode=0o700)
            mark_owner(peek)
            tmp = peek / f"data{ext}"
            copied, digest = 0, hashlib.blake2b(display.encode(), digest_size=16)
            with open(tmp, "wb") as out:
                while whole or copied < 2 * CHUNK:
                    chunk = fileobj.read(CHUNK)
                    if not chunk:
                        break
                    copied += len(chunk)
                    digest.update(chunk)
                    out.write(chunk)
            key = digest.hexdigest()  # the page asks on every rerun: one child per distinct file
            if key not in _peeked:
                _peeked[key] = peek_columns(tmp, display)
                while len(_peeked) > 64:
                    _peeked.pop(next(iter(_peeked)))
            return list(_peeked[key])
        finally:
            shutil.rmtree(peek, ignore_errors=True)
            if hasattr(fileobj, "seek"):
                fileobj.seek(0)

    # -- changing ---------------------------------------------------------------------------------
    def rename(self, domain_id: str, new_name: str, actor: str | None = None) -> dict:
        """Rename a saved domain; only its owner or an admin (``actor``; None: the server's operator) may."""
        from tlcore.auth import authorize
        from tlcore.runs import audit

        new_name = self._check_name(new_name, exclude=domain_id)
        entry = self.get(domain_id)
        authorize(actor, entry.get("owner"), f"domain {entry['name']!r}", self.root, action="rename")
        try:
            with self.store.connect() as db:
                db.execute("UPDATE domains SET name = ? WHERE domain_id = ?", (new_name, domain_id))
        except sqlite3.IntegrityError:
            raise DataError(_taken(new_name)) from None
        audit.record(self.store, actor, "rename domain", entry["name"], f"{domain_id} -> {new_name!r}")
        return self.get(domain_id)

    def jobs_using(self, domain_id: str) -> list[str]:
        """Ids of queued or running jobs whose source or target is this saved domain."""
        entry = self.get(domain_id)
        try:
            with self.store.connect() as db:
                rows = db.execute("SELECT job_id, config FROM jobs WHERE status IN ('queued', 'running') "
                                  "ORDER BY created").fetchall()
        except Exception:  # noqa: BLE001 - no jobs table yet
            return []
        out = []
        own = _resolved(entry["path"])  # compared resolved: ``<id>/./data.zip`` or a link is the same file
        folder = _resolved(self.dir / domain_id) if entry["kind"] == "upload" else None
        for r in rows:
            try:
                cfg = json.loads(r["config"])
            except ValueError:
                continue
            for side in ("source", "target"):
                spec = cfg.get(side) if isinstance(cfg, dict) else None
                used = _resolved(spec.get("path")) if isinstance(spec, dict) and spec.get("path") else None
                if used is not None and (used == own or (folder is not None and used.is_relative_to(folder))
                                         or spec.get("name") == entry["name"]):
                    out.append(r["job_id"])
                    break
        return out

    def delete(self, domain_id: str, actor: str | None = None) -> None:
        """Remove the row, then (for uploads only) the stored files. Server folders are never touched.

        Raises:
            DataError: a queued or running job uses the domain (the message lists the job ids).
            PermissionDenied: ``actor`` is neither the owner nor an admin.
        """
        from tlcore.auth import authorize

        entry = self.get(domain_id)
        authorize(actor, entry.get("owner"), f"domain {entry['name']!r}", self.root)
        busy = self.jobs_using(domain_id)
        if busy:
            raise DataError(f"domain {entry['name']!r} is used by {len(busy)} queued or running job(s): "
                            f"{', '.join(busy)}; cancel them or wait until they finish, then delete it")
        with self.store.connect() as db:
            db.execute("DELETE FROM domains WHERE domain_id = ?", (domain_id,))
        from tlcore.runs import audit

        audit.record(self.store, actor, "delete domain", entry["name"], f"{domain_id}, owner {entry.get('owner')}")
        if entry["kind"] == "upload":
            folder = self.dir / domain_id
            if folder.resolve().is_relative_to(self.dir.resolve()) and folder != self.dir:
                shutil.rmtree(folder, ignore_errors=True)
            artifact_store.report(stored_domains.delete(self.root, domain_id))

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

    def _insert(self, domain_id, name, kind, info: dict, path: Path, display, text_column, label_column,
                owner=None) -> dict:
        small = {k: v for k, v in info["summary"].items() if k not in ("sizes", "lengths")}
        try:
            with self.store.connect() as db:
                db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT INTO domains (domain_id, name, kind, modality, path, original_filename, text_column,"
                    " label_column, created, n, classes, summary, owner) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (domain_id, name, kind, info["modality"], str(path), display, text_column or None,
                     label_column or None, time.time(), info["n"], json.dumps(info["classes"]), json.dumps(small),
                     owner or current_user()))
                db.execute("COMMIT")
        except sqlite3.IntegrityError:
            raise DataError(_taken(name)) from None
        from tlcore.runs import audit

        audit.record(self.store, owner, f"add domain ({kind})", name, f"{domain_id}, {info['n']} samples")
        return self.get(domain_id)


def _taken(name: str) -> str:
    return f"a domain named {name!r} already exists; choose another name"


def _entry(row) -> dict:
    d = dict(row)
    d["classes"] = json.loads(d["classes"] or "[]")
    d["summary"] = json.loads(d["summary"] or "{}")
    return d


def _resolved(path) -> Path | None:
    """``path`` with links, ``.`` and ``..`` resolved (None when it cannot be)."""
    try:
        return Path(str(path)).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return None
