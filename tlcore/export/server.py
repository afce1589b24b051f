"""``python -m tlcore predict-server``: a long-lived prediction process for the dashboard.

One JSON request per stdin line, one JSON answer per stdout line, in order. Models load on first use and stay
loaded (least recently used evicted beyond ``MAX_MODELS``), so after the first request for a run an answer is a
forward pass plus preprocessing. The process ends when stdin closes (its parent, the dashboard, went away).

Requests: ``{"op": "ping"}``, ``{"op": "load", "run_id"}``, ``{"op": "predict", "run_id", "text" | "image_b64",
"name", "top_k"}``. Answers: ``{"ok": true, ...}`` or ``{"ok": false, "error": "message naming the input"}``.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import sys
import time
from collections import OrderedDict

from tlcore.errors import TLError

MAX_MODELS = 4


class Server:
    def __init__(self, store):
        self.store = store
        self.models: OrderedDict = OrderedDict()

    def predictor(self, run_id: str):
        from tlcore.export.predict import Predictor

        if run_id in self.models:
            self.models.move_to_end(run_id)
            return self.models[run_id], 0.0
        t = time.perf_counter()
        pred = Predictor.from_run(self.store, run_id)
        self.models[run_id] = pred
        while len(self.models) > MAX_MODELS:
            self.models.popitem(last=False)
        return pred, (time.perf_counter() - t) * 1000

    def handle(self, req: dict) -> dict:
        op = req.get("op")
        if op == "ping":
            return {"ok": True, "pid": os.getpid()}
        run_id = str(req.get("run_id") or "")
        if op == "load":
            pred, load_ms = self.predictor(run_id)
            return {"ok": True, "run_id": run_id, "modality": pred.modality, "classes": pred.classes,
                    "load_ms": round(load_ms, 1)}
        if op != "predict":
            return {"ok": False, "error": f"unknown op {op!r}"}
        pred, load_ms = self.predictor(run_id)
        t = time.perf_counter()
        sample = self._sample(pred, req)
        probs = pred.predict_proba([sample], batch_size=1)
        top = pred.top(probs, int(req.get("top_k") or 3))[0]
        return {"ok": True, "run_id": run_id, "top": top, "load_ms": round(load_ms, 1),
                "ms": round((time.perf_counter() - t) * 1000, 1)}

    @staticmethod
    def _sample(pred, req):
        from tlcore.export.inputs import decode_bytes

        name = str(req.get("name") or "input")
        if pred.modality == "text":
            text = req.get("text")
            if not isinstance(text, str) or not text.strip():
                raise TLError("type a sentence: this run is a text model")
            return text
        b64 = req.get("image_b64")
        if not isinstance(b64, str):
            raise TLError("drop an image: this run is an image model")
        try:
            data = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise TLError(f"{name}: the upload is not valid base64") from None
        return decode_bytes(data, name, int(pred.pre.get("decode_max_side", 256)))


def serve(store, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    sys.stdout = sys.stderr  # library chatter must never corrupt the answer stream
    server = Server(store)
    for line in stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            ans = server.handle(req if isinstance(req, dict) else {})
        except TLError as exc:
            ans = {"ok": False, "error": str(exc)}
        except json.JSONDecodeError:
            ans = {"ok": False, "error": "bad request (not JSON)"}
        except Exception as exc:  # noqa: BLE001 - the server must survive one bad request
            ans = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        if isinstance(req, dict) and "id" in req:
            ans["id"] = req["id"]
        out.write(json.dumps(ans) + "\n")
        out.flush()
    return 0
