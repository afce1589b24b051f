"""Where a run's files live beyond the machine that made it (issue 26 item 2): the artifact store.

* :class:`LocalArtifacts` (the default): the run folders under the data root are the only copy.
* :class:`FsspecArtifacts` (``TL_ARTIFACTS_URL`` set, any fsspec URL: ``s3://bucket/prefix`` with
  ``AWS_ENDPOINT_URL`` for an S3-compatible service, ``gs://``, ``file:///``...): every run file is also stored
  under ``<url>/<run_id>/<name>``. A job on another node writes there and the dashboard reads from there; no
  shared filesystem is needed.

A run still works in its local folder while it trains (events appended live, model files written atomically).
The run store (:mod:`tlcore.runs.store`) hands each file it writes to the artifact store (written through at
once), the events log every :data:`EVENTS_EVERY_S` seconds and at every status change, and the whole folder
when the run finishes (completed, failed or cancelled: files written by other writers, e.g. the model). An
upload that fails is reported (a ``warning`` event on the run and a line on stderr naming ``TL_ARTIFACTS_URL``)
and never fails the run: the local files stay, and the next finish or write tries again.

Readers ask :meth:`FsspecArtifacts.fetch` when the run folder lacks a file: it is downloaded into a private
cache (``TL_HOME/cache/artifacts/<run_id>/``, 0700/0600) and refreshed when the stored copy changes.
Deleting a run deletes its prefix. Torch-free; fsspec is imported when a URL is set.

Files that belong to no run live beside the runs, under prefixes no run id takes (they start with ``_``):
:data:`JOB_LOGS` (``_jobs/<job_id>.log``: the log of a job that ran on a Ray node, uploaded when it ends) and
:data:`DOMAINS` (``_domains/<domain_id>/<file>``: the files of the domains saved on the head, fetched by a job on
a node without them): :meth:`FsspecArtifacts.put_shared` and :meth:`FsspecArtifacts.fetch_shared`.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
import uuid
from pathlib import Path

from tlcore.errors import TLError
from tlcore.runs.files import FILE_MODE, private_dir

SETTING = "TL_ARTIFACTS_URL"
EVENTS_EVERY_S = 10.0  # the live events log is uploaded at most this often (and at every status change)
# temp files, logs, light jobs' progress files and projection caches (recomputed where they are needed)
LOCAL_ONLY = re.compile(r"^\.|^projection_|\.log$|_progress\.json$")
JOB_LOGS, DOMAINS = "_jobs", "_domains"  # prefixes beside the runs' (see the module docstring)
_S3_CONFIG = {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 2}}  # unreachable: seconds


class ArtifactsUnavailable(TLError):
    """The artifact store named by ``TL_ARTIFACTS_URL`` cannot be used (bad URL, unreachable, refused)."""


def redact(url: str | None) -> str:
    """``url`` without credentials (``scheme://user:secret@host`` -> ``scheme://***@host``; no query string)."""
    if not url:
        return ""
    url = re.sub(r"(://)[^/@]*@", r"\1***@", str(url))
    return url.split("?", 1)[0]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def from_settings(root: Path):
    """The artifact store this process uses for the data root ``root``: :class:`FsspecArtifacts` when
    ``TL_ARTIFACTS_URL`` is set, else :class:`LocalArtifacts`."""
    from tlcore import settings

    url = (settings.get(SETTING) or "").strip()
    return FsspecArtifacts(url, Path(root) / "cache" / "artifacts") if url else LocalArtifacts()


class LocalArtifacts:
    """Today's behaviour: the run folder is the only copy; every hook does nothing."""

    url = None

    def put_file(self, run_id: str, name: str, path: Path) -> str | None:  # noqa: ARG002 - same hooks as remote
        return None

    def events_appended(self, run_id: str, path: Path, force: bool = False) -> str | None:  # noqa: ARG002
        return None

    def publish(self, run_id: str, folder: Path) -> str | None:  # noqa: ARG002
        return None

    def fetch(self, run_id: str, name: str) -> Path | None:  # noqa: ARG002
        return None

    def fetch_folder(self, run_id: str, names) -> Path | None:  # noqa: ARG002
        return None

    def delete(self, run_id: str) -> None:  # noqa: ARG002
        return None

    def put_shared(self, area: str, name: str, path: Path) -> str | None:  # noqa: ARG002
        return None

    def fetch_shared(self, area: str, name: str) -> Path | None:  # noqa: ARG002
        return None

    def check(self) -> dict:
        return {"url": None, "ok": True}


class FsspecArtifacts:
    """Run files under ``url`` (any fsspec URL), downloaded on demand into ``cache``."""

    def __init__(self, url: str, cache: Path):
        self.url = url.rstrip("/")
        self.cache = Path(cache)
        self._fs = None
        self._base = ""
        self._sent: dict[tuple[str, str], tuple[int, int]] = {}  # (run, name) -> (size, mtime_ns) uploaded
        self._events_at: dict[str, float] = {}
        self._failing: set[str] = set()  # runs whose last upload failed: writes wait for the next finish

    # the filesystem ---------------------------------------------------------------------------------------
    @property
    def fs(self):
        """The fsspec filesystem (created on first use). Raises :class:`ArtifactsUnavailable` for a URL fsspec
        cannot open (unknown scheme, missing driver)."""
        if self._fs is None:
            try:
                import fsspec
                from fsspec.core import split_protocol

                protocol = split_protocol(self.url)[0]
                if not protocol:
                    raise ValueError("a URL such as s3://bucket/prefix is expected")
                options = {"config_kwargs": _S3_CONFIG} if protocol in ("s3", "s3a") else {}
                if options and os.environ.get("AWS_ENDPOINT_URL"):
                    # named, so fsspec's instance cache (keyed by these arguments, not by the environment) never
                    # hands this store a filesystem made for another endpoint earlier in the process
                    options["endpoint_url"] = os.environ["AWS_ENDPOINT_URL"]
                self._fs, self._base = fsspec.core.url_to_fs(self.url, **options)
            except Exception as exc:  # noqa: BLE001 - any driver error is one line naming the setting
                raise ArtifactsUnavailable(f"{SETTING}={redact(self.url)} cannot be opened: {_one_line(exc)}") \
                    from None
            self._base = self._base.rstrip("/")
        return self._fs

    def _key(self, run_id: str, name: str = "") -> str:
        if self._fs is None:
            self.fs  # noqa: B018 - opens the filesystem and sets the base path
        return f"{self._base}/{run_id}" + (f"/{name}" if name else "")

    def _fail(self, what: str, exc: BaseException) -> str:
        if isinstance(exc, ArtifactsUnavailable):
            return str(exc)
        return f"{SETTING}={redact(self.url)}: {what} failed ({_one_line(exc)})"

    # writing ----------------------------------------------------------------------------------------------
    def _upload(self, run_id: str, name: str, path: Path) -> None:
        st = path.stat()
        sig = (st.st_size, st.st_mtime_ns)
        if self._sent.get((run_id, name)) == sig:
            return
        self.fs.put_file(str(path), self._key(run_id, name))
        self._sent[(run_id, name)] = sig

    def put_file(self, run_id: str, name: str, path: Path) -> str | None:
        """Upload one file just written; returns an error line, None when stored (or not uploaded by design)."""
        if LOCAL_ONLY.search(name) or run_id in self._failing:
            return None
        try:
            self._upload(run_id, name, Path(path))
        except Exception as exc:  # noqa: BLE001 - never fails the writer; the finish retries
            self._failing.add(run_id)
            return self._fail(f"uploading {run_id}/{name}", exc)
        return None

    def events_appended(self, run_id: str, path: Path, force: bool = False) -> str | None:
        """Upload the live events log when ``force`` (a status change) or :data:`EVENTS_EVERY_S` passed."""
        now = time.monotonic()
        if not force and now - self._events_at.get(run_id, 0.0) < EVENTS_EVERY_S:
            return None
        self._events_at[run_id] = now
        return self.put_file(run_id, Path(path).name, Path(path))

    def publish(self, run_id: str, folder: Path) -> str | None:
        """Upload every file of the run folder not stored yet (a finished run); returns an error line or None."""
        self._failing.discard(run_id)
        try:
            for p in sorted(Path(folder).iterdir()):
                if p.is_file() and not LOCAL_ONLY.search(p.name):
                    self._upload(run_id, p.name, p)
        except FileNotFoundError:  # the folder went away (a deleted run)
            return None
        except Exception as exc:  # noqa: BLE001
            self._failing.add(run_id)
            return self._fail(f"uploading run {run_id}", exc)
        return None

    # reading ----------------------------------------------------------------------------------------------
    def fetch(self, run_id: str, name: str) -> Path | None:
        """The stored ``<run_id>/<name>`` as a local file in the cache (downloaded or refreshed when the stored
        copy changed), None when it is not stored. Raises :class:`ArtifactsUnavailable` (one line naming
        ``TL_ARTIFACTS_URL``) when the store cannot be reached."""
        if LOCAL_ONLY.search(name):  # never uploaded: no need to ask the store
            return None
        return self._get(run_id, name)

    def _get(self, run_id: str, name: str) -> Path | None:
        key = self._key(run_id, name)
        try:
            self.fs.invalidate_cache(key)
            info = self.fs.info(key)
        except FileNotFoundError:
            return None
        except ArtifactsUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ArtifactsUnavailable(self._fail(f"reading {run_id}/{name}", exc)) from None
        if info.get("type") == "directory":
            return None
        sig = json.dumps([info.get("size"), str(info.get("ETag") or info.get("LastModified") or info.get("mtime")
                                                or info.get("created") or "")])
        folder = private_dir(self.cache / run_id)
        dst, stamp = folder / name, folder / f".{name}.sig"
        try:
            if dst.is_file() and stamp.read_text(encoding="utf-8") == sig:
                return dst
        except OSError:
            pass
        tmp = folder / f".tmp-{uuid.uuid4().hex}-{name}"
        try:
            self.fs.get_file(key, str(tmp))
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, dst)
            fd = os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(sig)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001
            raise ArtifactsUnavailable(self._fail(f"downloading {run_id}/{name}", exc)) from None
        finally:
            if tmp.exists():
                tmp.unlink()
        return dst

    def fetch_folder(self, run_id: str, names) -> Path | None:
        """The cache folder holding every one of ``names`` (e.g. the model's two files), None if one is not
        stored."""
        paths = [self.fetch(run_id, n) for n in names]
        return paths[0].parent if paths and all(paths) else None

    def put_shared(self, area: str, name: str, path: Path) -> str | None:
        """Upload ``path`` as ``<url>/<area>/<name>`` (``area``: :data:`JOB_LOGS`, or :data:`DOMAINS` +
        ``/<domain_id>``); returns an error line (naming ``TL_ARTIFACTS_URL``), None when stored."""
        try:
            self.fs.put_file(str(path), self._key(area, name))
        except Exception as exc:  # noqa: BLE001 - the caller reports it
            return self._fail(f"uploading {area}/{name}", exc)
        return None

    def fetch_shared(self, area: str, name: str) -> Path | None:
        """The stored ``<area>/<name>`` as a private local file (``cache/<area>/<name>``, refreshed when the
        stored copy changed), None when it is not stored. Raises :class:`ArtifactsUnavailable`."""
        return self._get(area, name)

    def delete(self, run_id: str) -> None:
        """Remove the run's prefix and its cached copies. Raises :class:`ArtifactsUnavailable` when the store
        cannot be reached (the run's index row is already gone; deleting again is not possible, so callers
        report it)."""
        shutil.rmtree(self.cache / run_id, ignore_errors=True)
        self._sent = {k: v for k, v in self._sent.items() if k[0] != run_id}
        key = self._key(run_id)
        try:
            if self.fs.exists(key):
                self.fs.rm(key, recursive=True)
        except FileNotFoundError:
            pass
        except Exception as exc:  # noqa: BLE001
            raise ArtifactsUnavailable(self._fail(f"deleting {run_id}/", exc)) from None

    def check(self) -> dict:
        """``{"url", "ok", "problem"}`` for ``doctor``: can the store be listed (URL shown without
        credentials)."""
        try:
            try:
                self.fs.ls(self._base, detail=False)
            except FileNotFoundError:  # no run stored yet: the bucket itself must exist
                self.fs.ls(self._base.split("/", 1)[0], detail=False)
        except Exception as exc:  # noqa: BLE001
            return {"url": redact(self.url), "ok": False, "problem": self._fail("listing", exc)}
        return {"url": redact(self.url), "ok": True}


def report(problem: str | None, stream=None) -> None:
    """Print an artifact store problem on stderr (one line)."""
    if problem:
        print(f"warning: {problem}", file=stream or sys.stderr)
