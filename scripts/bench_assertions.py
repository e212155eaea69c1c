#!/usr/bin/env python3
"""private_key_jwt client assertions (RFC 7523) made with PyJWT, for `make bench`.

  bench_assertions.py keygen PEM            a new P-256 key in PEM (mode 0600); prints its public JWKS (kid bench-pkj-1)
  bench_assertions.py many PEM CLIENT AUD N FILE
                                            N one-time ES256 assertions of CLIENT for AUD, one per line
"""
import json
import os
import sys
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

KID = "bench-pkj-1"

if sys.argv[1] == "keygen":
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, pem)
    os.close(fd)
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=KID, alg="ES256", use="sig")
    print(json.dumps({"keys": [jwk]}))
elif sys.argv[1] == "many":
    pem, client, aud, n, path = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
    key = serialization.load_pem_private_key(open(pem, "rb").read(), password=None)
    exp = int(time.time()) + 1800
    with open(path, "w") as out:
        for _ in range(n):
            claims = {"iss": client, "sub": client, "aud": aud, "exp": exp, "jti": uuid.uuid4().hex}
            out.write(jwt.encode(claims, key, algorithm="ES256", headers={"kid": KID}) + "\n")
