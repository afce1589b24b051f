"""Decoded images kept once on disk and read on access (issue 22 item 2: domains stay small in memory).

An image domain's pixels live in one flat uint8 ``.npy`` file (:class:`ImageWriter` streams the decoded images into
it one at a time, so the writer never holds more than one image); :class:`MappedImages` is the domain's
``samples``: a read-only sequence over that file opened with ``np.load(mmap_mode="r")``. Indexing returns a plain,
writable (H, W, 3) uint8 copy of that one image, equal to what the decoder returned, so training and feature
extraction see exactly the arrays they saw when every image sat in a list; iterating reads the file sequentially
(no mapping), so hashing a whole domain does not make it resident. A process that shows a few thumbnails touches
only their pages.
"""
from __future__ import annotations

import io
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tlcore.runs.files import FILE_MODE, private_dir

HEADER_BYTES = 128  # a 1-D uint8 .npy header (format 1.0) with room for any length


class MappedImages(Sequence):
    """The images of one domain, read from a flat uint8 ``.npy`` file on access.

    Args:
        path: The ``.npy`` file (1-D uint8).
        shapes: One ``(h, w, 3)`` row per image, in file order.
        index: Positions into the file's images (a subset); None for all of them.
    """

    def __init__(self, path: str | Path, shapes, index=None):
        self.path = Path(path)
        self.shapes = np.asarray(shapes, dtype=np.int64).reshape(-1, 3)
        sizes = self.shapes.prod(axis=1)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.sizes = sizes
        self.index = None if index is None else np.asarray(index, dtype=np.int64)
        self._flat = None

    @property
    def nbytes(self) -> int:
        """Bytes of every image in the file (not only this subset)."""
        return int(self.sizes.sum())

    def _mapped(self) -> np.ndarray:
        if self._flat is None:  # mapped on first access: building a domain and hashing it never map the file
            self._flat = np.load(self.path, mmap_mode="r")
        return self._flat

    def open(self) -> MappedImages:
        """Map the file now (its path may then be removed: the mapping stays valid). Returns self."""
        self._mapped()
        return self

    def __len__(self) -> int:
        return len(self.shapes) if self.index is None else len(self.index)

    def _position(self, i) -> int:
        n = len(self)
        i = int(i)
        if not -n <= i < n:
            raise IndexError(f"image {i} out of range ({n} images)")
        i %= n
        return i if self.index is None else int(self.index[i])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.take(range(len(self))[i])
        j = self._position(i)
        a = int(self.offsets[j])
        return np.array(self._mapped()[a:a + int(self.sizes[j])]).reshape(tuple(self.shapes[j]))

    def __iter__(self):
        """The images in order, read with plain file reads (nothing stays mapped or resident); through the
        mapping when it is already open."""
        if self._flat is not None:
            yield from (self[i] for i in range(len(self)))
            return
        positions = range(len(self.shapes)) if self.index is None else self.index
        with open(self.path, "rb") as fh:
            start = _data_offset(fh)
            for j in positions:
                j = int(j)
                data = os.pread(fh.fileno(), int(self.sizes[j]), start + int(self.offsets[j]))
                yield np.frombuffer(data, dtype=np.uint8).reshape(tuple(self.shapes[j])).copy()

    def take(self, indices) -> MappedImages:
        """A subset over the same file (no pixel is read)."""
        idx = np.asarray([int(i) for i in indices], dtype=np.int64)
        positions = idx if self.index is None else self.index[idx]
        out = MappedImages.__new__(MappedImages)
        out.path, out.shapes, out.offsets, out.sizes = self.path, self.shapes, self.offsets, self.sizes
        out.index, out._flat = positions, self._flat
        return out

    def __getstate__(self):  # pickled by path: another process maps the same file
        return {"path": str(self.path), "shapes": self.shapes, "index": self.index}

    def __setstate__(self, state):
        self.__init__(state["path"], state["shapes"], state["index"])


def _data_offset(fh) -> int:
    """Where the data of an open ``.npy`` file starts."""
    fh.seek(0)
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        np.lib.format.read_array_header_1_0(fh)
    else:
        np.lib.format.read_array_header_2_0(fh)
    return fh.tell()


class ImageWriter:
    """Streams decoded images into ``path`` (a flat uint8 ``.npy``), written atomically (temp file, 0600, renamed
    by :meth:`finish`). Used like a list by the archive reader: ``append(array)`` and ``len()``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        private_dir(self.path.parent)
        self.tmp = self.path.with_name(f".{self.path.stem}.{uuid.uuid4().hex}.tmp")
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        self._fh = os.fdopen(fd, "wb")
        self._fh.write(b"\0" * HEADER_BYTES)
        self.shapes: list[tuple[int, int, int]] = []
        self.total = 0

    def append(self, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array, dtype=np.uint8)
        if array.ndim != 3:
            raise ValueError(f"expected an (H, W, C) image, got shape {array.shape}")
        self._fh.write(array.data)
        self.shapes.append(tuple(int(x) for x in array.shape))
        self.total += array.size

    def __len__(self) -> int:
        return len(self.shapes)

    def finish(self) -> MappedImages:
        """Write the header, rename the file into place and return its images."""
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                      "shape": (self.total,)})
        if len(header.getvalue()) != HEADER_BYTES:  # numpy pads a 1-D header to 128 bytes; checked, not assumed
            raise OSError(f"{self.path.name}: unexpected .npy header length {len(header.getvalue())}")
        self._fh.seek(0)
        self._fh.write(header.getvalue())
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.tmp, self.path)
        return MappedImages(self.path, self.shapes or np.zeros((0, 3), np.int64))

    def discard(self) -> None:
        """Drop the temporary file (after a failed read)."""
        if not self._fh.closed:
            self._fh.close()
        self.tmp.unlink(missing_ok=True)
