"""Fixtures for the data-layer tests: in-code images, ZIP archives and tables (no binary test data)."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tlcore.data.loading import clear_cache

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def image_bytes(mode: str = "RGB", size=(8, 6), fmt: str = "PNG", color=None, **save) -> bytes:
    """Encode a small solid (or gradient, for 16-bit) image in memory."""
    if mode == "I;16":
        im = Image.fromarray(np.full((size[1], size[0]), 65535, dtype=np.uint16))
    else:
        im = Image.new(mode, size, color if color is not None else (1 if mode == "1" else 120))
    buf = io.BytesIO()
    im.save(buf, format=fmt, **save)
    return buf.getvalue()


def write_zip(path: Path, members: dict, compression=zipfile.ZIP_DEFLATED) -> Path:
    """Write a ZIP whose members are ``name -> bytes`` (a name ending in '/' is a folder)."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data if data is not None else b"")
    return path


def patch_first_member(data: bytes, local_offset: int, central_offset: int, value: int) -> bytes:
    """Overwrite a 2-byte header field of the first member in both its local and central headers."""
    out = bytearray(data)
    central = out.rfind(b"PK\x01\x02")
    struct.pack_into("<H", out, local_offset, value)
    struct.pack_into("<H", out, central + central_offset, value)
    return bytes(out)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty domain cache."""
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def shared_data() -> Path:
    """The read-only shared data folder; skip the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA


@pytest.fixture(name="image_bytes")
def _image_bytes():
    """The :func:`image_bytes` builder."""
    return image_bytes


@pytest.fixture(name="write_zip")
def _write_zip():
    """The :func:`write_zip` builder."""
    return write_zip


@pytest.fixture(name="patch_first_member")
def _patch_first_member():
    """The :func:`patch_first_member` byte patcher."""
    return patch_first_member
