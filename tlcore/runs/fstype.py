"""Which filesystem the data root is on (RELIABILITY.md item 75).

SQLite's WAL mode keeps its index in shared memory (the ``-shm`` file, memory-mapped): processes on two machines
that open one database over NFS or SMB do not share it, and network file locks are often unreliable, so a WAL
database there can be corrupted or read stale. The store therefore opens a database on a network filesystem in
the rollback-journal mode (``journal_mode=DELETE``, file locks only) and ``python -m tlcore doctor`` warns:
a data root shared between nodes (the Ray executor) stays usable, and a single server should keep ``TL_HOME`` on
local disk. Torch-free.
"""
from __future__ import annotations

import os
from pathlib import Path

from tlcore import settings

MOUNTS = "/proc/mounts"
# fstype names (as /proc/mounts writes them) of filesystems served over a network or by a cluster
NETWORK_FS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs", "lustre",
    "gpfs", "beegfs", "ocfs2", "gfs2", "orangefs", "pvfs2", "fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse",
    "fuse.glusterfs", "fuse.cephfs", "fuse.rclone", "fuse.juicefs", "fuse.goofys", "davfs", "fuse.davfs2",
})


def _unescape(field: str) -> str:
    """/proc/mounts writes a space in a mount point as ``\\040`` (tab ``\\011``, newline ``\\012``, ``\\\\``)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mounts(text: str) -> list[tuple[str, str, str]]:
    """``(device, mount point, fstype)`` of each well-formed line of a mount table."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            out.append((_unescape(parts[0]), _unescape(parts[1]), parts[2]))
    return out


def filesystem_of(path: str | Path, mounts: str | Path | None = None) -> tuple[str, str, str] | None:
    """``(fstype, mount point, device)`` of the mount holding ``path`` (the longest mount point that contains its
    resolved path; the last such line wins, as for stacked mounts), or None when the table cannot be read.
    ``mounts``: the mount table file (default ``TL_MOUNTS_FILE`` or /proc/mounts; tests pass a fake one)."""
    table = mounts or settings.get("TL_MOUNTS_FILE") or MOUNTS
    try:
        text = Path(table).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    target = os.path.realpath(str(path))
    best = None
    for device, point, fstype in parse_mounts(text):
        p = point.rstrip("/") or "/"
        if target == p or target.startswith(p if p == "/" else p + "/"):
            if best is None or len(p) >= len(best[1]):
                best = (fstype, p, device)
    return best


def is_network(fstype: str | None) -> bool:
    if not fstype:
        return False
    t = fstype.lower()
    return t in NETWORK_FS or t.split(".")[0] in {"nfs", "nfs4", "cifs", "smb3"} or t.startswith("fuse.nfs")


def journal_mode(root: str | Path, mounts: str | Path | None = None) -> str:
    """``"WAL"`` on local disk, ``"DELETE"`` on a network filesystem (WAL's shared memory does not work there).
    ``TL_SQLITE_JOURNAL=WAL|DELETE`` overrides the choice."""
    forced = (settings.get("TL_SQLITE_JOURNAL") or "").strip().upper()
    if forced in ("WAL", "DELETE"):
        return forced
    fs = filesystem_of(root, mounts)
    return "DELETE" if fs and is_network(fs[0]) else "WAL"


def report(root: str | Path, mounts: str | Path | None = None) -> dict:
    """What ``doctor`` prints about the data root's filesystem, with a ``warning`` on a network filesystem."""
    fs = filesystem_of(root, mounts)
    out = {"path": str(root), "fstype": fs[0] if fs else None, "mount_point": fs[1] if fs else None,
           "network": bool(fs and is_network(fs[0])), "journal_mode": journal_mode(root, mounts).lower()}
    if out["network"]:
        out["warning"] = (f"{root} is on a network filesystem ({fs[0]}, mounted at {fs[1]}): SQLite's WAL mode needs "
                          "shared memory and reliable locks, so tl.db uses the rollback journal (journal_mode=DELETE) "
                          "there; it is slower and still relies on the server's file locking. The SQLite database "
                          "should be on local disk: set TL_HOME to a local folder unless several nodes must share it "
                          "(the Ray executor).")
    return out
