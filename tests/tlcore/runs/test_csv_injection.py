"""CSV formula-injection neutralisation on every exported CSV (issue 15 item 11; OWASP CSV Injection)."""
import csv
import io

import pandas as pd

from tlcore.runs.csvsafe import safe_csv_bytes, safe_frame

HOSTILE = ['=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+9)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def _cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_item_42_exported_predictions_csv_neutralises_formula_cells():
    df = pd.DataFrame({"index": range(len(HOSTILE) + 2), "text": HOSTILE + ["fine text", "-0.5"],
                       "true": ["a"] * (len(HOSTILE) + 2), "confidence": [-0.25] * (len(HOSTILE) + 2)})
    raw = df.to_csv(index=False, lineterminator="\r\n").encode()
    rows = _cells(safe_csv_bytes(raw))
    texts = [r[1] for r in rows[1:]]
    assert texts[: len(HOSTILE)] == ["'" + h for h in HOSTILE]
    assert texts[-2:] == ["fine text", "-0.5"]  # plain text and numbers are unchanged
    assert all(r[3] == "-0.25" for r in rows[1:])


def test_every_csv_export_path_is_neutralised(tmp_path):
    from tlcore.export.predict import write_csv_atomic
    from ui.run_table import to_csv_bytes

    out = tmp_path / "p.csv"
    write_csv_atomic(out, ["text", "pred"], [[h, "=x"] for h in HOSTILE])
    assert all(c.startswith("'") for r in _cells(out.read_bytes())[1:] for c in r)
    table = pd.DataFrame({"run": HOSTILE}, index=[f"r{i}" for i in range(len(HOSTILE))])
    assert all(r[1].startswith("'") for r in _cells(to_csv_bytes(table))[1:])
    frame = safe_frame(pd.DataFrame({"=evil": ["=1", 2]}))
    assert list(frame.columns) == ["'=evil"] and frame.iloc[0, 0] == "'=1" and frame.iloc[1, 0] == 2
