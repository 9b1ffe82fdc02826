#!/usr/bin/env python3
"""One reference engine of `make bench-native`, driven over stdin/stdout (one JSON per line).

    ref_server.py --engine paddle-prod|paddle-iroff|ort --model-dir DIR --threads N

Engines (the configuration is printed by the bench from the `config` field of `load`):
  paddle-prod   paddle.inference, switch_ir_optim(True) + enable_mkldnn() (oneDNN), N math threads
  paddle-iroff  paddle.inference, switch_ir_optim(False), MKLDNN off, N math threads
  ort           onnxruntime CPUExecutionProvider on DIR/model.onnx (paddle2onnx), intra_op_num_threads
                N, inter_op_num_threads 1, sequential, graph_optimization_level ORT_ENABLE_ALL
Commands: {"cmd": "load"} -> {"config", "rssBeforeLoad", "rssAfterLoad"} (bytes of this
process); {"cmd": "prepare", "batch": B, "seq": S, "warmup": W} makes seeded inputs for batch B and runs
W times; {"cmd": "time", "batch": B, "iters": K} -> {"times": [ms...]}, run() alone (inputs already in the
engine for paddle; onnxruntime's run() takes numpy arrays, its normal call); {"cmd": "exit"}.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("FLAGS_enable_pir_api", "0")
os.environ.setdefault("GLOG_minloglevel", "3")


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Paddle:
    def __init__(self, model_dir: str, threads: int, production: bool):
        import paddle.inference as pi

        config = pi.Config(os.path.join(model_dir, "model.pdmodel"), os.path.join(model_dir, "model.pdiparams"))
        config.disable_gpu()
        config.set_cpu_math_library_num_threads(threads)
        config.disable_glog_info()
        if production:
            config.switch_ir_optim(True)
            config.enable_mkldnn()
            self.config = f"paddle.inference {pi.get_version().splitlines()[0]}: switch_ir_optim(True), enable_mkldnn(), {threads} math thread(s)"
        else:
            config.switch_ir_optim(False)
            config.disable_mkldnn()
            self.config = f"paddle.inference: switch_ir_optim(False), MKLDNN off, {threads} math thread(s)"
        self.predictor = pi.create_predictor(config)

    def prepare(self, feeds: dict) -> None:
        for name in self.predictor.get_input_names():
            h = self.predictor.get_input_handle(name)
            h.reshape(list(feeds[name].shape))
            h.copy_from_cpu(feeds[name])

    def run(self) -> None:
        self.predictor.run()


class Ort:
    def __init__(self, model_dir: str, threads: int):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), so, providers=["CPUExecutionProvider"])
        self.config = (f"onnxruntime {ort.__version__} CPUExecutionProvider: intra_op_num_threads={threads}, "
                       "inter_op_num_threads=1, sequential, ORT_ENABLE_ALL (model from paddle2onnx, opset 13)")
        self.feeds: dict = {}

    def prepare(self, feeds: dict) -> None:
        names = [i.name for i in self.session.get_inputs()]
        self.feeds = {n: feeds[n] for n in names}

    def run(self) -> None:
        self.session.run(None, self.feeds)


def make_feeds(model_dir: str, batch: int, seq: int) -> dict:
    import numpy as np

    with open(os.path.join(model_dir, "meta.json")) as f:
        meta = json.load(f)
    rng = np.random.RandomState(12345)
    feeds = {}
    for spec in meta["inputs"]:
        dims = [batch if i == 0 else (seq if d == -1 else d) for i, d in enumerate(spec["shape"])]
        if spec["dtype"] == "int64":
            feeds[spec["name"]] = rng.randint(0, 1000, size=dims).astype("int64")
        else:
            feeds[spec["name"]] = rng.normal(0.0, 1.0, dims).astype("float32")
    return feeds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", required=True, choices=["paddle-prod", "paddle-iroff", "ort"])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import numpy  # noqa: F401  (imported before the RSS baseline, like the engines' own imports)
    if args.engine == "ort":
        import onnxruntime  # noqa: F401
    else:
        import paddle.inference  # noqa: F401
    engine = None
    feeds: dict = {}
    out = sys.stdout
    for line in sys.stdin:
        msg = json.loads(line)
        cmd = msg["cmd"]
        if cmd == "load":
            before = rss()
            engine = Ort(args.model_dir, args.threads) if args.engine == "ort" else Paddle(args.model_dir, args.threads, args.engine == "paddle-prod")
            reply = {"config": engine.config, "rssBeforeLoad": before, "rssAfterLoad": rss()}
        elif cmd == "prepare":
            feeds[msg["batch"]] = make_feeds(args.model_dir, msg["batch"], msg["seq"])
            engine.prepare(feeds[msg["batch"]])
            for _ in range(msg.get("warmup", 3)):
                engine.run()
            reply = {"ok": True}
        elif cmd == "time":
            engine.prepare(feeds[msg["batch"]])
            times = []
            for _ in range(msg["iters"]):
                start = time.perf_counter()
                engine.run()
                times.append((time.perf_counter() - start) * 1000.0)
            reply = {"times": times}
        elif cmd == "exit":
            return 0
        else:
            reply = {"error": f"unknown command {cmd}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
