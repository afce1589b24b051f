"""``python -m tlcore predict`` and the prediction server: inputs of every kind, order, atomic output, clear
errors for bad input."""
from __future__ import annotations

import base64
import csv
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from tlcore.errors import TLError
from tlcore.export.predict import Predictor, predict_to_csv
from tlcore.export.server import Server, serve

from tests.tlcore.export.artifacts import artifact_run


def _png(color, size=(20, 14)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


COLORS = {"b.png": (0, 0, 255), "a.png": (255, 0, 0), "c/d.png": (0, 255, 0), "c/e.jpg": (250, 250, 250)}


@pytest.fixture
def image_run(store):
    return artifact_run(store, "tiny_cnn", "digits", bottleneck=8)[0]


@pytest.fixture
def text_run(store):
    return artifact_run(store, "tiny_text", "reviews")[0]


def test_images_from_a_folder_a_zip_and_one_file_agree(store, image_run, tmp_path):
    folder = tmp_path / "imgs"
    for name, color in COLORS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (20, 14), color).save(folder / name)
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as zf:
        for name in COLORS:
            zf.write(folder / name, name)
    predict_to_csv(store, image_run, str(folder), tmp_path / "f.csv", top_k=4)
    predict_to_csv(store, image_run, str(tmp_path / "imgs.zip"), tmp_path / "z.csv", top_k=4)
    predict_to_csv(store, image_run, str(folder / "b.png"), tmp_path / "one.csv")
    f, z, one = _rows(tmp_path / "f.csv"), _rows(tmp_path / "z.csv"), _rows(tmp_path / "one.csv")
    assert [r["input"] for r in f] == ["a.png", "b.png", "c/d.png", "c/e.jpg"]  # sorted member order
    assert list(f[0]) == ["input", "predicted", "probability", "top2", "top2_probability", "top3",
                          "top3_probability", "top4", "top4_probability"]
    assert [(r["predicted"], r["probability"]) for r in f] == [(r["predicted"], r["probability"]) for r in z]
    assert one[0]["input"] == "b.png" and one[0]["probability"] == f[1]["probability"]
    for r in f:
        probs = [float(r["probability"])] + [float(r[f"top{k}_probability"]) for k in (2, 3, 4)]
        assert probs == sorted(probs, reverse=True) and r["predicted"] in [str(i) for i in range(10)]


def test_predictions_match_the_model_on_the_training_preprocessing(store, image_run, tmp_path):
    from tlcore.training.batches import encode_images

    pred = Predictor.from_run(store, image_run)
    arr = np.asarray(Image.new("RGB", (20, 14), (10, 200, 30)))
    ds = encode_images([arr], [-1], 16, pred.pre["mean"], pred.pre["std"])
    import torch

    with torch.no_grad():
        ref = pred.model(ds.batch(np.array([0]), torch.device("cpu")).contiguous())[1].numpy()
    assert np.array_equal(pred.logits([arr]), ref)


def test_texts_from_tables_and_a_string_in_input_order(store, text_run, tmp_path):
    texts = ["a great kitchen knife", "", "dull book", "a great kitchen knife"]
    (tmp_path / "t.csv").write_text("id,body\n" + "\n".join(f'{i},"{t}"' for i, t in enumerate(texts)) + "\n")
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps({"review": t}) for t in texts) + "\n")
    out = predict_to_csv(store, text_run, str(tmp_path / "t.csv"), tmp_path / "a.csv", text_column="body")
    predict_to_csv(store, text_run, str(tmp_path / "t.jsonl"), tmp_path / "b.csv")
    predict_to_csv(store, text_run, "a great kitchen knife", tmp_path / "s.csv")
    a, b, s = _rows(tmp_path / "a.csv"), _rows(tmp_path / "b.csv"), _rows(tmp_path / "s.csv")
    assert out["n"] == 4 and [r["input"] for r in a] == texts and a == b
    assert a[0]["probability"] == a[3]["probability"] == s[0]["probability"]
    assert {r["predicted"] for r in a} <= {"negative", "positive"} and "top2" in a[0]


@pytest.mark.parametrize("make,match", [
    (lambda p: (p / "x.docx").write_bytes(b"PK"), "unknown input format"),
    (lambda p: (p / "bad.png").write_bytes(b"not a png"), "bad.png: cannot read this image"),
])
def test_bad_image_inputs_are_named_and_nothing_is_written(store, image_run, tmp_path, make, match):
    make(tmp_path)
    name = next(p for p in tmp_path.iterdir() if p.is_file())
    with pytest.raises(TLError, match=match):
        predict_to_csv(store, image_run, str(name), tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_one_corrupt_image_in_a_folder_fails_the_batch_naming_it(store, image_run, tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "ok.png").write_bytes(_png((1, 2, 3)))
    (tmp_path / "imgs" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(TLError, match="broken.jpg"):
        predict_to_csv(store, image_run, str(tmp_path / "imgs"), tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_text_errors_are_clear(store, text_run, image_run, tmp_path):
    (tmp_path / "t.csv").write_text("id,body\n1,hello\n")
    with pytest.raises(TLError, match="text column 'text' not found; columns: \\['id', 'body'\\]"):
        predict_to_csv(store, text_run, str(tmp_path / "t.csv"), tmp_path / "o.csv", text_column="text")
    with pytest.raises(TLError, match="missing.csv: file not found"):
        predict_to_csv(store, text_run, "missing.csv", tmp_path / "o.csv")
    with pytest.raises(TLError, match="text input but the model is a image model|a text input"):
        predict_to_csv(store, image_run, str(tmp_path / "t.csv"), tmp_path / "o.csv")
    with pytest.raises(TLError, match="image model needs an image"):
        predict_to_csv(store, image_run, "just a sentence", tmp_path / "o.csv")
    failed, _ = artifact_run(store, "tiny_text", "reviews", status="failed")
    with pytest.raises(TLError, match=f"{failed}.*failed, not completed"):
        predict_to_csv(store, failed, "hello", tmp_path / "o.csv")
    assert not (tmp_path / "o.csv").exists()


def test_cli_prints_one_json_line_and_exits_2_on_bad_input(store, text_run, tmp_path, capsys):
    from tlcore.__main__ import main

    assert main(["predict", text_run, "lovely pan", "--out", str(tmp_path / "p.csv")]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 1
    assert main(["predict", text_run, "x.tiff", "--out", str(tmp_path / "q.csv")]) == 2
    assert "x.tiff: file not found" in capsys.readouterr().err and not (tmp_path / "q.csv").exists()


def test_server_answers_in_order_and_survives_bad_requests(store, text_run, image_run):
    lines = [json.dumps({"op": "ping", "id": 1}), "not json",
             json.dumps({"op": "predict", "run_id": text_run, "text": "nice mug", "id": 2}),
             json.dumps({"op": "predict", "run_id": text_run, "text": "   ", "id": 3}),
             json.dumps({"op": "predict", "run_id": image_run, "image_b64": base64.b64encode(_png((9, 9, 9))).decode(),
                         "name": "p.png", "id": 4}),
             json.dumps({"op": "predict", "run_id": image_run, "image_b64": base64.b64encode(b"zz").decode(),
                         "name": "z.png", "id": 5}),
             json.dumps({"op": "predict", "run_id": "nope", "text": "x", "id": 6})]
    out = io.StringIO()
    serve(store, io.StringIO("\n".join(lines) + "\n"), out)
    answers = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [a.get("ok") for a in answers] == [True, False, True, False, True, False, False]
    assert answers[2]["top"][0][0] in ("negative", "positive") and answers[2]["load_ms"] > 0
    assert "type a sentence" in answers[3]["error"] and "z.png: cannot read this image" in answers[5]["error"]
    assert "'nope' not found" in answers[6]["error"]
    server = Server(store)
    server.handle({"op": "load", "run_id": text_run})
    assert server.handle({"op": "predict", "run_id": text_run, "text": "ok"})["load_ms"] == 0.0
