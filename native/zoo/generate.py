#!/usr/bin/env python3
"""Generate the model zoo: architectures nobody here wrote, with random weights, exported by the
pinned paddlepaddle in both formats, plus Paddle Inference's outputs at batch 1 and 4.

    generate.py --out DIR [--set main|large] [--only a,b]

Writes, under DIR:
    <arch>/legacy/<prefix>.pdmodel + <prefix>.pdiparams   (FLAGS_enable_pir_api=0)
    <arch>/pir/<prefix>.json + <prefix>.pdiparams         (FLAGS_enable_pir_api=1)
    <arch>/<format>/cases.json    inputs and paddle.inference outputs, cases b1 and b4
    manifest.json                 every architecture with its status per format
where <prefix> is "model", or "inference" for the PaddleX / PaddleOCR style exports. The set:
zoo_models.py (main, the default) or zoo_large.py (the large vision constructors). Both formats
write the same parameters file; the PIR copy is made a hard link to the legacy one when the
bytes are equal (half the disk; each directory still holds its own complete model).

Paddle reads FLAGS_enable_pir_api at import, so each format runs in its own worker process
(`--worker legacy|pir`); the two run side by side. Reference predictor: CPU, IR optimisation
off, oneDNN off, 1 math thread (Paddle's own kernels, unfused: what the builtin must match).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

FORMATS = {"legacy": "0", "pir": "1"}
DTYPES = {"float32": "<f4", "int64": "<i8", "int32": "<i4"}


def encode(array) -> dict:
    import numpy as np

    dtype = str(array.dtype)
    if dtype == "bool":
        array, dtype = array.astype("int32"), "int32"
    if dtype not in DTYPES:
        raise ValueError(f"unsupported output dtype {dtype}")
    raw = np.ascontiguousarray(array, dtype=DTYPES[dtype]).tobytes()
    return {"dtype": dtype, "shape": [int(d) for d in array.shape], "data": base64.b64encode(raw).decode("ascii")}


def randomize_buffers(layer, seed: int) -> None:
    """Non-trivial batch-norm statistics (a fresh layer has mean 0, variance 1)."""
    import numpy as np
    import paddle

    rng = np.random.RandomState(seed)
    for name, buf in layer.named_buffers():
        if name.endswith("_mean"):
            buf.set_value(rng.uniform(-0.3, 0.3, buf.shape).astype("float32"))
        elif name.endswith("_variance"):
            buf.set_value(rng.uniform(0.5, 1.5, buf.shape).astype("float32"))
    # Zero-initialised biases hide bias-handling bugs: give every parameter some noise.
    with paddle.no_grad():
        for p in layer.parameters():
            if p.dtype == paddle.float32:
                p.set_value(p.numpy() + rng.normal(0, 0.02, p.shape).astype("float32"))


def reference(model_file: str, params_file: str, inputs: dict) -> tuple[list, list]:
    import paddle.inference as pi

    config = pi.Config(model_file, params_file)
    config.disable_gpu()
    config.switch_ir_optim(False)
    config.set_cpu_math_library_num_threads(1)
    config.disable_mkldnn()
    config.disable_glog_info()
    pred = pi.create_predictor(config)
    names = list(pred.get_input_names())
    if sorted(names) != sorted(inputs):
        raise ValueError(f"model inputs {names}, generator made {sorted(inputs)}")
    for n in names:
        h = pred.get_input_handle(n)
        h.reshape(list(inputs[n].shape))
        h.copy_from_cpu(inputs[n])
    pred.run()
    outs = list(pred.get_output_names())
    return outs, [pred.get_output_handle(n).copy_to_cpu() for n in outs]


def arch_set(name: str):
    import importlib

    return importlib.import_module({"main": "zoo_models", "large": "zoo_large"}[name]).ARCHS


def link_equal_params(out: str, archs) -> int:
    """Hard-links <arch>/pir/<prefix>.pdiparams to the legacy copy when the bytes are equal."""
    import filecmp

    saved = 0
    for spec in archs:
        legacy, pir = (os.path.join(out, spec.name, fmt, spec.prefix + ".pdiparams") for fmt in FORMATS)
        if os.path.exists(legacy) and os.path.exists(pir) and filecmp.cmp(legacy, pir, shallow=False):
            saved += os.path.getsize(pir)
            os.remove(pir)
            os.link(legacy, pir)
    return saved


def worker(fmt: str, out: str, only: list[str], archs) -> None:
    import numpy as np
    import paddle

    paddle.set_device("cpu")
    status = {}
    for spec in archs:
        if only and spec.name not in only:
            continue
        t0 = time.time()
        d = os.path.join(out, spec.name, fmt)
        os.makedirs(d, exist_ok=True)
        try:
            paddle.seed(spec.seed)
            np.random.seed(spec.seed)
            layer = spec.build()
            randomize_buffers(layer, spec.seed)
            layer.eval()
            prefix = os.path.join(d, spec.prefix)
            paddle.jit.save(layer, prefix, input_spec=spec.input_spec())
            model_file = prefix + (".pdmodel" if fmt == "legacy" else ".json")
            if not os.path.exists(model_file):
                raise RuntimeError(f"paddle.jit.save wrote no {os.path.basename(model_file)}")
            for junk in (".pdiparams.info",):
                if os.path.exists(prefix + junk):
                    os.remove(prefix + junk)
            cases = []
            out_names = None
            for batch in (1, 4):
                rng = np.random.RandomState(spec.seed * 10 + batch)
                inputs = spec.inputs(rng, batch)
                names, outs = reference(model_file, prefix + ".pdiparams", inputs)
                out_names = names
                cases.append({
                    "id": f"b{batch}",
                    "inputs": {k: encode(v) for k, v in inputs.items()},
                    "outputs": [encode(o) for o in outs],
                })
            with open(os.path.join(d, "cases.json"), "w") as f:
                json.dump({"arch": spec.name, "format": fmt, "outputNames": out_names, "cases": cases}, f)
            status[spec.name] = {"ok": True, "seconds": round(time.time() - t0, 2)}
        except Exception as e:  # recorded, reported by the test as a failure unless a known gap
            status[spec.name] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:2000]}
            traceback.print_exc()
        print(f"[{fmt}] {spec.name}: {'ok' if status[spec.name]['ok'] else 'FAILED'} ({time.time() - t0:.1f}s)", flush=True)
    with open(os.path.join(out, f"status-{fmt}.json"), "w") as f:
        json.dump(status, f, indent=1)


def vision_constructors() -> list[str]:
    """Every model constructor paddle.vision.models exports (the test checks each is covered)."""
    import paddle.vision.models as models

    return sorted(n for n in models.__all__ if n[0].islower())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--set", default="main", choices=["main", "large"])
    ap.add_argument("--worker", choices=sorted(FORMATS))
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s]
    os.makedirs(args.out, exist_ok=True)
    if args.worker:
        worker(args.worker, args.out, only, arch_set(args.set))
        return 0
    t0 = time.time()
    procs = []
    for fmt, flag in FORMATS.items():
        env = dict(os.environ, FLAGS_enable_pir_api=flag, OMP_NUM_THREADS="1", GLOG_minloglevel="2")
        cmd = [sys.executable, os.path.abspath(__file__), "--out", args.out, "--worker", fmt, "--set", args.set]
        if only:
            cmd += ["--only", ",".join(only)]
        procs.append((fmt, subprocess.Popen(cmd, env=env)))
    failed = [fmt for fmt, p in procs if p.wait() != 0]
    if failed:
        print(f"worker(s) {failed} crashed", file=sys.stderr)
        return 1
    archs = arch_set(args.set)
    saved = link_equal_params(args.out, archs)
    manifest = {"archs": {}, "set": args.set, "seconds": round(time.time() - t0, 1), "visionConstructors": vision_constructors()}
    for fmt in FORMATS:
        with open(os.path.join(args.out, f"status-{fmt}.json")) as f:
            for name, st in json.load(f).items():
                manifest["archs"].setdefault(name, {})[fmt] = st
    for spec in archs:
        if spec.name in manifest["archs"]:
            manifest["archs"][spec.name]["prefix"] = spec.prefix
            manifest["archs"][spec.name]["family"] = spec.family
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"zoo ({args.set}) generated in {manifest['seconds']} s: {args.out} ({saved / 1e6:.0f} MB of PIR parameters hard-linked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
