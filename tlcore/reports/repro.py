"""Reproducibility card of a run: everything needed to run it again and to check the data is the same.

Written by the pipeline as ``repro.json`` next to ``config.json``; :func:`rerun_config` gives back the config.
"""
from __future__ import annotations

import hashlib
import json
import platform
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "torchvision", "transformers", "timm", "scikit-learn", "numpy", "scipy", "pandas")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def package_versions() -> dict:
    """Installed versions of the packages that decide a run's numbers (``None`` when not installed)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(root: Path = PROJECT_ROOT) -> str | None:
    """The commit the project's checkout is at (``HEAD``), read from its ``.git`` files without running git
    (no process is started outside the job system), or ``None`` (not a checkout, unreadable, odd layout)."""
    try:
        git = root / ".git"
        if git.is_file():  # a worktree or submodule: "gitdir: PATH"
            line = git.read_text(encoding="utf-8").strip()
            if not line.startswith("gitdir:"):
                return None
            git = (root / line[len("gitdir:"):].strip()).resolve()
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head if _is_sha(head) else None
        ref = head[len("ref:"):].strip()
        for base in (git, _common_dir(git)):
            loose = base / ref
            if loose.is_file():
                sha = loose.read_text(encoding="utf-8").strip()
                return sha if _is_sha(sha) else None
            packed = base / "packed-refs"
            if packed.is_file():
                for line in packed.read_text(encoding="utf-8").splitlines():
                    parts = line.split()
                    if len(parts) == 2 and parts[1] == ref and _is_sha(parts[0]):
                        return parts[0]
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _common_dir(git: Path) -> Path:
    try:
        return (git / (git / "commondir").read_text(encoding="utf-8").strip()).resolve()
    except OSError:
        return git


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def split_fingerprint(split: dict) -> str:
    """sha256 over the split's index sets and seed (the same split gives the same digest)."""
    keys = ("source_train", "source_val", "target_train", "target_labeled", "target_test", "seed")
    blob = json.dumps({k: split.get(k) for k in keys}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def target_test_fingerprint(split: dict, target_fingerprint: str | None) -> str:
    """Identity of the target test set: target data digest + the test indices. Equal digests = same samples."""
    blob = json.dumps({"target": target_fingerprint, "target_test": list(split.get("target_test") or [])})
    return hashlib.sha256(blob.encode()).hexdigest()


def repro_card(config: dict, domains: dict, split: dict, device: dict | None = None) -> dict:
    """The card: config, seed, data and split fingerprints, package versions, device, git commit."""
    return {"config": config, "seed": config.get("seed"),
            "data": {"source_fingerprint": domains.get("source_fingerprint"),
                     "target_fingerprint": domains.get("target_fingerprint"),
                     "source_n": (domains.get("source") or {}).get("n"),
                     "target_n": (domains.get("target") or {}).get("n")},
            "split_fingerprint": split_fingerprint(split),
            "test_fingerprint": target_test_fingerprint(split, domains.get("target_fingerprint")),
            "packages": package_versions(), "platform": platform.platform(), "executable": sys.executable,
            "device": device, "git_commit": git_commit()}


def load_card(store, run_id: str) -> dict:
    """``repro.json`` of a run, or a card rebuilt from its other files for runs made before it existed."""
    card = store.read_json(run_id, "repro.json")
    if isinstance(card, dict):
        return card
    config = store.read_json(run_id, "config.json", {}) or {}
    domains = store.read_json(run_id, "domains.json", {}) or {}
    split = store.read_json(run_id, "split.json", {}) or {}
    card = {"config": config, "seed": config.get("seed"),
            "data": {"source_fingerprint": domains.get("source_fingerprint"),
                     "target_fingerprint": domains.get("target_fingerprint")},
            "split_fingerprint": split_fingerprint(split) if split else None,
            "test_fingerprint": target_test_fingerprint(split, domains.get("target_fingerprint")) if split else None,
            "packages": None, "device": store.metrics(run_id).get("device"), "git_commit": None,
            "note": "reconstructed: this run has no repro.json"}
    return card


def rerun_config(store, run_id: str) -> dict:
    """The run's config, ready to submit again (same seed, same data, same split)."""
    config = store.read_json(run_id, "config.json")
    if not isinstance(config, dict):
        from tlcore.runs.store import RunNotFound

        raise RunNotFound(f"run {run_id!r} has no config.json")
    return config
