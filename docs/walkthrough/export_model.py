"""Export a small classifier with paddle.jit.save, the way a training job hands over a model.

Usage: python export_model.py OUT_DIR
Writes OUT_DIR/model/{model.json, model.pdiparams} (Paddle 3's PIR program and its parameters)
and OUT_DIR/request.json + OUT_DIR/expected.json: one OIP request and the output Paddle itself
computes for it, so the answer the service gives can be checked against Paddle's.
"""

import json
import os
import sys

import numpy as np
import paddle


class Classifier(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.hidden = paddle.nn.Linear(8, 16)
        self.out = paddle.nn.Linear(16, 3)

    def forward(self, x):
        return paddle.nn.functional.softmax(self.out(paddle.nn.functional.relu(self.hidden(x))), axis=-1)


def main():
    out = sys.argv[1]
    paddle.seed(7)
    layer = Classifier()
    layer.eval()
    spec = [paddle.static.InputSpec(shape=[None, 8], dtype="float32", name="x")]
    paddle.jit.save(layer, os.path.join(out, "model", "model"), input_spec=spec)

    x = np.random.default_rng(7).standard_normal((2, 8)).astype(np.float32)
    y = layer(paddle.to_tensor(x)).numpy()
    with open(os.path.join(out, "request.json"), "w") as f:
        json.dump({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 8], "data": x.flatten().tolist()}]}, f)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"shape": list(y.shape), "data": y.flatten().tolist()}, f)
    print("exported", sorted(os.listdir(os.path.join(out, "model"))))


if __name__ == "__main__":
    main()
