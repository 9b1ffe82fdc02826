"""Drives the sidecar with Triton's own Python clients, as a KServe/Triton user would.

Usage: python triton_clients.py CONFIG_JSON. CONFIG_JSON names: "http" (host:port or null),
"grpc" (host:port or null), "grpc_tls" ({"ca", "cert", "key"} or null), "token", "model",
"cases" (the fixture's cases.json), "json_url" (base URL for the plain JSON path).
Prints one JSON object with every answer and comparison; the mocha test asserts on it.
Every inference is compared element for element (np.array_equal) with the sidecar's JSON path
(a raw urllib POST of OIP JSON), and with the outputs real Paddle produced (max abs diff).
"""

import json
import sys

import numpy as np

from oip_reference import OIP, decode, json_path as reference_json_path


def json_path(cfg, name, arrays):
    """The sidecar's plain OIP JSON path, without any client library."""
    return reference_json_path(cfg["json_url"], name, cfg["token"], arrays)


def error_text(fn):
    try:
        fn()
    except Exception as e:  # the clients raise InferenceServerException
        return str(e)
    return None


def run_client(kind, mod, client, cfg, cases, out):
    model = cfg["model"]
    key = "authorization" if kind == "grpc" else "Authorization"

    def auth(token):
        # A new dict per call: tritonclient.http writes Inference-Header-Content-Length into it.
        return {key: f"Bearer {token}"}

    r = out.setdefault(kind, {})
    r["live"] = client.is_server_live()
    r["ready"] = client.is_server_ready()
    r["model_ready"] = client.is_model_ready(model)
    meta = client.get_server_metadata(**({"as_json": True} if kind == "grpc" else {}))
    r["server_metadata"] = meta
    r["model_metadata"] = client.get_model_metadata(model, **({"as_json": True} if kind == "grpc" else {}))
    r["model_config"] = client.get_model_config(model, **({"as_json": True} if kind == "grpc" else {}))
    modes = [True, False] if kind == "http" else [None]
    r["cases"] = []
    for case in cases:
        arrays = {k: decode(v) for k, v in case["inputs"].items()}
        expected = {o["name"]: decode(o) for o in case["outputs"]["legacy"]}
        via_json = json_path(cfg, model, arrays)
        for binary in modes:
            inputs = []
            for k, v in arrays.items():
                i = mod.InferInput(k, list(v.shape), OIP[str(v.dtype)])
                if binary is None:
                    i.set_data_from_numpy(v)
                else:
                    i.set_data_from_numpy(v, binary_data=binary)
                inputs.append(i)
            outs = [mod.InferRequestedOutput(n, **({} if binary is None else {"binary_data": binary})) for n in expected]
            res = client.infer(model, inputs, outputs=outs, headers=auth(cfg['token']), request_id=f"{case['id']}-{binary}")
            for n, e in expected.items():
                got = res.as_numpy(n)
                r["cases"].append({
                    "case": case["id"], "binary": binary, "output": n, "shape": list(got.shape),
                    "equal_to_json_path": bool(np.array_equal(got, via_json[n])),
                    "dtype": str(got.dtype),
                    "max_abs_diff_paddle": float(np.max(np.abs(got.astype(np.float64) - e.astype(np.float64)))),
                    "id": res.get_response(as_json=True)["id"] if kind == "grpc" else res.get_response()["id"],
                })
    # FP16 input for an FP32 model input: exact widening, so it equals the JSON path on the rounded values.
    case = cases[0]
    name, v = next(iter({k: decode(t) for k, t in case["inputs"].items()}.items()))
    if v.dtype == np.float32:
        half = v.astype(np.float16)
        i = mod.InferInput(name, list(half.shape), "FP16")
        i.set_data_from_numpy(half)
        res = client.infer(model, [i], headers=auth(cfg['token']))
        outname = case["outputs"]["legacy"][0]["name"]
        r["fp16_equal_to_json_path"] = bool(np.array_equal(res.as_numpy(outname), json_path(cfg, model, {name: half.astype(np.float32)})[outname]))
        # BYTES is refused with a message naming the problem.
        b = mod.InferInput(name, list(v.shape), "BYTES")
        b.set_data_from_numpy(np.array([b"a"] * v.size, dtype=np.object_).reshape(v.shape))
        r["bytes_error"] = error_text(lambda: client.infer(model, [b], headers=auth(cfg['token'])))
    # Refused calls: no token, a token without the inference scope.
    i = mod.InferInput(name, list(v.shape), OIP[str(v.dtype)])
    i.set_data_from_numpy(v)
    r["no_token_error"] = error_text(lambda: client.infer(model, [i]))
    r["wrong_scope_error"] = error_text(lambda: client.infer(model, [i], headers=auth(cfg["wrong_scope_token"])))
    r["unknown_model_error"] = error_text(lambda: client.get_model_metadata("nope"))


def main():
    cfg = json.load(open(sys.argv[1]))
    cases = json.load(open(cfg["cases"]))["cases"][: cfg.get("max_cases", 3)]
    out = {}
    if cfg.get("http"):
        import tritonclient.http as th
        client = th.InferenceServerClient(cfg["http"])
        run_client("http", th, client, cfg, cases, out)
        client.close()
    if cfg.get("grpc"):
        import tritonclient.grpc as tg
        tls = cfg.get("grpc_tls")
        if tls:
            client = tg.InferenceServerClient(cfg["grpc"], ssl=True, root_certificates=tls["ca"], private_key=tls.get("key"),
                                              certificate_chain=tls.get("cert"))
        else:
            client = tg.InferenceServerClient(cfg["grpc"])
        run_client("grpc", tg, client, cfg, cases, out)
        client.close()
        # Clients the server must refuse at the handshake (mutual TLS): no certificate, one from another CA.
        for refused in cfg.get("grpc_refused", []):
            c = tg.InferenceServerClient(cfg["grpc"], ssl=True, root_certificates=tls["ca"], private_key=refused.get("key"),
                                         certificate_chain=refused.get("cert"))
            out["grpc"].setdefault("refused", {})[refused["name"]] = error_text(lambda: c.is_server_live(client_timeout=10))
            c.close()
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
