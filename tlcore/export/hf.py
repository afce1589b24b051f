"""Text runs as a standard Hugging Face ``BertForSequenceClassification`` folder (no custom code), so that
``transformers.pipeline("text-classification", model=DIR)`` loads it with ``trust_remote_code=False``.

TL Studio's text classifier is ``head(mean_pool(encoder(x)))`` with an attention-masked mean; BERT's
classification head reads the ``[CLS]`` token through ``tanh(dense(.))``. The export appends one encoder layer
that computes the mean exactly and carries ``head(mean)`` to the ``[CLS]`` position through the layer norms:

- attention: query = key = 0, so every token attends uniformly to the unmasked tokens; value = identity, so the
  ``[CLS]`` attention output is the masked mean ``m`` (the same mean TL Studio pools);
- attention output: ``dense = [s W; -s W; 0]`` with a bias of ``+-A`` anchors, so after the residual and
  LayerNorm the first ``C`` features are ``(s W m + h_cls) / sigma`` with ``sigma`` fixed by the anchors
  (``A >> s |W m|``); ``s`` makes the residual ``h_cls`` negligible;
- feed-forward: zero, so the second LayerNorm leaves the features unchanged;
- pooler: ``tanh`` in its linear range (inputs ~1e-5 of the logits), undone by the classifier's scale.

The construction is checked at export time: the folder is written only when the Hugging Face logits match the
TL Studio model's within ``TOLERANCE`` on sample sentences. Runs with a bottleneck (Linear+BN+ReLU) are refused:
the ReLU has no exact counterpart in BERT's head.
"""
from __future__ import annotations

import math
from pathlib import Path

from tlcore.errors import ExportError, TLError

TOLERANCE = 1e-3
S = 1e5          # scale of the signal against the residual [CLS] state
A = float(2**30)  # anchor magnitude (a power of two: exact in fp32), >> S |W m|
EPS = 1e-5       # tanh input scale (tanh(x) = x - x^3/3: relative error EPS^2 z^2 / 3)
CHECK_TEXTS = ["great product, works perfectly", "terrible. broke after two days and support never answered",
               "it is ok", "I would buy this again for my kitchen", "a slow, boring book"]


def export_hf_text(loaded, dst: Path) -> list[str]:
    """Write ``config.json``, ``model.safetensors`` (the BERT classifier) and the tokenizer into ``dst``.
    Returns the file names written."""
    from transformers import BertForSequenceClassification


    model, meta = loaded.model, loaded.meta
    enc = getattr(model.backbone, "model", None)
    if enc is None or getattr(getattr(enc, "config", None), "model_type", None) != "bert":
        raise ExportError(f"--format hf: needs a BERT-family Hugging Face backbone (e.g. minilm_l6); "
                          f"{meta['backbone']['name']!r} is not one; use onnx, torchscript or safetensors")
    if meta.get("bottleneck"):
        raise ExportError("--format hf: runs with a bottleneck (Linear+BatchNorm+ReLU before the head) have no "
                          "exact BERT classification-head equivalent; use onnx, torchscript or safetensors")
    classes = meta["classes"]
    cfg = enc.config.__class__.from_dict(enc.config.to_dict())
    cfg.num_hidden_layers = enc.config.num_hidden_layers + 1
    cfg.id2label = {i: c for i, c in enumerate(classes)}
    cfg.label2id = {c: i for i, c in enumerate(classes)}
    cfg.problem_type = "single_label_classification"
    cfg.architectures = ["BertForSequenceClassification"]
    cfg.hidden_dropout_prob = 0.0
    cfg.attention_probs_dropout_prob = 0.0
    hf = BertForSequenceClassification(cfg).eval()
    missing, unexpected = hf.bert.load_state_dict(enc.state_dict(), strict=False)
    extra_layer = f"encoder.layer.{cfg.num_hidden_layers - 1}."
    if unexpected or any(not k.startswith((extra_layer, "pooler.")) for k in missing):
        raise ExportError(f"--format hf: encoder weights do not map ({unexpected[:3]}, {missing[:3]})")
    _pooling_layer(hf, model.head.weight.detach().float(), model.head.bias.detach().float())
    _check(hf, model, model.backbone.tokenizer, int(meta["preprocessing"]["max_length"]))
    hf.save_pretrained(str(dst), safe_serialization=True)
    tok = model.backbone.tokenizer
    tok.model_max_length = int(meta["preprocessing"]["max_length"])
    tok.save_pretrained(str(dst))
    return sorted(p.name for p in dst.iterdir() if p.is_file())


def _pooling_layer(hf, w, b) -> None:
    import torch

    h = hf.config.hidden_size
    c = w.shape[0]
    if 2 * c > h:
        raise TLError(f"--format hf: {c} classes need {2 * c} hidden features, the encoder has {h}")
    layer = hf.bert.encoder.layer[-1]
    sigma = A * math.sqrt((h - 2 * c) // 2 * 2 / h)
    with torch.no_grad():
        att = layer.attention
        for lin in (att.self.query, att.self.key):
            lin.weight.zero_()
            lin.bias.zero_()
        att.self.value.weight.copy_(torch.eye(h))
        att.self.value.bias.zero_()
        dense = torch.zeros(h, h)
        dense[:c] = S * w
        dense[c:2 * c] = -S * w
        att.output.dense.weight.copy_(dense)
        anchor = torch.zeros(h)
        n = (h - 2 * c) // 2 * 2
        anchor[2 * c:2 * c + n] = torch.tensor([A, -A]).repeat(n // 2)
        att.output.dense.bias.copy_(anchor)
        for ln in (att.output.LayerNorm, layer.output.LayerNorm):
            ln.weight.fill_(1.0)
            ln.bias.zero_()
        for lin in (layer.intermediate.dense, layer.output.dense):
            lin.weight.zero_()
            lin.bias.zero_()
        pool = torch.zeros(h, h)
        pool[range(c), range(c)] = EPS * sigma / S
        hf.bert.pooler.dense.weight.copy_(pool)
        hf.bert.pooler.dense.bias.zero_()
        cls = torch.zeros(c, h)
        cls[range(c), range(c)] = 1.0 / EPS
        hf.classifier.weight.copy_(cls)
        hf.classifier.bias.copy_(b)


def _check(hf, model, tok, max_length: int) -> None:
    import torch


    enc = tok(CHECK_TEXTS, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    with torch.inference_mode():
        ours = model({"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]})[1].float()
        theirs = hf(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                    token_type_ids=enc.get("token_type_ids")).logits.float()
    diff = float((ours - theirs).abs().max())
    if not diff <= TOLERANCE:
        raise ExportError(f"--format hf: the Hugging Face model differs from the run's by {diff:.2e} in the "
                          f"logits (tolerance {TOLERANCE}); nothing written")
