"""Issue 24 item 5: one typed settings object for every TL_* environment variable, documented from that object."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tlcore import settings

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = [ROOT / "app.py", ROOT / "serve.py", *(p for d in ("tlcore", "ui", "views", "scripts")
                                                 for p in (ROOT / d).rglob("*.py"))]
NAME = re.compile(r"\bTL_[A-Z0-9_]*[A-Z0-9]\b")


def test_every_tl_variable_named_in_product_code_is_registered():
    found = {}
    for path in PRODUCT:
        if path.is_file():
            for name in NAME.findall(path.read_text(encoding="utf-8")):
                found.setdefault(name, str(path.relative_to(ROOT)))
    missing = {n: where for n, where in found.items() if n not in settings.BY_NAME}
    assert not missing, f"register these in tlcore/settings.py SETTINGS: {missing}"
    assert len(found) >= 35


def test_every_setting_is_typed_documented_and_placed():
    assert len(settings.BY_NAME) == len(settings.SETTINGS)  # no name twice
    for s in settings.SETTINGS:
        assert s.kind in settings.KINDS and s.subsystem and len(s.help) > 20, s.name
        assert s.type in (str, int, float, bool), s.name
        assert s.default is None or isinstance(s.default, s.type), s.name


def test_readme_configuration_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings.BEGIN in readme and settings.END in readme
    assert settings.replace_table(readme) == readme, "run: python -m tlcore settings --markdown --write"
    for s in settings.SETTINGS:
        assert f"| `{s.name}` |" in readme


def test_typed_getters_fall_back_to_the_default(monkeypatch):
    monkeypatch.setenv("TL_MAX_ROWS", "2_000")
    assert settings.get_int("TL_MAX_ROWS") == 2000
    monkeypatch.setenv("TL_MAX_ROWS", "lots")
    assert settings.get_int("TL_MAX_ROWS") == 1_000_000
    monkeypatch.setenv("TL_GPU_MIN_FREE_GB", "0.5")
    assert settings.get_float("TL_GPU_MIN_FREE_GB") == 0.5
    monkeypatch.delenv("TL_FOLD_BN", raising=False)
    assert settings.get_bool("TL_FOLD_BN") is True
    monkeypatch.setenv("TL_FOLD_BN", "no")
    assert settings.get_bool("TL_FOLD_BN") is False
    with pytest.raises(KeyError, match="not registered"):
        settings.get("TL_NOT_A_SETTING")


def test_doctor_prints_the_settings_and_flags_unknown_names(monkeypatch, capsys, tmp_path):
    from tlcore.__main__ import main

    monkeypatch.setenv("TL_HOME", str(tmp_path))
    monkeypatch.setenv("TL_MAX_IMAGES", "50")
    assert main(["doctor", "--settings"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["TL_MAX_IMAGES"]["value"] == "50" and rows["TL_MAX_IMAGES"]["default"] == "100000"
    assert rows["TL_GPU_PROBE_FILE"]["kind"] == "test" and rows["TL_JOB_ID"]["kind"] == "internal"
    monkeypatch.setenv("TL_MAX_IMAGE", "50")  # a misspelt name does nothing: doctor says so
    assert settings.unknown_in_environment() == ["TL_MAX_IMAGE"]
    assert main(["settings", "--markdown"]) == 0
    assert capsys.readouterr().out.strip() == settings.markdown_table()
