"""RELIABILITY.md item 87 (dependency drift to vulnerable versions): the floors are enforced where they matter:
requirements.txt never allows less, this environment meets them, and ``doctor`` names any package below."""
import json
import re
import subprocess
import sys
from importlib import metadata

from tests.conftest import ROOT
from tlcore.versions import FLOORS, _parse, problems


def test_item_87_requirements_never_allow_less_than_the_floors_and_this_environment_meets_them():
    reqs = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*(==|>=)\s*([\d.]+)", line.strip())
        if m:
            reqs[m.group(1).lower()] = _parse(m.group(3))
    for pkg, (floor, _) in FLOORS.items():
        assert pkg in reqs, f"{pkg} has no version floor in requirements.txt"
        assert reqs[pkg] >= _parse(floor), f"requirements.txt allows {pkg} below {floor}"
    assert problems() == []


def test_item_87_an_old_package_is_named_with_the_floor_and_the_fix():
    old = {"pillow": "10.3.0", "torch": "2.14.1+cpu", "streamlit": "1.40.2"}
    found = problems(lambda pkg: old[pkg] if pkg in old else metadata.version(pkg))
    assert len(found) == 2
    assert any(f.startswith("pillow 10.3.0 is older than 12.2") and "pip install 'pillow>=12.2'" in f for f in found)
    assert any(f.startswith("streamlit 1.40.2 is older than 1.54") for f in found)


def test_doctor_reports_versions(store):
    out = subprocess.run([sys.executable, "-m", "tlcore", "doctor"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1])["versions"] == []


def test_item_47_torch_below_2_6_is_named_with_the_weights_only_advisory():
    for old in ("2.5.1", "2.5.1+cu121", "1.13.0"):
        found = problems(lambda pkg, old=old: old if pkg == "torch" else metadata.version(pkg))
        assert len(found) == 1 and found[0].startswith(f"torch {old} is older than 2.6"), found
        assert "CVE-2025-32434" in found[0] and "pip install 'torch>=2.6'" in found[0]
    assert problems(lambda pkg: "2.6.0" if pkg == "torch" else metadata.version(pkg)) == []
