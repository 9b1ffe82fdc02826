"""Drives the sidecar with KServe's own Python SDK clients (kserve.InferenceRESTClient, OIP v2 over
httpx, and kserve.InferenceGRPCClient over grpc.aio), as a KServe user would.

Usage: python kserve_clients.py CONFIG_JSON. CONFIG_JSON names: "rest" (base URL or null), "grpc"
(host:port or null), "tls" ({"ca", "cert", "key"}: mutual TLS for both, or null), "token",
"wrong_scope_token", "model", "cases" (the fixture's cases.json), "max_cases".
Prints one JSON object with every answer and comparison; the node test asserts on it. Every
inference is compared element for element with the sidecar's plain JSON path (a urllib POST of
OIP JSON, no client library) and with the outputs real Paddle produced (max abs diff).
"""

import asyncio
import json
import ssl
import sys

import numpy as np
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput

from oip_reference import OIP, decode, json_path


def tls_context(tls):
    ctx = ssl.create_default_context(cafile=tls["ca"])
    ctx.load_cert_chain(tls["cert"], tls["key"])
    return ctx


def plain_json(cfg, arrays):
    """The sidecar's OIP JSON path with the standard library only: the reference each client must equal."""
    return json_path(cfg["rest"], cfg["model"], cfg["token"], arrays, tls_context(cfg["tls"]) if cfg.get("tls") else None)


async def error_text(coro):
    try:
        await coro
    except Exception as e:  # httpx.HTTPStatusError, grpc.aio.AioRpcError, ...
        return f"{type(e).__name__}: {e}"
    return None


def request(cfg, arrays, expected, binary, request_id):
    inputs = []
    for k, v in arrays.items():
        i = InferInput(k, list(v.shape), OIP[str(v.dtype)])
        if binary is None:
            i.set_data_from_numpy(v)
        else:
            i.set_data_from_numpy(v, binary_data=binary)
        inputs.append(i)
    outputs = None if binary is None else [RequestedOutput(n, parameters={"binary_data": binary}) for n in expected]
    return InferRequest(model_name=cfg["model"], infer_inputs=inputs, request_id=request_id, request_outputs=outputs)


async def run(kind, cfg, cases, out):
    """kind "rest" or "grpc": health, every case (binary on and off for REST), refusals."""
    model = cfg["model"]
    tls = cfg.get("tls")
    if kind == "rest":
        # The client certificate goes in through an SSLContext: RESTConfig's `cert` never reaches
        # the httpx client it builds (kserve 0.21), `verify` does.
        conf = RESTConfig(protocol="v2", verify=tls_context(tls) if tls else True, retries=0)
        client = InferenceRESTClient(conf)
        base = cfg["rest"]

        async def infer(req, token):
            return await client.infer(base, req, model_name=model, headers={"Authorization": f"Bearer {token}"} if token else None)

        health = [client.is_server_live(base), client.is_server_ready(base), client.is_model_ready(base, model)]
        modes = [True, False]
    else:
        client = (InferenceGRPCClient(cfg["grpc"], use_ssl=True, root_certificates=tls["ca"], private_key=tls["key"], certificate_chain=tls["cert"], retries=0)
                  if tls else InferenceGRPCClient(cfg["grpc"], retries=0))

        async def infer(req, token):
            return await client.infer(req, headers=[("authorization", f"Bearer {token}")] if token else None)

        health = [client.is_server_live(), client.is_server_ready(), client.is_model_ready(model)]
        modes = [None]
    r = out.setdefault(kind, {})
    r["live"], r["ready"], r["model_ready"] = [await h for h in health]
    r["cases"] = []
    for case in cases:
        arrays = {k: decode(v) for k, v in case["inputs"].items()}
        expected = {o["name"]: decode(o) for o in case["outputs"]["legacy"]}
        reference = plain_json(cfg, arrays)
        for binary in modes:
            rid = f"{case['id']}-{binary}"
            res = await infer(request(cfg, arrays, expected, binary, rid), cfg["token"])
            for name, want in expected.items():
                got = res.get_output_by_name(name).as_numpy()
                r["cases"].append({
                    "case": case["id"], "binary": binary, "output": name, "shape": list(got.shape), "dtype": str(got.dtype),
                    "equal_to_json_path": bool(np.array_equal(got, reference[name])),
                    "max_abs_diff_paddle": float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))),
                    "id": res.id, "sent_id": rid,
                })
    case = cases[0]
    arrays = {k: decode(v) for k, v in case["inputs"].items()}
    expected = {o["name"]: decode(o) for o in case["outputs"]["legacy"]}
    r["no_token_error"] = await error_text(infer(request(cfg, arrays, expected, None, "no-token"), None))
    r["wrong_scope_error"] = await error_text(infer(request(cfg, arrays, expected, None, "wrong-scope"), cfg["wrong_scope_token"]))
    await client.close()
    if kind == "rest" and tls:
        # A client without a certificate is refused at the handshake.
        bare = InferenceRESTClient(RESTConfig(protocol="v2", verify=ssl.create_default_context(cafile=tls["ca"]), retries=0))
        r["no_certificate_error"] = await error_text(bare.is_server_live(base))
        await bare.close()
    if kind == "grpc" and tls:
        bare = InferenceGRPCClient(cfg["grpc"], use_ssl=True, root_certificates=tls["ca"], retries=0, timeout=10)
        r["no_certificate_error"] = await error_text(bare.is_server_live())
        await bare.close()


async def main():
    cfg = json.load(open(sys.argv[1]))
    cases = json.load(open(cfg["cases"]))["cases"][: cfg.get("max_cases", 3)]
    out = {}
    for kind in ("rest", "grpc"):
        if cfg.get(kind):
            await run(kind, cfg, cases, out)
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    asyncio.run(main())
