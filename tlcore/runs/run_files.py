"""The files of a run (its folder under ``runs/``, and the artifact store's copy with ``TL_ARTIFACTS_URL``):
where they are, reading them, and writing them atomically. Mixed into :class:`tlcore.runs.store.RunStore`, whose
``root``, ``runs_dir`` and ``artifacts`` they use."""
from __future__ import annotations

import json
from pathlib import Path

from tlcore.runs import artifact_store
from tlcore.runs.files import (append_jsonl, disk_full_message, is_disk_full, json_default, private_dir, read_json,
                               read_jsonl, write_atomic)
from tlcore.runs.records import RunNotFound, StorageFull


class RunFiles:
    """Run-file methods of the run store (needs ``self.root``, ``self.runs_dir``, ``self.artifacts``)."""

    def folder(self, run_id: str) -> Path:
        """The run's folder; ids that could leave ``runs/`` (separators, dot names, control characters, a link
        inside runs/ pointing elsewhere) are "not found" (RELIABILITY.md item 78)."""
        if (not run_id or "/" in run_id or "\\" in run_id or run_id.startswith(".")
                or any(ord(c) < 32 for c in run_id)):
            raise RunNotFound(f"run {run_id!r} not found")
        folder = self.runs_dir / run_id
        if folder.is_symlink() and not folder.resolve().is_relative_to(self.runs_dir.resolve()):
            raise RunNotFound(f"run {run_id!r} not found")
        return folder

    def path(self, run_id: str, name: str) -> Path:
        """Where the run's file ``name`` is written (its run folder); readers use :meth:`local`."""
        return self.folder(run_id) / name

    def local(self, run_id: str, name: str) -> Path:
        """A local path to read the run's file ``name`` from: the run folder's, else a copy fetched from the
        artifact store (``TL_ARTIFACTS_URL``), else the run folder's path (missing)."""
        path = self.path(run_id, name)
        if path.is_file():
            return path
        return self.artifacts.fetch(run_id, name) or path

    def local_folder(self, run_id: str, names) -> Path:
        """A local folder holding all of ``names`` (e.g. the model's files): the run folder, else the artifact
        store's cached copy, else the run folder."""
        folder = self.folder(run_id)
        if all((folder / n).is_file() for n in names):
            return folder
        return self.artifacts.fetch_folder(run_id, names) or folder

    def _artifact_problem(self, run_id: str, problem: str | None) -> None:
        """An upload to the artifact store failed: a warning event on the run (its local files stay) + stderr."""
        if problem:
            artifact_store.report(problem)
            append_jsonl(self.path(run_id, "events.jsonl"), {"type": "warning", "source": "artifacts",
                                                              "message": problem}, run_id)

    def write_json(self, run_id: str, name: str, obj) -> Path:
        return self.write_bytes(run_id, name, json.dumps(obj, indent=1, default=json_default).encode("utf-8"))

    def write_bytes(self, run_id: str, name: str, data: bytes) -> Path:
        """Write ``name`` atomically (temp file, fsync, rename). On any failure the temp file is removed; a full
        disk raises :class:`StorageFull` naming the file."""
        dst = self.path(run_id, name)
        if self.artifacts.url and not dst.parent.exists():  # a run made on another node: a local folder now
            private_dir(dst.parent)
        try:
            write_atomic(dst, data)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            raise StorageFull(f"{dst} ({len(data) / 1e6:.1f} MB): {disk_full_message(self.root)}") from None
        self._artifact_problem(run_id, self.artifacts.put_file(run_id, name, dst))
        return dst

    def read_json(self, run_id: str, name: str, default=None):
        return read_json(self.local(run_id, name), default)

    def append_event(self, run_id: str, event: dict) -> None:
        """Append one progress event. On a full disk the event is dropped (with a note on stderr) so recording
        the run's failure is not blocked by its progress log."""
        path = self.path(run_id, "events.jsonl")
        append_jsonl(path, event, run_id)
        problem = self.artifacts.events_appended(run_id, path, force=event.get("type") == "status")
        self._artifact_problem(run_id, problem)

    def events(self, run_id: str) -> list[dict]:
        return read_jsonl(self.local(run_id, "events.jsonl"))

    def metrics(self, run_id: str) -> dict:
        return self.read_json(run_id, "metrics.json", {}) or {}
