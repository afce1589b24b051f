"""The in-memory Domain: samples, labels and where each one came from.

A Domain is what every reader (archive, table, demo) produces and what the rest of
the engine consumes. Domains are treated as immutable once built: readers return a
fresh object and :meth:`Domain.subset` returns a new one.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

MODALITIES = ("image", "text")


@dataclass(frozen=True)
class Skipped:
    """One input item that was left out, and why.

    Attributes:
        file: Archive member path, file name, folder (``"cat/"``) or ``"row 17"``.
        reason: Short human-readable reason, e.g. ``"not an image"``.
    """

    file: str
    reason: str


@dataclass
class Domain:
    """A set of samples from one domain, optionally labeled.

    Attributes:
        name: Display name (usually the file stem or the demo name).
        modality: ``"image"`` or ``"text"``.
        samples: Images as ``np.ndarray`` uint8 of shape (H, W, 3) RGB, or texts as ``str``: a list, or for images
            kept on disk a :class:`~tlcore.data.mapped.MappedImages` (read on access; same arrays).
        labels: One string label per sample, or ``None`` for an unlabeled domain.
        sources: Per-sample origin: archive member path, file path or ``"row N"``.
        skipped: Items left out while reading, with reasons.
        generated: True for built-in generated demos.
        description: Free-text description shown in the UI.
        original_sizes: For images, ``(height, width)`` before any downscale; empty for text.
    """

    name: str
    modality: str
    samples: list
    labels: list[str] | None
    sources: list[str]
    skipped: list[Skipped] = field(default_factory=list)
    generated: bool = False
    description: str = ""
    original_sizes: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        n = len(self.samples)
        if self.labels is not None and len(self.labels) != n:
            raise ValueError(f"{self.name}: {len(self.labels)} labels for {n} samples")
        if len(self.sources) != n:
            raise ValueError(f"{self.name}: {len(self.sources)} sources for {n} samples")
        if self.modality == "image" and not self.original_sizes:
            self.original_sizes = [tuple(s.shape[:2]) for s in self.samples]
        if self.original_sizes and len(self.original_sizes) != n:
            raise ValueError(f"{self.name}: {len(self.original_sizes)} sizes for {n} samples")

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def classes(self) -> list[str]:
        """Sorted unique labels, or ``[]`` for an unlabeled domain."""
        return sorted(set(self.labels)) if self.labels is not None else []

    @property
    def labeled(self) -> bool:
        """Whether the domain carries labels."""
        return self.labels is not None

    def subset(self, indices) -> Domain:
        """Return a new Domain holding only the given samples.

        Args:
            indices: Iterable of integer positions into this domain.

        Returns:
            A Domain with the same name, modality, skipped list and metadata.
        """
        idx = [int(i) for i in indices]
        out = Domain(
            name=self.name,
            modality=self.modality,
            # decoded images on disk (tlcore.data.mapped) stay on disk: a subset is an index, no pixel is read
            samples=self.samples.take(idx) if hasattr(self.samples, "take") else [self.samples[i] for i in idx],
            labels=[self.labels[i] for i in idx] if self.labels is not None else None,
            sources=[self.sources[i] for i in idx],
            skipped=list(self.skipped),
            generated=self.generated,
            description=self.description,
            original_sizes=[self.original_sizes[i] for i in idx] if self.original_sizes else [],
        )
        hashes = self.__dict__.get("_content_hashes")  # per-sample content hashes (tlcore.data.duplicates)
        if hashes is not None and len(hashes) == len(self):
            out.__dict__["_content_hashes"] = [hashes[i] for i in idx]
        return out

    def summary(self) -> dict:
        """Describe the domain with plain JSON-able values.

        Returns:
            A dict with name, modality, n, classes, counts, n_skipped, skipped_reasons,
            generated, description, ``sizes`` (images: original heights and widths)
            or ``lengths`` (text: word counts), and ``duplicates``: identical samples inside the domain
            (:func:`tlcore.data.duplicates.domain_duplicates`: label conflicts and same-label copies).
        """
        from tlcore.data.duplicates import domain_duplicates

        out = {
            "name": self.name,
            "modality": self.modality,
            "n": len(self),
            "classes": self.classes,
            "counts": dict(sorted(Counter(self.labels).items())) if self.labels is not None else {},
            "n_skipped": len(self.skipped),
            "skipped_reasons": dict(Counter(s.reason for s in self.skipped)),
            "generated": self.generated,
            "description": self.description,
            "duplicates": domain_duplicates(self),
        }
        if self.modality == "image":
            out["sizes"] = {
                "height": [int(h) for h, _ in self.original_sizes],
                "width": [int(w) for _, w in self.original_sizes],
            }
        else:
            out["lengths"] = [len(t.split()) for t in self.samples]
        return out

    def fingerprint(self) -> str:
        """Return a sha256 hex digest over sources, labels and sample content.

        The digest is stable across calls and processes for the same data (memoised on the object).
        """
        cached = self.__dict__.get("_fingerprint")
        if cached and cached[0] == len(self):
            return cached[1]
        h = hashlib.sha256()
        h.update(f"{self.modality}\0{len(self)}\0".encode())
        h.update(b"L" if self.labels is not None else b"U")
        for i, sample in enumerate(self.samples):
            h.update(self.sources[i].encode("utf-8", "surrogatepass") + b"\0")
            if self.labels is not None:
                h.update(self.labels[i].encode("utf-8", "surrogatepass") + b"\0")
            if isinstance(sample, np.ndarray):
                h.update(repr(sample.shape).encode())
                h.update(np.ascontiguousarray(sample).tobytes())
            else:
                h.update(str(sample).encode("utf-8", "surrogatepass") + b"\0")
        self.__dict__["_fingerprint"] = (len(self), h.hexdigest())
        return self.__dict__["_fingerprint"][1]
