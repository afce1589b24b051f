"""Memory of the dashboard process while a large uploaded CSV is saved as a domain (issue 15, item 7).

Streamlit keeps an upload in memory (an ``UploadedFile`` is a BytesIO); saving it copies it in 1 MB chunks to
staging and validates it in a child process, so the dashboard's peak memory is the upload itself plus a
constant. Prints peak RSS of this process (the dashboard's role) and of the validating child.

    nice -n 10 .venv/bin/python bench/upload_memory.py --mb 1024
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def make_csv(mb: int) -> bytes:
    row = ("a fairly long review text " * 80)[:1990]  # ~2 KB rows: 1 GB stays under the 1M-row limit
    buf = io.BytesIO()
    buf.write(b"text,label\n")
    i = 0
    while buf.tell() < mb * 1024 * 1024 - 2048:  # stay under the upload limit
        buf.write(f"{row} {i},{'pos' if i % 2 else 'neg'}\n".encode())
        i += 1
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1024)
    a = ap.parse_args()
    from tlcore.data.library import DomainLibrary

    root = Path(tempfile.mkdtemp(prefix="tl_upload_bench_"))
    lib = DomainLibrary(root)
    base = rss_mb()
    data = make_csv(a.mb)
    upload = io.BytesIO(data)  # what Streamlit holds for an upload
    del data
    held = rss_mb()
    t0 = time.time()
    entry = lib.ingest_upload("big", "big.csv", upload)
    seconds = time.time() - t0
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "upload_mb": a.mb, "rows": entry["n"], "seconds": round(seconds, 1),
           "rss_before_mb": round(base), "rss_with_upload_in_memory_mb": round(held),
           "dashboard_peak_rss_mb": round(peak_self), "dashboard_extra_over_upload_mb": round(peak_self - held),
           "validating_child_peak_rss_mb": round(peak_child)}
    print(json.dumps(out))
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
