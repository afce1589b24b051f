"""Where a command may write: the one check of every user-given output path (``predict --out``, ``export --out``,
``report --out``).

An output never clobbers: an existing path is refused unless ``--force`` is given, and a path inside the data
root (``tl.db``, ``runs/``, ``domains/``, ``backups/``, ... or the root itself) is refused always, ``--force`` or
not, because writing there destroys what TL Studio stores. Paths are compared resolved (symbolic links, ``..``
and ``.`` followed), so ``$TL_HOME/runs/../tl.db`` or a link to it is caught too.
"""
from __future__ import annotations

from pathlib import Path

from tlcore.errors import TLError
from tlcore.runs.home import default_root


class OutputRefused(TLError):
    """An output path that would overwrite something: an existing file, or the data root's own files."""


def inside_data_root(path: Path, root: Path | None = None) -> bool:
    """``path`` (resolved) is the data root or lies under it."""
    root = Path(root or default_root()).expanduser().resolve()
    resolved = Path(path).expanduser().resolve()
    return resolved == root or resolved.is_relative_to(root)


def check_output(path, force: bool = False, flag: str = "--out", folder: bool = False,
                 root: Path | None = None) -> Path:
    """The output path ``path`` expanded, after refusing what must not be written.

    Args:
        path: what the user gave.
        force: ``--force``: an existing file (or a non-empty folder) may be replaced.
        flag: the option named in messages.
        folder: the output is a folder (``export``): an existing empty folder is not "existing".
        root: the data root (default ``TL_HOME``).

    Raises:
        OutputRefused: one line naming the path and what to do.
    """
    out = Path(path).expanduser()
    root = Path(root or default_root()).expanduser().resolve()
    if inside_data_root(out, root):
        raise OutputRefused(f"{flag} {out}: inside the data root {root} (TL_HOME), which holds TL Studio's own "
                            "files (tl.db, runs/, domains/, ...); choose a path outside it")
    if not folder and out.is_dir():
        raise OutputRefused(f"{flag} {out}: is a folder; give a file name such as predictions.csv")
    if (out.is_symlink() or out.exists()) and not force:
        if not (folder and out.is_dir() and not out.is_symlink() and not any(out.iterdir())):
            what = "already exists and is not an empty folder" if folder else "already exists"
            raise OutputRefused(f"{flag} {out}: {what}; choose a new name, or add --force to replace it")
    return out
