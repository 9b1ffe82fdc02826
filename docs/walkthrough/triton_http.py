"""Call the service with tritonclient (the standard OIP client), as any KServe/Triton user would.

Usage: python triton_http.py HOST:PORT CA_FILE SERVER_NAME TOKEN MODEL REQUEST_JSON
Connects to HOST:PORT and checks the server's certificate against CA_FILE for SERVER_NAME (the
Service's DNS name, as curl --resolve does). Prints the OIP response as JSON (compare.py reads it).
"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient

url, ca, server_name, token, model, request = sys.argv[1:7]

client = httpclient.InferenceServerClient(url, ssl=True, ssl_options={"ca_certs": ca, "server_hostname": server_name})
body = json.load(open(request))["inputs"][0]
x = httpclient.InferInput(body["name"], body["shape"], body["datatype"])
x.set_data_from_numpy(np.array(body["data"], dtype=np.float32).reshape(body["shape"]))
result = client.infer(model, [x], headers={"Authorization": f"Bearer {token}"})
out = result.get_response()["outputs"][0]
y = result.as_numpy(out["name"])
print(json.dumps({"outputs": [{"name": out["name"], "shape": list(y.shape), "data": y.flatten().tolist()}]}))
client.close()
