"""Duplicates and leakage (reliability catalogue item 32): the same content twice in a domain, or in both domains.

Every sample gets a content hash (sha256, memoised on the Domain object and carried over by
:meth:`Domain.subset`):

* **images**: the decoded RGB uint8 pixel array and its shape, as the reader returns it (after EXIF rotation,
  mode conversion and any ``max_side`` downscale). Not the file bytes: a PNG and a lossless re-encode of it
  (BMP, WebP lossless, another PNG compression level, other metadata) match; a JPEG re-compression changes the
  pixels and does not.
* **texts**: the text with every whitespace run collapsed to one space, stripped and case-folded
  (``"Great  pan!"`` and ``"great pan!\\n"`` match).

What it reports (plain JSON-able dicts; nothing is removed, the split and results are never changed here):

* :func:`domain_duplicates`: groups of identical samples inside one domain, split into *label conflicts*
  (members carry different labels: label noise) and *same-label* copies (they weigh twice and can sit on both
  sides of a train/val or train/test split).
* :func:`pair_duplicates`: contents found in both the source and the target of a pair (leakage: a target test
  sample the model was trained on inflates the target test accuracy).
* :func:`split_leakage` / :func:`leakage_flag`: the same, for one run's split; the flag is recorded in the run's
  metrics (``flags``, kind ``duplicate_leakage``) and shown on Compare.
"""
from __future__ import annotations

import hashlib

import numpy as np

EXAMPLES = 5  # example groups kept per finding
FILES_PER_EXAMPLE = 4  # file names kept per example group
FLAG_KIND = "duplicate_leakage"


def content_hashes(domain) -> list[bytes]:
    """One sha256 digest per sample (see the module docstring); memoised on the domain."""
    cached = domain.__dict__.get("_content_hashes")
    if cached is not None and len(cached) == len(domain):
        return cached
    out = [_hash(s) for s in domain.samples]
    domain.__dict__["_content_hashes"] = out
    return out


def method(domain) -> str:
    """How samples were compared, in words."""
    return "decoded pixels and shape" if domain.modality == "image" else "text, whitespace-normalised and case-folded"


def _hash(sample) -> bytes:
    h = hashlib.sha256()
    if isinstance(sample, np.ndarray):
        h.update(f"{sample.dtype.str}{sample.shape}".encode())
        h.update(np.ascontiguousarray(sample).data)
    else:
        h.update(" ".join(str(sample).split()).casefold().encode("utf-8", "surrogatepass"))
    return h.digest()


def _index(domain, positions=None) -> dict[bytes, list[int]]:
    hashes = content_hashes(domain)
    out: dict[bytes, list[int]] = {}
    for i in range(len(hashes)) if positions is None else positions:
        out.setdefault(hashes[i], []).append(int(i))
    return out


def domain_duplicates(domain, examples: int = EXAMPLES) -> dict:
    """Identical samples inside one domain.

    Returns:
        ``{"method", "groups", "extra_copies", "same_label": {"groups", "extra_copies", "examples"},
        "label_conflicts": {"groups", "samples", "examples"}}``. ``extra_copies`` counts the samples beyond the
        first of each group; ``same_label`` examples are lists of file names (archive members or ``"row N"``),
        ``label_conflicts`` examples are ``{"files", "labels"}``. In an unlabeled domain every group is
        ``same_label``.
    """
    groups = [idx for idx in _index(domain).values() if len(idx) > 1]
    labels = domain.labels
    same = [g for g in groups if labels is None or len({labels[i] for i in g}) == 1]
    conflict = [g for g in groups if labels is not None and len({labels[i] for i in g}) > 1]
    src = domain.sources
    return {
        "method": method(domain),
        "groups": len(groups),
        "extra_copies": sum(len(g) - 1 for g in groups),
        "same_label": {"groups": len(same), "extra_copies": sum(len(g) - 1 for g in same),
                       "examples": [[src[i] for i in g[:FILES_PER_EXAMPLE]] for g in same[:examples]]},
        "label_conflicts": {"groups": len(conflict), "samples": sum(len(g) for g in conflict),
                            "examples": [{"files": [src[i] for i in g[:FILES_PER_EXAMPLE]],
                                          "labels": [labels[i] for i in g[:FILES_PER_EXAMPLE]]}
                                         for g in conflict[:examples]]},
    }


def describe_domain_duplicates(d: dict) -> list[str]:
    """Plain sentences for :func:`domain_duplicates` output (empty when there is nothing to say)."""
    out = []
    conflicts, same = d.get("label_conflicts") or {}, d.get("same_label") or {}
    if conflicts.get("groups"):
        ex = "; ".join(" = ".join(f"{f} ({lab})" for f, lab in zip(e["files"], e["labels"]))
                       for e in conflicts["examples"][:3])
        out.append(f"{conflicts['groups']} group(s) of identical samples carry different labels "
                   f"({conflicts['samples']} samples, label noise), e.g. {ex}")
    if same.get("groups"):
        ex = "; ".join(" = ".join(files) for files in same["examples"][:3])
        out.append(f"{same['extra_copies']} exact duplicate(s) with the same label in {same['groups']} group(s) "
                   f"(they weigh twice and can land in both train and test), e.g. {ex}")
    return out


def pair_duplicates(source, target, examples: int = EXAMPLES) -> dict:
    """Contents found in both domains of a pair.

    Returns:
        ``{"method", "shared", "source_samples", "target_samples", "target_fraction", "label_mismatch",
        "examples": [{"source": [...], "target": [...]}]}``: ``shared`` distinct contents, the samples holding
        them on each side, the share of the target they make up, and how many shared contents carry different
        labels in the two domains (both labeled only).
    """
    s_index, t_index = _index(source), _index(target)
    shared = sorted(set(s_index) & set(t_index), key=lambda h: t_index[h][0])
    mismatch = 0
    if source.labels is not None and target.labels is not None:
        mismatch = sum({source.labels[i] for i in s_index[h]} != {target.labels[i] for i in t_index[h]}
                       for h in shared)
    n_target = sum(len(t_index[h]) for h in shared)
    return {
        "method": method(source),
        "shared": len(shared),
        "source_samples": sum(len(s_index[h]) for h in shared),
        "target_samples": n_target,
        "target_fraction": round(n_target / len(target), 4) if len(target) else 0.0,
        "label_mismatch": int(mismatch),
        "examples": [{"source": [source.sources[i] for i in s_index[h][:FILES_PER_EXAMPLE]],
                      "target": [target.sources[i] for i in t_index[h][:FILES_PER_EXAMPLE]]}
                     for h in shared[:examples]],
    }


def describe_pair_duplicates(p: dict) -> str:
    """One plain sentence for :func:`pair_duplicates` output ("" when the domains share nothing)."""
    if not p.get("shared"):
        return ""
    ex = "; ".join(f"source {', '.join(e['source'][:2])} = target {', '.join(e['target'][:2])}"
                   for e in p["examples"][:3])
    said = (f"{p['target_samples']} target sample(s) ({p['target_fraction']:.1%} of the target) are identical to "
            f"source samples ({p['shared']} distinct contents): a model trained on the source has seen them, so "
            f"the target test accuracy is inflated. Remove them from one domain. E.g. {ex}")
    if p.get("label_mismatch"):
        said += f". {p['label_mismatch']} of them carry different labels in the two domains"
    return said


def split_leakage(source, target, split, examples: int = EXAMPLES) -> dict:
    """Duplicates across one run's split.

    Returns:
        ``{"pair": pair_duplicates(...), "target_test", "leaked", "from_source", "from_target_labeled",
        "in_target_train", "source_val_in_train", "examples"}``: target test samples whose content is among the
        labeled training data (``from_source``: source train or val; ``from_target_labeled``: the labeled part of
        the target train), target test samples also in the (unlabeled) target train, and source val samples
        also in source train.
    """
    hs, ht = content_hashes(source), content_hashes(target)
    src_seen = {hs[i] for i in (*split.source_train, *split.source_val)}
    tgt_labeled = {ht[i] for i in split.target_labeled}
    tgt_train = {ht[i] for i in split.target_train}
    from_source = [i for i in split.target_test if ht[i] in src_seen]
    from_labeled = [i for i in split.target_test if ht[i] in tgt_labeled]
    leaked = sorted(set(from_source) | set(from_labeled))
    train_set = {hs[i] for i in split.source_train}
    return {
        "pair": pair_duplicates(source, target, examples),
        "target_test": len(split.target_test),
        "leaked": len(leaked),
        "from_source": len(from_source),
        "from_target_labeled": len(from_labeled),
        "in_target_train": sum(ht[i] in tgt_train for i in split.target_test),
        "source_val_in_train": sum(hs[i] in train_set for i in split.source_val),
        "examples": [target.sources[i] for i in leaked[:examples]],
    }


def leakage_flag(source, target, split) -> dict | None:
    """The run flag for duplicates across the pair or its split, or None when there are none.

    A run is flagged when the source and target share contents or a target test sample is a copy of a labeled
    training sample. The split and the results are left as they are; the flag says what to fix.
    """
    leak = split_leakage(source, target, split)
    pair = leak["pair"]
    if not pair["shared"] and not leak["leaked"]:
        return None
    parts = []
    if pair["shared"]:
        parts.append(f"{pair['target_samples']} target sample(s) are identical to source samples")
    if leak["leaked"]:
        parts.append(f"{leak['leaked']} of {leak['target_test']} target test samples are copies of labeled training "
                     f"samples ({leak['from_source']} from the source, {leak['from_target_labeled']} from the "
                     "labeled target), so the target test accuracy is inflated")
    else:
        parts.append("none of them is in the target test set")
    ex = leak["examples"] or [t for e in pair["examples"] for t in e["target"]]
    return {"kind": FLAG_KIND, "shared": pair["shared"], "target_samples": pair["target_samples"],
            "leaked": leak["leaked"], "target_test": leak["target_test"], "from_source": leak["from_source"],
            "from_target_labeled": leak["from_target_labeled"], "examples": ex[:EXAMPLES],
            "message": f"duplicates across the pair: {'; '.join(parts)} (e.g. target {', '.join(ex[:3])}); remove "
                       "the duplicates from one domain and train again"}
