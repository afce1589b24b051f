"""Built-in demo domain pairs, generated deterministically from a seed (no downloads).

* ``digits``: scikit-learn's bundled 8x8 digits. The source half is clean (white strokes
  on black); the disjoint target half is inverted, tinted, rotated and noisy.
* ``reviews``: templated product reviews. Source = books, target = kitchen appliances,
  with different vocabularies, some shared sentiment words and ~5 % label noise.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from tlcore.data.domain import Domain
from tlcore.errors import DataError

DEMOS: dict[str, str] = {
    "digits": (
        "Handwritten digits 0-9 (scikit-learn's bundled set): "
        "clean source vs inverted, tinted, rotated, noisy target"
    ),
    "reviews": "Generated product reviews, positive/negative: books (source) vs kitchen appliances (target)",
}
DEMO_CLASSES = {"digits": 10, "reviews": 2}  # number of classes of each demo (known without generating it)
ROLES = ("source", "target")
DIGIT_SIDE = 32
REVIEWS_PER_DOMAIN = 600
LABEL_NOISE = 0.05

_SHARED = {
    "positive": ["great", "excellent", "wonderful", "really good", "fantastic"],
    "negative": ["terrible", "awful", "disappointing", "really bad", "a waste of money"],
}
_VOCAB = {
    "books": {
        "nouns": ["novel", "book", "story", "plot", "author's voice", "ending", "main character", "narrative",
                  "sequel", "biography", "prose", "first chapter"],
        "positive": ["gripping", "captivating", "moving", "insightful", "engrossing", "beautifully written",
                     "thought-provoking"],
        "negative": ["boring", "predictable", "shallow", "tedious", "poorly edited", "confusing", "dull"],
        "positive_extra": ["I could not put it down.", "The characters felt real.", "I read it in one sitting."],
        "negative_extra": ["I gave up halfway through.", "The plot goes nowhere.", "Too many clichés."],
        "neutral": ["I bought it for a long flight.", "It was a gift from my sister.", "Our book club picked it."],
    },
    "kitchen": {
        "nouns": ["blender", "toaster", "kettle", "frying pan", "knife set", "coffee maker", "mixer", "lid",
                  "handle", "skillet", "food processor", "cutting board"],
        "positive": ["sturdy", "easy to clean", "reliable", "sharp", "durable", "well built", "quiet"],
        "negative": ["flimsy", "leaky", "rusty", "wobbly", "hard to clean", "noisy", "cheaply made"],
        "positive_extra": ["It heats evenly.", "Still works perfectly after months.", "Cleans up in seconds."],
        "negative_extra": ["It leaks every time.", "The handle broke in a week.", "It stopped working quickly."],
        "neutral": ["I use it every morning.", "It replaced my old one.", "Bought it for our new apartment."],
    },
}
_TEMPLATES = (
    "The {noun} is {adj}.",
    "{Shared}! The {noun} was {adj} and {adj2}.",
    "I found this {noun} {adj}. {extra}",
    "{neutral} {Shared}, the {noun} is {adj}.",
    "{extra} Overall {shared}; the {noun2} is {adj2}.",
    "Honestly {shared}. {Adj} {noun} and a {adj2} {noun2}.",
)


def load_demo(name: str, role: str, seed: int = 0) -> Domain:
    """Generate one side of a demo pair.

    Args:
        name: A key of :data:`DEMOS`.
        role: ``"source"`` or ``"target"``.
        seed: Random seed; the same seed gives byte-identical samples.

    Returns:
        A labeled Domain with ``generated=True``.

    Raises:
        DataError: Unknown demo name or role.
    """
    if name not in DEMOS:
        raise DataError(f"unknown demo {name!r}; known demos: {sorted(DEMOS)}")
    if role not in ROLES:
        raise DataError(f"demo role must be one of {list(ROLES)}, got {role!r}")
    if name == "digits":
        return _digits(role, seed)
    return _reviews(role, seed)


def _digits(role: str, seed: int) -> Domain:
    """Split sklearn's digits into disjoint per-class halves; shift the target half."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images, targets = bunch.images, bunch.target
    split_rng = np.random.RandomState(seed)
    chosen = []
    for cls in range(10):
        members = split_rng.permutation(np.flatnonzero(targets == cls))
        half = len(members) // 2
        chosen.extend(members[:half] if role == "source" else members[half:])
    order = np.array(sorted(chosen))
    rng = np.random.RandomState([seed, 1 if role == "target" else 0])
    order = order[rng.permutation(len(order))]
    samples = []
    for index in order:
        gray = Image.fromarray(np.clip(images[index] * 16.0, 0, 255).astype(np.uint8))
        gray = gray.resize((DIGIT_SIDE, DIGIT_SIDE), Image.Resampling.BILINEAR)
        if role == "target":
            gray = gray.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR, fillcolor=0)
            inverted = 255.0 - np.asarray(gray, dtype=np.float64)
            tint = rng.uniform(0.55, 1.0, size=3)
            pixels = inverted[..., None] * tint + rng.normal(0.0, 12.0, size=(DIGIT_SIDE, DIGIT_SIDE, 3))
        else:
            pixels = np.repeat(np.asarray(gray, dtype=np.float64)[..., None], 3, axis=2)
        samples.append(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
    shift = "clean, white on black" if role == "source" else "inverted, tinted, rotated +-15 degrees, noisy"
    return Domain(
        name=f"digits-{role}",
        modality="image",
        samples=samples,
        labels=[str(int(targets[i])) for i in order],
        sources=[f"sklearn-digits/{int(i)}" for i in order],
        generated=True,
        description=(
            f"Generated from scikit-learn's bundled 8x8 digits ({shift}), upscaled to {DIGIT_SIDE}x{DIGIT_SIDE}"
        ),
    )


def _reviews(role: str, seed: int) -> Domain:
    """Generate balanced templated reviews for books (source) or kitchen appliances (target)."""
    topic = "books" if role == "source" else "kitchen"
    vocab = _VOCAB[topic]
    rng = np.random.RandomState([seed, 2 if role == "target" else 3])
    sentiments = ["positive", "negative"] * (REVIEWS_PER_DOMAIN // 2)
    texts = [_review(rng, vocab, s) for s in sentiments]
    labels = list(sentiments)
    flips_per_class = int(round(LABEL_NOISE * REVIEWS_PER_DOMAIN / 2))
    for cls, other in (("positive", "negative"), ("negative", "positive")):
        candidates = [i for i, s in enumerate(sentiments) if s == cls]
        for i in rng.choice(candidates, size=flips_per_class, replace=False):
            labels[i] = other
    order = rng.permutation(REVIEWS_PER_DOMAIN)
    return Domain(
        name=f"reviews-{topic}",
        modality="text",
        samples=[texts[i] for i in order],
        labels=[labels[i] for i in order],
        sources=[f"generated/{topic}/{int(i)}" for i in order],
        generated=True,
        description=f"Generated {topic} reviews: templated sentences, balanced classes, {LABEL_NOISE:.0%} label noise",
    )


def _review(rng: np.random.RandomState, vocab: dict, sentiment: str) -> str:
    """Fill one random template for the given sentiment."""

    def pick(options):
        return options[rng.randint(len(options))]

    adj, adj2 = rng.choice(vocab[sentiment], size=2, replace=False)
    noun, noun2 = rng.choice(vocab["nouns"], size=2, replace=False)
    shared = pick(_SHARED[sentiment])
    text = pick(_TEMPLATES).format(
        noun=noun, noun2=noun2, adj=adj, adj2=adj2, Adj=adj[0].upper() + adj[1:],
        shared=shared, Shared=shared[0].upper() + shared[1:],
        extra=pick(vocab[f"{sentiment}_extra"]), neutral=pick(vocab["neutral"]),
    )
    return str(text)
