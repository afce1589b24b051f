"""Text tables: formats, encodings, columns, missing values, guards (tlcore.data.table)."""

from __future__ import annotations

import csv
import json
import zipfile

import pandas as pd
import pytest

from tlcore.data import read_text
from tlcore.data.table import table_columns
from tlcore.errors import DataError

ROWS = [("good book", "pos"), ("bad book", "neg"), ("fine, really", "pos")]


def write_csv(path, header=("text", "label"), rows=ROWS, delimiter=",", encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_csv_basic(tmp_path):
    domain = read_text(write_csv(tmp_path / "r.csv"))
    assert domain.name == "r" and domain.modality == "text"
    assert domain.samples == ["good book", "bad book", "fine, really"]
    assert domain.labels == ["pos", "neg", "pos"]
    assert domain.sources == ["row 1", "row 2", "row 3"]
    assert domain.classes == ["neg", "pos"]
    assert domain.summary()["lengths"] == [2, 2, 2]


def test_item_34_quoted_newlines_and_semicolons(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('text;label\n"line one\nline two";a\n"x; y";b\n', encoding="utf-8")
    domain = read_text(path)
    assert domain.samples == ["line one\nline two", "x; y"]
    assert domain.labels == ["a", "b"]


def test_tsv_jsonl_json_parquet(tmp_path):
    tsv = read_text(write_csv(tmp_path / "r.tsv", delimiter="\t"))
    assert tsv.labels == ["pos", "neg", "pos"]
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps({"text": t, "label": y}) for t, y in ROWS) + "\n")
    assert read_text(tmp_path / "r.jsonl").samples == tsv.samples
    (tmp_path / "r.json").write_text(json.dumps([{"sentence": t, "class": y} for t, y in ROWS]))
    assert read_text(tmp_path / "r.json").labels == tsv.labels
    pd.DataFrame({"content": ["a b", "c", None], "target": [1, 0, 1]}).to_parquet(tmp_path / "r.parquet")
    parquet = read_text(tmp_path / "r.parquet")
    assert parquet.samples == ["a b", "c"] and parquet.labels == ["1", "0"]
    assert parquet.skipped[0].file == "row 3"


def test_item_33_bom_and_utf16(tmp_path):
    bom = read_text(write_csv(tmp_path / "bom.csv", encoding="utf-8-sig"))
    assert bom.labels == ["pos", "neg", "pos"]
    utf16 = read_text(write_csv(tmp_path / "u16.csv", encoding="utf-16"))
    assert utf16.samples == bom.samples


def test_item_33_invalid_utf8_names_line_and_offset(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"text,label\nok,a\ncaf\xe9,b\n")
    with pytest.raises(DataError, match=r"latin\.csv: invalid UTF-8 at line 3 \(byte offset 19\); re-save as UTF-8"):
        read_text(path)


def test_item_34_unbalanced_quote_and_extra_fields_name_line(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('text,label\nok,a\n"never closed,b\nmore,c\n')
    with pytest.raises(DataError, match=r"quote\.csv: cannot parse line 3: unbalanced quote"):
        read_text(path)
    path = tmp_path / "extra.csv"
    path.write_text("text,label\nok,a\nx,b,c\n")
    with pytest.raises(DataError, match=r"extra\.csv: line 3 has 3 fields but the header has 2"):
        read_text(path)


def test_item_35_huge_field_over_the_csv_default_limit_is_read(tmp_path):
    big = "w " * 100_000
    domain = read_text(write_csv(tmp_path / "big.csv", rows=[(big, "a"), ("x", "b")]))
    assert domain.samples[0] == big


def test_item_36_column_matching_and_missing_column(tmp_path):
    path = write_csv(tmp_path / "h.csv", header=(" Review ", "SENTIMENT"))
    assert read_text(path).labels == ["pos", "neg", "pos"]
    assert read_text(path, text_column="review", label_column=" sentiment").labels == ["pos", "neg", "pos"]
    with pytest.raises(DataError, match=r"h\.csv: column 'label' not found; found: \[' Review ', 'SENTIMENT'\]"):
        read_text(path, label_column="label")
    with pytest.raises(DataError, match=r"h\.csv: column 'body' not found"):
        read_text(path, text_column="body")
    assert table_columns(path) == [" Review ", "SENTIMENT"]


def test_unlabeled_only_when_label_column_not_given(tmp_path):
    path = write_csv(tmp_path / "u.csv", header=("text", "id"))
    domain = read_text(path)
    assert domain.labels is None and domain.classes == []
    nolabel = write_csv(tmp_path / "n.csv", header=("words", "id"))
    with pytest.raises(DataError, match=r"n\.csv: no text column found .*found: \['words', 'id'\]"):
        read_text(nolabel)


def test_item_37_duplicate_columns_refused(tmp_path):
    path = write_csv(tmp_path / "dup.csv", header=("text", "label", "label"), rows=[("a", "b", "c")])
    with pytest.raises(DataError, match=r"dup\.csv: duplicate column name 'label'"):
        read_text(path)


def test_item_38_empty_and_missing_values_dropped(tmp_path):
    rows = [
        ("t1", "a"), ("t2", ""), ("t3", "NaN"), ("t4", "  "), ("t5", " b "), ("   ", "a"), ("t7", "01"), ("t8", "1"),
    ]
    domain = read_text(write_csv(tmp_path / "m.csv", rows=rows))
    assert domain.labels == ["a", "b", "01", "1"]
    assert domain.sources == ["row 1", "row 5", "row 7", "row 8"]
    assert [(s.file, s.reason) for s in domain.skipped] == [
        ("row 2", "missing label"), ("row 3", "missing label"), ("row 4", "missing label"), ("row 6", "empty text"),
    ]
    assert "nan" not in domain.classes
    short = tmp_path / "short.csv"
    short.write_text("text,label\nonly text\nok,a\n")
    assert read_text(short).skipped[0].file == "row 1"


def test_nothing_left(tmp_path):
    with pytest.raises(DataError, match=r"blank\.csv: no usable rows \(2 data rows, all skipped"):
        read_text(write_csv(tmp_path / "blank.csv", rows=[("", "a"), ("x", "")]))
    (tmp_path / "header.csv").write_text("text,label\n")
    with pytest.raises(DataError, match=r"header\.csv: no usable rows"):
        read_text(tmp_path / "header.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        read_text(tmp_path / "empty.csv")


def test_item_41_free_text_label_guard(tmp_path):
    rows = [(f"text {i}", f"unique label {i}") for i in range(150)]
    with pytest.raises(DataError, match=r"free\.csv: column 'label' looks like free text, not labels"):
        read_text(write_csv(tmp_path / "free.csv", rows=rows))


def test_item_44_row_cap(tmp_path):
    rows = [(f"t{i}", "a") for i in range(11)]
    with pytest.raises(DataError, match=r"cap\.csv: more than 10 rows"):
        read_text(write_csv(tmp_path / "cap.csv", rows=rows), max_rows=10)
    assert len(read_text(tmp_path / "cap.csv", max_rows=11)) == 11


def test_item_43_wrong_formats_sniffed(tmp_path):
    with zipfile.ZipFile(tmp_path / "sheet.csv", "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DataError, match=r"sheet\.csv: this looks like an Excel/ZIP file; export it as CSV"):
        read_text(tmp_path / "sheet.csv")
    pd.DataFrame({"text": ["a"], "label": ["b"]}).to_parquet(tmp_path / "data.csv")
    with pytest.raises(DataError, match=r"data\.csv: this looks like a Parquet file"):
        read_text(tmp_path / "data.csv")
    (tmp_path / "bad.parquet").write_text("text,label\na,b\n")
    with pytest.raises(DataError, match=r"bad\.parquet: not a valid Parquet file"):
        read_text(tmp_path / "bad.parquet")
    (tmp_path / "bin.csv").write_bytes(b"ab\x00\x01\x02cd")
    with pytest.raises(DataError, match=r"bin\.csv: this looks like a binary file"):
        read_text(tmp_path / "bin.csv")
    (tmp_path / "notes.txt").write_text("text,label\n")
    with pytest.raises(DataError, match=r"notes\.txt: unsupported table format '\.txt'"):
        read_text(tmp_path / "notes.txt")
    with pytest.raises(DataError, match=r"gone\.csv: file not found"):
        read_text(tmp_path / "gone.csv")


def test_bad_jsonl_names_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": oops}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl: invalid JSON at line 2"):
        read_text(path)
    path.write_text('{"text": "a", "label": "x"}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"bad\.jsonl: line 2 is not a JSON object"):
        read_text(path)


def test_item_40_labels_are_strings_01_and_1_stay_distinct_and_spaces_are_trimmed(tmp_path):
    rows = [("t1", "01"), ("t2", "1"), ("t3", "1.0"), ("t4", "spam "), ("t5", " spam"), ("t6", "Spam")]
    domain = read_text(write_csv(tmp_path / "typed.csv", rows=rows))
    assert domain.labels == ["01", "1", "1.0", "spam", "spam", "Spam"]  # no numeric coercion, no case folding
    assert domain.classes == sorted({"01", "1", "1.0", "spam", "Spam"})


def test_item_45_hostile_text_is_kept_verbatim_and_tokenized_to_max_length(tmp_path):
    import torch

    from tlcore.models.backbones import create_backbone
    from tlcore.training.batches import encode_for

    hostile = ["ctrl \x01\x07\x1b[31m red", "bidi \u202eevil\u202c text", "emoji \U0001f600\U0001f4a9 ok",
               "zero\u200bwidth\u200d join", "token " + "x" * 100_000, "many words " * 10_000]
    domain = read_text(write_csv(tmp_path / "hostile.csv", rows=[(t, "a" if i % 2 else "b")
                                                                 for i, t in enumerate(hostile)]))
    assert domain.samples == hostile  # nothing dropped or rewritten; display escaping is item 11
    backbone = create_backbone("tiny_text", pretrained=False)
    encoded = encode_for(backbone, domain.samples, [0, 1] * 3, max_length=32)
    batch = encoded.batch(list(range(6)), torch.device("cpu"))
    assert batch["input_ids"].shape == (6, 32)  # the 20,000-word row is cut at max_length
    assert max(len(s) for s in encoded.ids) == 32
