"""Version floors for a shared server (RELIABILITY.md item 87 and its table c.1): below these, a known
advisory applies or a feature TL Studio relies on is missing. ``python -m tlcore doctor`` reports them (no
torch import here: package metadata only)."""
from __future__ import annotations

import re
from importlib import metadata

# package -> (floor, why)
FLOORS = {
    "streamlit": ("1.54", "CVE-2024-42474, CVE-2025-1684, CVE-2026-10804, CVE-2026-33682; st.App middleware "
                          "(serve.py: /media/ behind sign-in)"),
    "torch": ("2.6", "weights_only=True by default; CVE-2025-32434"),
    "transformers": ("4.50", "CVE-2024-3568; refuses unsafe .bin loads"),
    "pillow": ("12.2", "FITS decompression bomb GHSA-whj4-6x5x-4v2j"),
    "safetensors": ("0.4", "audited, fuzzed header parser"),
    "pyarrow": ("14.0.1", "CVE-2023-47248: code execution from a crafted Parquet/IPC file (uploads are read "
                          "with it)"),
}


def _parse(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version.split("+")[0])[:3])


def problems(installed=None) -> list[str]:
    """One line per installed package below its floor (packages that are not installed are not listed)."""
    get = installed or metadata.version
    out = []
    for pkg, (floor, why) in FLOORS.items():
        try:
            have = get(pkg)
        except metadata.PackageNotFoundError:
            continue
        if _parse(have) < _parse(floor):
            out.append(f"{pkg} {have} is older than {floor} ({why}); upgrade it: pip install '{pkg}>={floor}'")
    return out
