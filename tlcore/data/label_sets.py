"""Label sets: versioned, owned sets of ``(sample id, label)`` pairs attached to a target domain.

A label set is what a person answered for some target samples (chosen by ``python -m tlcore query``, say). It
never changes the domain it labels: it is one JSON file ``<root>/label_sets/<id>.json`` (0600, written
atomically; the folder is 0700) beside the domain library, holding::

    {"id", "version", "domain", "domain_spec", "owner", "created", "classes", "base", "labels": [[id, label], ...]}

``domain`` is the domain's key (``demo:<name>`` or ``path:<resolved path>``), ``version`` counts the sets of that
domain (1, 2, ...), ``base`` is the set it extends (its pairs are included, new answers win). A sample id is the
sample's ``source`` in the loaded domain (archive member, file path or ``row N``): stable under subsampling.

A run's target spec takes ``"label_set": ID``: :func:`apply_label_set` turns the set's samples that fall in the
run's ``target_train`` into labelled target training samples. Samples of the set in ``target_test`` are left
out (counted in the returned note): the test split stays untouched and is never labelled for training.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import time
import uuid
from pathlib import Path

from tlcore.config import LABEL_SET_ID
from tlcore.errors import ConfigError, DataError
from tlcore.runs.files import private_dir, read_json, write_atomic
from tlcore.runs.home import current_user, default_root

MAX_ROWS = 1_000_000


def domain_key(spec: dict) -> str:
    """``demo:<name>`` or ``path:<resolved path>`` for a domain spec (a RunConfig source/target mapping)."""
    if spec.get("demo"):
        return f"demo:{spec['demo']}"
    if spec.get("path"):
        return f"path:{Path(str(spec['path'])).expanduser().resolve()}"
    raise ConfigError("domain: give exactly one of 'path' or 'demo'")


def sample_name(sample_id: str) -> str:
    """A sample's neutral name (``s-`` and 10 hex digits of the SHA-256 of its id): what a labeller sees instead of
    the id, whose archive path often names the class (``bike/frame_0001.jpg``). The engine keeps the real id; a label
    CSV may give either (:meth:`LabelSets.add` maps names back)."""
    return "s-" + hashlib.sha256(str(sample_id).encode("utf-8")).hexdigest()[:10]


def check_id(label_set_id) -> str:
    """The id itself, or a ConfigError naming it (ids never become other paths)."""
    if not isinstance(label_set_id, str) or not LABEL_SET_ID.match(label_set_id):
        raise ConfigError(f"label_set: expected an id like 'ls-1a2b3c4d', got {label_set_id!r}")
    return label_set_id


def read_pairs_csv(text: str) -> list[tuple[str, str]]:
    """``(id, label)`` pairs of a CSV with the columns ``id`` and ``label``; errors name the row (row 1 = the
    header)."""
    reader = csv.DictReader(io.StringIO(text))
    cols = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "id" not in cols or "label" not in cols:
        raise DataError(f"labels CSV: needs the columns 'id' and 'label', found {reader.fieldnames}")
    reader.fieldnames = cols
    pairs = []
    for n, row in enumerate(reader, start=2):
        if n > MAX_ROWS + 1:
            raise DataError(f"labels CSV: more than {MAX_ROWS} rows")
        sid, label = (row.get("id") or "").strip(), (row.get("label") or "").strip()
        if not sid or not label:
            raise DataError(f"labels CSV row {n}: both 'id' and 'label' are needed, got id={sid!r} label={label!r}")
        pairs.append((sid, label))
    if not pairs:
        raise DataError("labels CSV: no rows")
    return pairs


class LabelSets:
    """The label sets of one data root."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser().resolve() if root else default_root()
        self.dir = private_dir(self.root / "label_sets")

    def path(self, label_set_id: str) -> Path:
        return self.dir / f"{check_id(label_set_id)}.json"

    def get(self, label_set_id: str) -> dict:
        obj = read_json(self.path(label_set_id))
        if not isinstance(obj, dict):
            raise ConfigError(f"label_set: {label_set_id!r} not found")
        return obj

    def list(self, domain: str | None = None) -> list[dict]:
        """Every label set (newest first), without its pairs: ``n`` says how many; ``domain`` filters by key."""
        out = []
        for p in self.dir.glob("ls-*.json"):
            obj = read_json(p)
            if isinstance(obj, dict) and (domain is None or obj.get("domain") == domain):
                out.append({k: v for k, v in obj.items() if k != "labels"} | {"n": len(obj.get("labels", []))})
        return sorted(out, key=lambda d: (-float(d.get("created", 0)), d["id"]))

    def _base_pairs(self, base: str | None, key: str) -> dict[str, str]:
        """The pairs of the label set a new version extends (none without ``base``); it must label the same
        domain."""
        if not base:
            return {}
        parent = self.get(base)
        if parent.get("domain") != key:
            raise DataError(f"labels: base {base!r} labels {parent.get('domain')}, not {key}")
        return {str(i): str(y) for i, y in parent["labels"]}

    def add(self, spec: dict, pairs: list[tuple[str, str]], domain=None, classes: list[str] | None = None,
            owner: str | None = None, base: str | None = None, sample_ids=None) -> dict:
        """Validate and save a new version of the domain's labels.

        Args:
            spec: The domain's spec (``demo`` or ``path``, as in a run config).
            pairs: ``(sample id, label)``; a later pair for the same id wins.
            domain: The loaded :class:`~tlcore.data.domain.Domain` (loaded from ``spec`` when None).
            classes: Allowed labels; default the domain's own classes (required for an unlabelled domain).
            owner: Who owns the set (default: the current user).
            base: A label set of the same domain whose pairs this one extends.
            sample_ids: The ids that may be labelled, instead of the domain's: the labelling page passes the ids a
                query job returned, so the dashboard never loads (decodes) a domain.

        A pair's id may be a sample's neutral name (:func:`sample_name`, what ``query --sheet`` writes); it is
        stored as the real id.

        Raises:
            DataError: An unknown sample id or class, naming the pair (``row N`` counts the CSV header as row 1).
        """
        if domain is None and sample_ids is None:
            from tlcore.data.loading import load_domain

            domain = load_domain(spec, "target")
        if domain is None and not classes:
            raise DataError("labels: give the classes with the sample ids")
        key = domain_key(spec)
        allowed = list(classes) if classes else list(domain.classes)
        known = set(sample_ids) if sample_ids is not None else set(domain.sources)
        if not allowed:
            raise DataError(f"labels: domain {key} is unlabelled; give the classes (--classes a,b,c)")
        merged = self._base_pairs(base, key)
        merged.update(_checked_pairs(pairs, known, allowed, key))
        version = 1 + sum(1 for d in self.list(key))
        obj = {"id": f"ls-{uuid.uuid4().hex[:12]}", "version": version, "domain": key,
               "domain_spec": {k: v for k, v in spec.items() if k in ("demo", "path", "text_column", "label_column",
                                                                      "name")},
               "owner": owner or current_user(), "created": time.time(), "classes": sorted(allowed), "base": base,
               "labels": [[i, y] for i, y in merged.items()]}
        write_atomic(self.path(obj["id"]), json.dumps(obj, indent=1).encode("utf-8"))
        from tlcore.runs import audit
        from tlcore.runs.store import RunStore

        audit.record(RunStore(self.root), obj["owner"], "add label set", obj["id"],
                     f"{key} v{version}: {len(merged)} labels" + (f", extends {base}" if base else ""))
        return obj


def _checked_pairs(pairs, known: set, allowed: list, key: str) -> dict[str, str]:
    """``pairs`` as ``{sample id: label}`` (a neutral name turned into its id; a later pair wins), each checked."""
    by_name = {sample_name(i): i for i in known}
    merged: dict[str, str] = {}
    for n, (sid, label) in enumerate(pairs, start=2):
        sid = sid if sid in known else by_name.get(sid, sid)
        if sid not in known:
            raise DataError(f"labels row {n}: sample id {sid!r} is not in domain {key} (ids are the samples' "
                            f"sources, e.g. {sorted(known)[0]!r}, or their neutral names)")
        if label not in allowed:
            raise DataError(f"labels row {n}: label {label!r} of {sid!r} is not a class of {key}; known "
                            f"classes: {allowed}")
        merged[sid] = label
    return merged


def apply_label_set(label_set: dict, spec: dict, target, split, classes: list[str]):
    """Make a label set's samples labelled target training samples of one run.

    Args:
        label_set: A :meth:`LabelSets.get` record.
        spec: The run's target spec (must be the set's domain).
        target: The run's (aligned, subsampled) target domain; it is not modified.
        split: The run's :class:`~tlcore.data.split.Split` of ``target``.
        classes: The run's classes.

    Returns:
        ``(target, split, note)``: a copy of the target whose labels at the set's training positions are the set's
        labels (an unlabelled target gets ``""``, i.e. unknown, elsewhere), the split with those positions added to
        ``target_labeled``, and ``{"label_set", "used", "in_test", "not_in_run"}``.

    Raises:
        ConfigError: The set labels another domain, or a label is not one of the run's classes.
    """
    key = domain_key(spec)
    if label_set.get("domain") != key:
        raise ConfigError(f"target.label_set: {label_set.get('id')!r} labels {label_set.get('domain')}, but the "
                          f"target is {key}")
    position = {s: i for i, s in enumerate(target.sources)}
    train, test = set(split.target_train), set(split.target_test)
    labels = list(target.labels) if target.labels is not None else [""] * len(target)
    used, in_test, missing = set(), 0, 0
    for sid, label in label_set["labels"]:
        if label not in classes:
            raise ConfigError(f"target.label_set: label {label!r} of {sid!r} is not one of the run's classes "
                              f"{classes}")
        i = position.get(sid)
        if i is None:
            missing += 1  # e.g. left out by max_samples_per_domain
        elif i in test or i not in train:
            in_test += 1  # the test split is never labelled for training
        else:
            labels[i] = label
            used.add(i)
    out = dataclasses.replace(target, labels=labels)
    new_split = dataclasses.replace(split, target_labeled=tuple(sorted(set(split.target_labeled) | used)))
    return out, new_split, {"label_set": label_set["id"], "used": len(used), "in_test": in_test,
                            "not_in_run": missing}
