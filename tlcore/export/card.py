"""A model card (``README.md`` in the Hugging Face card format: YAML front matter + Markdown) for an export."""
from __future__ import annotations

import json
import re

SNIPPETS = {
    "onnx": """```python
import json, numpy as np, onnxruntime as ort
meta = json.load(open("model.json"))
sess = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
{feed}
logits = sess.run(["logits"], feed)[0]
print([meta["classes"][i] for i in logits.argmax(1)])
```""",
    "torchscript": """```python
import json, torch
meta = json.load(open("model.json"))
model = torch.jit.load("model.pt").eval()
{torch_inputs}
with torch.no_grad():
    logits = model(*inputs)
print([meta["classes"][i] for i in logits.argmax(1)])
```""",
    "tl": """```python
from tlcore.export.predict import Predictor   # TL Studio; loads model.json + model.safetensors, runs no code
p = Predictor.from_folder(".")
print(p.top(p.predict_proba([{sample}])))
```""",
}

TIMM_SNIPPET = """Plain torch + timm (no TL Studio), with the preprocessing from `model.json`:

```python
import json, numpy as np, timm, torch
from PIL import Image
from safetensors.torch import load_file
meta, state = json.load(open("model.json")), load_file("model.safetensors")
body = timm.create_model("{timm_name}", pretrained=False, num_classes=0)
body.load_state_dict({{k[len("backbone.model."):]: v for k, v in state.items() if k.startswith("backbone.model.")}})
head = torch.nn.Linear(state["head.weight"].shape[1], state["head.weight"].shape[0])
head.load_state_dict({{"weight": state["head.weight"], "bias": state["head.bias"]}})
{neck}pre = meta["preprocessing"]
img = Image.open("photo.jpg").convert("RGB").resize((pre["image_size"],) * 2, Image.BILINEAR)
x = torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1)[None] / 255
x = (x - torch.tensor(pre["mean"]).view(1, 3, 1, 1)) / torch.tensor(pre["std"]).view(1, 3, 1, 1)
with torch.no_grad():
    logits = head(neck(body.eval()(x)))
print(meta["classes"][int(logits.argmax())])
```"""

NECK = """neck = torch.nn.Sequential(torch.nn.Linear(state["neck.0.weight"].shape[1], state["neck.0.weight"].shape[0]),
                     torch.nn.BatchNorm1d(state["neck.0.weight"].shape[0]), torch.nn.ReLU()).eval()
neck.load_state_dict({k[len("neck."):]: v for k, v in state.items() if k.startswith("neck.")})
"""


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=&\"'])")


def md(value) -> str:
    """User text (run, domain, class and backbone names) as literal Markdown: every Markdown/HTML metacharacter
    backslash-escaped and line breaks folded, so ``<a href=...>``, ``![x](http://...)`` or a new heading stay
    plain text in the card (as ``ui.safe.md`` does on the pages)."""
    flat = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", flat)


def _fmt_metric(d: dict, key: str) -> str:
    v = d.get(key)
    if v is None:
        return "n/a"
    ci = d.get(f"{key}_ci")
    return f"{v:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and None not in ci else f"{v:.3f}"


def model_card(store, run_id: str, meta: dict, fmt: str) -> str:
    rec = store.get(run_id)
    cfg = rec.config
    m = store.metrics(run_id)
    doms = store.read_json(run_id, "domains.json", {}) or {}
    src, tgt = doms.get("source") or {}, doms.get("target") or {}
    sv, tt = m.get("source_val") or {}, m.get("target_test") or {}
    modality = meta["modality"]
    classes = meta["classes"]
    front = {"library_name": "transformers" if fmt == "hf" and modality == "text" else "pytorch",
             "pipeline_tag": "text-classification" if modality == "text" else "image-classification",
             "tags": ["tl-studio", "transfer-learning", "domain-adaptation", cfg.get("strategy", "")],
             "base_model_backbone": meta["backbone"]["name"], "metrics": ["accuracy", "f1"]}
    lines = ["---"] + [f"{k}: {json.dumps(v)}" for k, v in front.items()] + ["---", ""]
    lines += [f"# {md(rec.name or run_id)} ({md(cfg.get('strategy'))} on {md(meta['backbone']['name'])})", "",
              f"{'An image' if modality == 'image' else 'A text'} classifier trained with TL Studio (run `{run_id}`), "
              f"exported as **{fmt}**.", "",
              "## Data", "",
              f"- Source domain (labelled, training): **{md(rec.source)}** — {src.get('n', '?')} samples",
              f"- Target domain (where it is meant to be used): **{md(rec.target)}** — {tgt.get('n', '?')} samples; "
              f"labelled fraction used in training: {(cfg.get('target') or {}).get('labeled_fraction', 0)}",
              f"- Classes, in output order: {', '.join(md(c) for c in classes)}", "",
              "## Training", "",
              f"- Strategy: `{cfg.get('strategy')}` with parameters `{json.dumps(cfg.get('params') or {})}`",
              f"- Backbone: `{meta['backbone']['name']}` ({meta['backbone'].get('revision', '')}); bottleneck "
              f"{meta.get('bottleneck', 0)}; epochs {cfg.get('epochs')}, batch size {cfg.get('batch_size')}, "
              f"lr {cfg.get('lr')}, seed {cfg.get('seed')}", "",
              "## Metrics (95% bootstrap intervals)", "",
              "| split | n | accuracy | macro F1 |", "|---|---|---|---|",
              f"| source validation | {sv.get('n', '?')} | {_fmt_metric(sv, 'accuracy')} | "
              f"{_fmt_metric(sv, 'f1_macro')} |",
              f"| target test | {tt.get('n', '?')} | {_fmt_metric(tt, 'accuracy')} | {_fmt_metric(tt, 'f1_macro')} |",
              "",
              "The gap between source and target rows is the domain shift the strategy had to bridge.", "",
              "## Preprocessing", "", "```json", json.dumps(meta["preprocessing"], indent=1), "```", "",
              "## How to load", ""]
    lines += _snippets(meta, fmt)
    lines += ["", "## Intended use and limits", "",
              f"- Intended for {modality}s like the target domain **{md(rec.target)}**, with the classes above. "
              "Inputs from other distributions (other cameras, writing styles, languages, products) can fail "
              "silently: check accuracy on a labelled sample of your own data first.",
              "- The metrics come from one split and seed; the intervals cover test-sample noise only, not run-to-run "
              "variance.",
              "- Probabilities are softmax outputs and may be over-confident under shift; do not use them as "
              "calibrated risk scores without checking.",
              "- Not for decisions about people without human review."]
    return "\n".join(lines) + "\n"


def _snippets(meta: dict, fmt: str) -> list[str]:
    image = meta["modality"] == "image"
    s = int(meta["preprocessing"].get("image_size", 0) or 0)
    if image:
        feed = f'feed = {{"pixel_values": np.zeros((1, 3, {s}, {s}), np.float32)}}  # normalised as in model.json'
        torch_inputs = f"inputs = (torch.zeros(1, 3, {s}, {s}),)  # normalised as in model.json"
        sample = "numpy_rgb_uint8_image"
    else:
        feed = ('from transformers import AutoTokenizer\ntok = AutoTokenizer.from_pretrained("tokenizer")\n'
                'enc = tok(["great blender"], truncation=True, max_length=meta["preprocessing"]["max_length"], '
                'return_tensors="np")\nfeed = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}')
        torch_inputs = ('from transformers import AutoTokenizer\ntok = AutoTokenizer.from_pretrained("tokenizer")\n'
                        'enc = tok(["great blender"], return_tensors="pt")\n'
                        'inputs = (enc["input_ids"], enc["attention_mask"])')
        sample = '"great blender"'
    out = []
    if fmt == "hf" and not image:
        out += ["```python", "from transformers import pipeline",
                'clf = pipeline("text-classification", model=".", top_k=None)',
                'print(clf("great blender"))', "```", ""]
    if fmt in ("onnx", "torchscript"):
        out += [SNIPPETS[fmt].format(feed=feed, torch_inputs=torch_inputs), ""]
    if fmt == "onnx":
        out += ["`model.int8.onnx`, when present (`export --int8`), is ONNX Runtime's dynamic int8 quantization of "
                "the same graph: load it the same way; `onnx_check.json` records how far its probabilities move.", ""]
    if image and meta["backbone"].get("family") in ("embedded_effnet", "timm"):
        name = meta["backbone"]["name"]
        timm_name = "efficientnet_lite0" if name == "efficientnet_lite0" else name.split(":", 1)[-1]
        neck = NECK if meta.get("bottleneck") else "neck = torch.nn.Identity()\n"
        out += [TIMM_SNIPPET.format(timm_name=timm_name, neck=neck), ""]
    out += ["With TL Studio installed (`model.json` + `model.safetensors`):", "",
            SNIPPETS["tl"].format(sample=sample)]
    return out
