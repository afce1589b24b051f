"""No call into a private API of a dependency (issue 21): a release that renames a private method
(transformers 5.25 changed ``BertModel._create_attention_masks``) must not break the product. Checked on the
source of the engine, the UI helpers, the pages and the entry points: imports from private modules or of private
names of a dependency, ``._name`` attributes reached from a dependency's module, and ``getattr(obj, "_name")``."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPS = {"torch", "torchvision", "transformers", "timm", "streamlit", "skada", "sklearn", "onnx", "onnxruntime",
        "huggingface_hub", "safetensors", "pyarrow", "pandas", "numpy", "scipy", "plotly", "ray", "PIL"}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _sources():
    for sub in ("tlcore", "ui", "views"):
        yield from sorted((ROOT / sub).rglob("*.py"))
    yield ROOT / "app.py"
    yield ROOT / "serve.py"


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    aliases: set[str] = set()  # local names bound to a dependency's module (import torch.nn as nn, from torch import nn)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in DEPS:
                    aliases.add((a.asname or a.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in DEPS:
            for a in node.names:
                aliases.add(a.asname or a.name)
    out = []
    rel = path.relative_to(ROOT)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in DEPS:
            if any(_private(part) for part in node.module.split(".")) or any(_private(a.name) for a in node.names):
                out.append(f"{rel}:{node.lineno}: from {node.module} import {[a.name for a in node.names]}")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in DEPS and any(_private(p) for p in a.name.split(".")):
                    out.append(f"{rel}:{node.lineno}: import {a.name}")
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in aliases:
                out.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
              and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
              and isinstance(node.args[1].value, str) and _private(node.args[1].value)
              and not node.args[1].value.startswith("_tl_")):  # the project's own marks on objects are "_tl_*"
            out.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    return out


def test_no_private_api_of_a_dependency_is_used():
    found = [v for p in _sources() for v in _violations(p)]
    assert not found, "private API of a dependency:\n" + "\n".join(found)


def test_the_check_finds_what_broke_transformers_5_25(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom torch import nn\nfrom transformers.models.bert import _x\n"
                   "a = nn.modules.batchnorm._BatchNorm\nb = getattr(model, '_create_attention_masks', None)\n"
                   "c = torch._C\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = _violations(bad)
    finally:
        ROOT = saved
    assert len(found) == 4, found
