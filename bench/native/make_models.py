#!/usr/bin/env python3
"""Export the benchmark models with the pinned paddle and convert them to ONNX.

    make_models.py --out DIR

Writes DIR/<name>/model.pdmodel + model.pdiparams (legacy format, FLAGS_enable_pir_api=0, as
paddle.jit.save writes them; random weights, eval mode), DIR/<name>/model.onnx (paddle2onnx,
opset 13) and DIR/<name>/meta.json (inputs with -1 for dynamic dims). Models:
  resnet50, mobilenet_v2, densenet121  paddle.vision.models, input [-1, 3, 224, 224]
  bert_encoder  a BERT-style encoder built from paddle.nn: word + position + token-type
                embeddings, layer_norm, 4 x TransformerEncoderLayer (hidden 256, 4 heads,
                FFN 1024, GELU, post-norm), pooler (first token, linear + tanh);
                input int64 tokens [-1, -1]
A model whose files are already there is skipped (the caller keys DIR by this file's and the
requirements' hash).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

os.environ.setdefault("FLAGS_enable_pir_api", "0")
os.environ.setdefault("GLOG_minloglevel", "2")

MODELS = ["resnet50", "mobilenet_v2", "densenet121", "bert_encoder"]


def build(name: str):
    import paddle
    import paddle.nn as nn
    from paddle.static import InputSpec

    paddle.seed(2026)
    if name in ("resnet50", "mobilenet_v2", "densenet121"):
        layer = getattr(paddle.vision.models, name)(pretrained=False)
        spec = [InputSpec([None, 3, 224, 224], "float32", name="image")]
        inputs = [{"name": "image", "dtype": "float32", "shape": [-1, 3, 224, 224]}]
        return layer, spec, inputs

    class BertEncoder(nn.Layer):
        def __init__(self, vocab=8000, hidden=256, layers=4, heads=4, ffn=1024, max_len=512):
            super().__init__()
            self.word = nn.Embedding(vocab, hidden)
            self.pos = nn.Embedding(max_len, hidden)
            self.type = nn.Embedding(2, hidden)
            self.norm = nn.LayerNorm(hidden)
            layer = nn.TransformerEncoderLayer(hidden, heads, ffn, dropout=0.0, activation="gelu")
            self.encoder = nn.TransformerEncoder(layer, layers)
            self.pool = nn.Linear(hidden, hidden)

        def forward(self, tokens):
            seq = paddle.shape(tokens)[1]
            pos = paddle.arange(seq, dtype="int64").unsqueeze(0)
            h = self.word(tokens) + self.pos(pos) + self.type.weight[0]  # token type 0 everywhere
            h = self.encoder(self.norm(h))
            return h, paddle.tanh(self.pool(h[:, 0]))

    layer = BertEncoder()
    spec = [InputSpec([None, None], "int64", name="tokens")]
    inputs = [{"name": "tokens", "dtype": "int64", "shape": [-1, -1]}]
    return layer, spec, inputs


def export(name: str, out: str, python: str) -> None:
    import paddle

    target = os.path.join(out, name)
    if all(os.path.exists(os.path.join(target, f)) for f in ("model.pdmodel", "model.pdiparams", "model.onnx", "meta.json")):
        return
    os.makedirs(target, exist_ok=True)
    layer, spec, inputs = build(name)
    layer.eval()
    paddle.jit.save(layer, os.path.join(target, "model"), input_spec=spec)
    subprocess.run(
        [python, "-m", "paddle2onnx.command", "--model_dir", target, "--model_filename", "model.pdmodel",
         "--params_filename", "model.pdiparams", "--save_file", os.path.join(target, "model.onnx"),
         "--opset_version", "13", "--enable_onnx_checker", "True"],
        check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(target, "meta.json"), "w") as f:
        json.dump({"name": name, "inputs": inputs, "paddle": paddle.__version__}, f, indent=1)
    print(f"exported {name} -> {target}", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args(argv)
    for name in args.models.split(","):
        export(name, args.out, sys.executable)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
