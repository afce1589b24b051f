"""The Predict page's rules (ui/predict_batch.py): input kinds, the text column guess, the missing-input prompt."""
from __future__ import annotations

from types import SimpleNamespace

import apptest_paths  # noqa: F401 - the repository root on sys.path

from ui.predict_batch import guess_text_column, input_kinds, missing_input


def test_input_kinds_are_the_modalities_of_the_runs():
    runs = [SimpleNamespace(modality=m) for m in ("text", "image", "text", None)]
    assert input_kinds(runs) == ["image", "text"]
    assert input_kinds([SimpleNamespace(modality="text")]) == ["text"]


def test_text_column_guess():
    assert guess_text_column(["id", " Review ", "label"]) == 1
    assert guess_text_column(["sentence", "text"]) == 0
    assert guess_text_column(["id", "body"]) == 0


def test_missing_input_prompt():
    assert missing_input("text", "  ", None) == "Type a sentence first."
    assert missing_input("image", None, None) == "Drop an image first."
    assert missing_input("text", "great book", None) is None
    assert missing_input("image", None, b"\x89PNG") is None
