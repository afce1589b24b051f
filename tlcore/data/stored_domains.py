"""Saved domains beyond the head's disk (issue 26): with ``TL_ARTIFACTS_URL`` set, the file of a domain uploaded
to the library (``<root>/domains/<domain_id>/data.<ext>``) is also stored as
``<url>/_domains/<domain_id>/data.<ext>``, and a job on a node without the head's data root (a Ray node, no shared
disk) reads it from there: :func:`local_copy` downloads it into the node's own cache
(``TL_HOME/cache/artifacts/_domains/<domain_id>/``, private) when the path its config names is absent, and
refreshes that copy when the stored one changes. The job's config keeps the head's path (label sets and caches are
keyed by it). Server folders registered in place are not copied: a node reads them only from a shared path.
"""
from __future__ import annotations

import re
from pathlib import Path

from tlcore.runs import artifact_store
from tlcore.runs.home import default_root

SAVED_FILE = re.compile(r"(?:^|/)domains/([0-9a-f]{32})/(data\.[A-Za-z0-9]{1,10})$")


def _store(root=None):
    return artifact_store.from_settings(Path(root) if root else default_root())


def _area(domain_id: str) -> str:
    return f"{artifact_store.DOMAINS}/{domain_id}"


def put(root, domain_id: str, path: Path) -> str | None:
    """Store a saved domain's file (nothing without ``TL_ARTIFACTS_URL``); an error line, None when stored."""
    store = _store(root)
    return store.put_shared(_area(domain_id), Path(path).name, Path(path)) if store.url else None


def delete(root, domain_id: str) -> str | None:
    """Remove a deleted domain's stored file and cached copies; an error line, None when done."""
    store = _store(root)
    if not store.url:
        return None
    try:
        store.delete(_area(domain_id))
    except artifact_store.ArtifactsUnavailable as exc:
        return f"domain {domain_id} deleted, but not its stored file: {exc}"
    return None


def local_copy(path) -> Path | None:
    """This node's copy of the saved domain file ``path`` (a path on the head, absent here), downloaded from the
    artifact store; None when ``path`` is no saved domain's file, no store is set, or it is not stored. Raises
    :class:`~tlcore.runs.artifact_store.ArtifactsUnavailable` when the store cannot be read."""
    m = SAVED_FILE.search(Path(str(path)).as_posix())
    if not m:
        return None
    store = _store()
    return store.fetch_shared(_area(m.group(1)), m.group(2)) if store.url else None
