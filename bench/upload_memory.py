"""Memory and time of the dashboard-side upload calls on hostile and large files (issue 22 item 1; issue 15 item 7).

Cases, each measured in a fresh process that plays the dashboard (it holds the upload in memory as Streamlit does
and calls what the Domains page calls: ``DomainLibrary.upload_columns`` for a table, then ``ingest_upload``):

* ``parquet-bomb``: a ~165 KB Parquet file of 20 million dictionary-encoded rows;
* ``zip-bomb``: a ~5 MB ZIP of 30,000 one-bit 256x256 PNGs;
* ``csv``: a large CSV (``--mb``, default 1024) of ~2 KB rows;
* ``parquet-bomb-rows-raised``: the Parquet bomb with ``TL_MAX_ROWS`` raised past its rows, so only the parse
  child's memory limit (``TL_PARSE_MEMORY_MB``, set to 1536 here) stops it;
* ``domain-page-30k``: a ZIP of 30,000 64x64 images in 10 classes (352 MB decoded) saved with ``ingest_upload``,
  then shown as the Domains page does (``load_domain``, ``summary()``, the 4 thumbnails per class): the calling
  process's RSS growth while the page loads it (issue 22 item 2). With ``--before-code DIR`` (a checkout of an
  older commit, e.g. ``git archive 7d2d82c | tar -x -C DIR``) the same case also runs on that code.

Reports wall time, the calling process's peak RSS growth over what it held before the call, and the parse
child's peak RSS (``wait4`` of that child). Writes ``bench/results/upload_memory.{json,md}``.

    nice -n 10 .venv/bin/python bench/upload_memory.py [--mb 1024] [--cases parquet-bomb zip-bomb csv]
    nice -n 10 .venv/bin/python bench/upload_memory.py --cases domain-page-30k --before-code /tmp/old
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
CODE = Path(os.environ.get("TL_BENCH_CODE") or ROOT)  # which source tree the measuring process imports
sys.path.insert(0, str(CODE))
CASES = ["parquet-bomb", "zip-bomb", "csv", "parquet-bomb-rows-raised", "domain-page-30k"]
PAGE_CLASSES, PAGE_THUMBS = 10, 4


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


def make_image_zip(path: Path, n: int = 30_000) -> None:
    """``n`` distinct 64x64 RGB PNGs (a flat colour each: small files, the full decode cost) in 10 class folders."""
    import numpy as np
    from PIL import Image

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(n):
            buf = io.BytesIO()
            colour = (i % 256, (i // 256) % 256, (i % PAGE_CLASSES) * 25)
            Image.fromarray(np.full((64, 64, 3), colour, np.uint8)).save(buf, format="PNG")
            zf.writestr(f"class{i % PAGE_CLASSES}/{i}.png", buf.getvalue())


def measure_page(path: str) -> dict:
    """The dashboard's role for the Domains page: save the ZIP (validated in the parse child), then, in this
    process, what the page does with a saved domain: load it, summarise it, read 4 thumbnails per class."""
    from tlcore.data import sandbox
    from tlcore.data.library import DomainLibrary
    from tlcore.data.loading import load_domain

    root = Path(tempfile.mkdtemp(prefix="tl_page_bench_"))
    os.environ["TL_HOME"] = str(root)  # the decoded copy (cache/domains) lives in this data root
    try:
        lib = DomainLibrary(root)
        t0 = time.monotonic()
        entry = lib.ingest_upload("bench", "images.zip", io.BytesIO(Path(path).read_bytes()))
        save_s, child_mb = time.monotonic() - t0, sandbox.last_child_peak_mb or 0
        held = rss_mb()
        t1 = time.monotonic()
        dom = load_domain(lib.spec(entry["domain_id"]), "source")
        summary = dom.summary()
        by_class: dict = {}
        for i, lab in enumerate(dom.labels):
            if len(by_class.setdefault(lab, [])) < PAGE_THUMBS:
                by_class[lab].append(dom.samples[i])
        page_s = time.monotonic() - t1
        after, peak = rss_mb(), rss_mb("VmHWM")
        decoded = sum(h * w * 3 for h, w in zip(summary["sizes"]["height"], summary["sizes"]["width"]))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"case": "domain-page-30k", "code": str(CODE), "n": summary["n"], "decoded_mb": round(decoded / 2**20),
            "file_mb": round(os.path.getsize(path) / 2**20, 2), "save_seconds": round(save_s, 1),
            "child_peak_mb": round(child_mb), "page_seconds": round(page_s, 1), "caller_held_mb": round(held),
            "page_growth_mb": round(max(0.0, peak - held)), "rss_after_page_mb": round(after),
            "thumbnails": sum(len(v) for v in by_class.values())}


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
    ap.add_argument("--before-code", default="", help="domain-page-30k also on this source tree (an older commit)")
    ap.add_argument("--out", default="upload_memory", help="results file stem under bench/results")
    a = ap.parse_args()
    if a.measure:
        print(json.dumps(measure_page(a.measure[1]) if a.measure[0] == "domain-page-30k" else measure(*a.measure)))
        return 0
    work = Path(tempfile.mkdtemp(prefix="tl_upload_files_"))
    rows = []
    try:
        for case in a.cases:
            path = work / {"csv": "big.csv", "zip-bomb": "bomb.zip", "domain-page-30k": "images.zip"}.get(
                case, "bomb.parquet")
            if not path.exists():
                {"csv": lambda p: make_csv(p, a.mb), "zip-bomb": make_zip_bomb,
                 "domain-page-30k": make_image_zip}.get(case, make_parquet_bomb)(path)
            env = dict(os.environ)
            if case == "parquet-bomb-rows-raised":
                env.update(TL_MAX_ROWS="30000000", TL_MAX_TABLE_MB="100000", TL_PARSE_MEMORY_MB="1536")
            trees = [str(ROOT)] + ([a.before_code] if case == "domain-page-30k" and a.before_code else [])
            for tree in trees:
                proc = subprocess.run([sys.executable, __file__, "--measure", case, str(path)],
                                      env={**env, "TL_BENCH_CODE": tree, "PYTHONPATH": tree}, capture_output=True,
                                      text=True)
                if proc.returncode:
                    print(proc.stderr, file=sys.stderr)
                    continue
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "bench" / "results"
    (out / f"{a.out}.json").write_text(json.dumps({"machine": a.machine, "rows": rows}, indent=1) + "\n")
    page = [r for r in rows if r["case"] == "domain-page-30k"]
    rows = [r for r in rows if r["case"] != "domain-page-30k"]
    lines = [f"# Upload memory (bench/upload_memory.py)\n", f"Machine: {a.machine}\n"]
    if rows:
        lines += ["| case | file MB | seconds | caller holds MB | caller growth MB | parse child peak MB | result |",
                  "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['file_mb']} | {r['seconds']} | {r['caller_held_mb']} | {r['caller_growth_mb']} | "
              f"{r['child_peak_mb']} | {r['result']} |" for r in rows]
    if page:
        lines += ["", "| Domains page, saved ZIP domain | images | decoded MB | save s | parse child peak MB | "
                  "page s | caller holds MB | page growth MB | RSS after page MB |", "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['code']} | {r['n']:,} | {r['decoded_mb']} | {r['save_seconds']} | {r['child_peak_mb']} | "
                  f"{r['page_seconds']} | {r['caller_held_mb']} | {r['page_growth_mb']} | {r['rss_after_page_mb']} |"
                  for r in page]
    (out / f"{a.out}.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
