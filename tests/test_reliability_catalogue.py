"""Every item of the reliability catalogue (../shared/guide/RELIABILITY.md, section (b): bad inputs and faults
TL Studio must survive) has at least one test named after it: ``def test_item_NN_<what it checks>``. The item
numbers and titles are copied here, since ../shared may be absent. Where an item does not fit the design, its
test checks what the design does instead (see the test's docstring or name); items not built yet have a
``pytest.mark.xfail(strict=True)`` test that says so."""
from __future__ import annotations

import re
from pathlib import Path

CATALOGUE = {
    # A. Upload transport and Streamlit layer
    1: "upload larger than the upload limit",
    2: "extension does not match content",
    3: "client filename used as a path",
    4: "several users upload large files at once",
    5: "tab closed, network drop or server restart during ingest",
    6: "double submit",
    7: "a widget is clicked while the script does heavy work",
    8: "no login, SSO not configured, expired token, user not allowed",
    9: "cross-user access by id",
    10: "cross-site WebSocket hijacking or CSRF",
    11: "HTML or Markdown injection through user strings",
    # B. ZIP archives of image folders
    12: "zip slip",
    13: "symlink or special-file members",
    14: "zip bomb by ratio",
    15: "overlapping-entry zip bomb",
    16: "file-count or depth bomb",
    17: "junk and non-image members",
    18: "encrypted members",
    19: "unsupported compression method",
    20: "corrupt or truncated zip",
    21: "name collisions after normalization",
    22: "wrong layout",
    23: "too few classes or images",
    24: "train and validation class sets differ",
    25: "empty class folder",
    # C. Images
    26: "decompression-bomb image",
    27: "truncated or corrupt image",
    28: "not an image, or a disguised active format",
    29: "other formats hiding bombs or parser bugs",
    30: "unusual modes",
    31: "degenerate sizes",
    32: "duplicates and leakage",
    # D. CSV (text, label)
    33: "encodings",
    34: "dialect and quoting",
    35: "huge fields",
    36: "missing, renamed or absent headers",
    37: "duplicate column names",
    38: "empty, NaN or whitespace labels and texts",
    39: "single class, or a class with one example",
    40: "label typing and normalization",
    41: "label column chosen wrongly",
    42: "formula injection on export",
    43: "not really a CSV",
    44: "too many rows or too much text",
    45: "text content edge cases",
    # E. Model weights and checkpoints
    46: "malicious pickle",
    47: "old torch",
    48: "unsupported but legitimate weight formats",
    49: "malformed safetensors",
    50: "state_dict mismatch",
    51: "HF checkpoint with remote code",
    52: "hostile config.json",
    53: "resume from a user-supplied training state",
    54: "a weights file that is itself a bomb",
    55: "same weights twice, or replaced while a job uses them",
    # F. Training and runtime faults
    56: "CUDA OOM at the first step",
    57: "OOM mid-epoch",
    58: "GPU busy",
    59: "no GPU, broken driver, or a CPU-only torch build",
    60: "user cancels a job",
    61: "job process crashes",
    62: "server restart or reboot with jobs running or queued",
    63: "PID reuse",
    64: "crash or full disk during checkpoint save",
    65: "loss becomes NaN or Inf",
    66: "DataLoader worker dies or hangs",
    67: "CUDA initialized before fork",
    68: "runaway job",
    69: "invalid hyperparameters",
    70: "polling load",
    71: "metric flood",
    72: "embedding view on a huge dataset",
    # G. Storage: SQLite, artifacts, disk
    73: "concurrent writers",
    74: "schema migration race at first start",
    75: "data root on a network filesystem",
    76: "disk full",
    77: "DB row points to a missing artifact; orphan files; DB corruption",
    78: "artifact path traversal",
    79: "serving artifacts inline",
    80: "file permissions and ownership",
    # H. Multi-user operations
    81: "two users queue jobs for one GPU at the same instant",
    82: "error details leak",
    83: "one user exhausts storage or GPUs",
    84: "deleting a dataset or weights that a queued or running job uses",
    85: "browser refresh, second tab, laptop sleep while a job runs",
    86: "server restart changes the cookie secret",
    87: "dependency drift to vulnerable versions",
    88: "outbound network access attempts from training code",
}

TESTS = Path(__file__).resolve().parent
NAMED = re.compile(r"^\s*(?:async\s+)?def (test_item_(\d\d)_\w+)\s*\(", re.M)


def item_tests() -> dict[int, list[str]]:
    """Item number -> ``file::test`` node ids of the tests named after it, from the tests/ tree's source."""
    found: dict[int, list[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        for m in NAMED.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(int(m.group(2)), []).append(f"{path.relative_to(TESTS.parent)}::{m.group(1)}")
    return found


def test_the_catalogue_is_complete_and_numbered_1_to_88():
    assert sorted(CATALOGUE) == list(range(1, 89))
    assert all(title and title == title.strip() for title in CATALOGUE.values())


def test_every_catalogue_item_has_a_test_named_after_it():
    found = item_tests()
    missing = [f"{n}: {CATALOGUE[n]}" for n in CATALOGUE if n not in found]
    assert not missing, "catalogue items without a test_item_NN_... test:\n" + "\n".join(missing)
    extra = sorted(set(found) - set(CATALOGUE))
    assert not extra, f"tests named after items that are not in the catalogue: {extra}"


def test_the_scan_finds_named_tests_and_ignores_other_names():
    text = ("def test_item_07_x(a):\n    def test_item_08_nested(b):\nasync def test_item_09_y():\n"
            "def test_items_10_no():\ndef test_item_7_one_digit():\n")
    assert [m.group(2) for m in NAMED.finditer(text)] == ["07", "08", "09"]
    assert "tests/app/test_server_hardening.py::test_item_10_cross_site_websocket_is_refused_same_origin_opens" \
        in item_tests()[10]
