"""What both client scripts (triton_clients.py, kserve_clients.py) compare against: the fixture's
tensors decoded from cases.json, and the sidecar's plain OIP JSON path called with the standard
library only (no client library), so a client's answer can be held to it element for element."""

import base64
import json
import urllib.request

import numpy as np

NP = {"float32": np.float32, "int32": np.int32, "int64": np.int64}
OIP = {"float32": "FP32", "int32": "INT32", "int64": "INT64"}


def decode(t):
    """A tensor of cases.json ({"dtype", "shape", "data": base64}) as a numpy array."""
    return np.frombuffer(base64.b64decode(t["data"]), dtype=NP[t["dtype"]]).reshape(t["shape"])


def json_path(base_url, model, token, arrays, context=None):
    """POST /v2/models/{model}/infer as OIP JSON; the outputs by name. `context`: an ssl.SSLContext for HTTPS."""
    body = {"inputs": [{"name": k, "shape": list(v.shape), "datatype": OIP[str(v.dtype)], "data": v.flatten().tolist()} for k, v in arrays.items()]}
    req = urllib.request.Request(f"{base_url}/v2/models/{model}/infer", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, context=context) as r:
        out = json.loads(r.read())
    return {o["name"]: np.array(o["data"], dtype=np.float32 if o["datatype"] == "FP32" else np.int64).reshape(o["shape"]) for o in out["outputs"]}
