"""Compare the service's OIP answer (a file, or stdin) with the output Paddle computed.

Usage: python compare.py EXPECTED_JSON [RESPONSE_JSON]; exits 1 when they differ by more than 1e-5.
"""

import json
import sys

expected = json.load(open(sys.argv[1]))
response = json.load(open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin)
got = response["outputs"][0]
diff = max(abs(a - b) for a, b in zip(got["data"], expected["data"]))
ok = got["shape"] == expected["shape"] and len(got["data"]) == len(expected["data"]) and diff <= 1e-5
print(f"shape {got['shape']}, max abs difference from Paddle {diff:.2e}: {'ok' if ok else 'DIFFERENT'}")
sys.exit(0 if ok else 1)
