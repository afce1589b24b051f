"""Memory and time of the dashboard-side upload calls on hostile and large files (issue 22 item 1; issue 15 item 7).

Cases, each measured in a fresh process that plays the dashboard (it holds the upload in memory as Streamlit does
and calls what the Domains page calls: ``DomainLibrary.upload_columns`` for a table, then ``ingest_upload``):

* ``parquet-bomb``: a ~165 KB Parquet file of 20 million dictionary-encoded rows;
* ``zip-bomb``: a ~5 MB ZIP of 30,000 one-bit 256x256 PNGs;
* ``csv``: a large CSV (``--mb``, default 1024) of ~2 KB rows;
* ``parquet-bomb-rows-raised``: the Parquet bomb with ``TL_MAX_ROWS`` raised past its rows, so only the parse
  child's memory limit (``TL_PARSE_MEMORY_MB``, set to 1536 here) stops it.

Reports wall time, the calling process's peak RSS growth over what it held before the call, and the parse
child's peak RSS (``wait4`` of that child). Writes ``bench/results/upload_memory.{json,md}``.

    nice -n 10 .venv/bin/python bench/upload_memory.py [--mb 1024] [--cases parquet-bomb zip-bomb csv]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CASES = ["parquet-bomb", "zip-bomb", "csv", "parquet-bomb-rows-raised"]


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmHWM``: its peak; unlike ``ru_maxrss`` not inherited across exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def make_parquet_bomb(path: Path, n: int = 20_000_000) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    idx = pa.array((np.arange(n, dtype=np.int32) // 256) % 2)  # short runs: RLE/bit-packed to ~165 KB
    texts = pa.DictionaryArray.from_arrays(idx, pa.array(["a review " * 20, "another review " * 12]))
    labels = pa.DictionaryArray.from_arrays(idx, pa.array(["pos", "neg"]))
    pq.write_table(pa.table({"text": texts, "label": labels}), path, row_group_size=n)


def make_zip_bomb(path: Path, n: int = 30_000) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (256, 256), 1).save(buf, format="PNG", optimize=True)
    png = buf.getvalue()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(n):
            zf.writestr(f"{'a' if i % 2 else 'b'}/{i}.png", png)


def make_csv(path: Path, mb: int) -> None:
    row = ("a fairly long review text " * 80)[:1990]  # ~2 KB rows: 1 GB stays under the 1M-row limit
    with open(path, "w") as fh:
        fh.write("text,label\n")
        i = 0
        while fh.tell() < mb * 1024 * 1024 - 2048:  # stay under the upload limit
            fh.write(f"{row} {i},{'pos' if i % 2 else 'neg'}\n")
            i += 1


def measure(case: str, path: str) -> dict:
    """The dashboard's role, in this (fresh) process."""
    from tlcore.data import sandbox
    from tlcore.data.library import DomainLibrary
    from tlcore.errors import DataError

    root = Path(tempfile.mkdtemp(prefix="tl_upload_bench_"))
    lib = DomainLibrary(root)
    upload = io.BytesIO(Path(path).read_bytes())  # what Streamlit holds for an upload
    name = "upload" + Path(path).suffix
    held = rss_mb()
    t0 = time.monotonic()
    result, peaks = "saved", []
    try:
        if not name.endswith(".zip"):
            lib.upload_columns(name, upload)  # the column pickers
            peaks.append(sandbox.last_child_peak_mb or 0)
        entry = lib.ingest_upload("bench", name, upload)
        result = f"saved ({entry['n']:,} rows/images)"
    except DataError as exc:
        result = f"refused: {exc}"
    seconds = time.monotonic() - t0
    peaks.append(sandbox.last_child_peak_mb or 0)
    peak_self = rss_mb("VmHWM")
    shutil.rmtree(root, ignore_errors=True)
    return {"case": case, "file_mb": round(os.path.getsize(path) / 2**20, 2), "seconds": round(seconds, 1),
            "caller_held_mb": round(held), "caller_growth_mb": round(max(0.0, peak_self - held)),
            "child_peak_mb": round(max(peaks)), "result": result}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1024, help="size of the large CSV in MB (default 1024)")
    ap.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    ap.add_argument("--measure", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    ap.add_argument("--machine", default="", help="machine description for the results")
    a = ap.parse_args()
    if a.measure:
        print(json.dumps(measure(*a.measure)))
        return 0
    work = Path(tempfile.mkdtemp(prefix="tl_upload_files_"))
    rows = []
    try:
        for case in a.cases:
            path = work / {"csv": "big.csv", "zip-bomb": "bomb.zip"}.get(case, "bomb.parquet")
            if not path.exists():
                {"csv": lambda p: make_csv(p, a.mb), "zip-bomb": make_zip_bomb}.get(case, make_parquet_bomb)(path)
            env = dict(os.environ)
            if case == "parquet-bomb-rows-raised":
                env.update(TL_MAX_ROWS="30000000", TL_MAX_TABLE_MB="100000", TL_PARSE_MEMORY_MB="1536")
            proc = subprocess.run([sys.executable, __file__, "--measure", case, str(path)], env=env,
                                  capture_output=True, text=True)
            if proc.returncode:
                print(proc.stderr, file=sys.stderr)
                continue
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "bench" / "results"
    (out / "upload_memory.json").write_text(json.dumps({"machine": a.machine, "rows": rows}, indent=1) + "\n")
    lines = [f"# Upload memory (bench/upload_memory.py)\n", f"Machine: {a.machine}\n",
             "| case | file MB | seconds | caller holds MB | caller growth MB | parse child peak MB | result |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['file_mb']} | {r['seconds']} | {r['caller_held_mb']} | {r['caller_growth_mb']} | "
              f"{r['child_peak_mb']} | {r['result']} |" for r in rows]
    (out / "upload_memory.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
