#!/usr/bin/env python3
"""A backend during a key rotation: asks for tokens back to back until STOP_FILE exists (at most 120 s) and
verifies each with PyJWT against a JWKS it caches for CACHE seconds (as backends do), never refetching on an
unknown kid. Prints {"tokens", "failures", "unknown_kid", "kids"} as JSON.

  rotation_verifier.py BASE CLIENT SECRET STOP_FILE CACHE
"""
import os
import base64
import json
import sys
import time
import urllib.request

import jwt

base, client, secret, stop_file, cache = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
auth = "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode()
jwks, fetched = None, 0.0
out = {"tokens": 0, "failures": 0, "unknown_kid": 0, "kids": [], "errors": []}
end = time.time() + 120
while time.time() < end and not os.path.exists(stop_file):
    if jwks is None or time.time() - fetched > cache:
        jwks = jwt.PyJWKSet.from_json(urllib.request.urlopen(base + "/.well-known/jwks.json", timeout=5).read().decode())
        fetched = time.time()
    try:
        req = urllib.request.Request(base + "/oauth/token", data=b"grant_type=client_credentials",
                                     headers={"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"})
        token = json.loads(urllib.request.urlopen(req, timeout=5).read())["access_token"]
    except Exception as e:  # a request the service failed
        out["failures"] += 1
        out["errors"].append(f"token request: {e}")
        continue
    kid = jwt.get_unverified_header(token)["kid"]
    if kid not in out["kids"]:
        out["kids"].append(kid)
    keys = {k.key_id: k for k in jwks.keys}
    if kid not in keys:
        out["unknown_kid"] += 1
        continue
    try:
        jwt.decode(token, keys[kid].key, algorithms=[keys[kid].algorithm_name], audience="https://api.example.com",
                   issuer=None, options={"verify_iss": False})
        out["tokens"] += 1
    except Exception as e:
        out["failures"] += 1
        out["errors"].append(f"verify: {e}")
out["errors"] = out["errors"][:5]
print(json.dumps(out))
