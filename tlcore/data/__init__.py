"""Data layer: domains, readers (image archives and folders, text tables), demos and splits.

Image samples are ``np.ndarray`` uint8 of shape (H, W, 3) RGB; text samples are ``str``.
Every reader raises :class:`~tlcore.errors.DataError` (or its subclass
:class:`~tlcore.errors.UnsafeArchive`) with a message naming the file, member, row or field.
"""

from tlcore.data.archive import ArchiveLimits, read_images
from tlcore.data.demos import DEMOS, load_demo
from tlcore.data.domain import Domain, Skipped
from tlcore.data.loading import load_domain
from tlcore.data.split import Split, align_labels, make_split
from tlcore.data.table import read_text

__all__ = [
    "ArchiveLimits",
    "DEMOS",
    "Domain",
    "Skipped",
    "Split",
    "align_labels",
    "load_demo",
    "load_domain",
    "make_split",
    "read_images",
    "read_text",
]
