#!/usr/bin/env python3
"""A platform token issuer on loopback, for workload identity tests: what a Kubernetes API server's
service-account issuer and a SPIFFE bundle endpoint publish, and tokens minted with PyJWT the way the
platform mints them (the kubelet's TokenRequest, SPIRE's JWT-SVIDs).

Prints its port on the first line of stdout, then serves until stdin closes (or forever with --port N, as
`make bench` runs it). Issuers live under a path,
so one server is several issuers: BASE/k8s, BASE/strict, ... (as EKS/GKE issuer URLs carry a path).
  GET  /<name>/.well-known/openid-configuration   discovery: issuer BASE/<name>, jwks_uri BASE/<name>/jwks
  GET  /<name>/jwks                               the issuer's JWKS (Cache-Control: max-age=<max_age>);
                                                  503 while the issuer is down
  GET  /<name>/bundle                             the same keys as a SPIFFE bundle (use jwt-svid, spiffe_sequence)
  POST /<name>/mint   {"claims": {...}, "headers": {...}, "key": "current"|"stranger", "alg": "RS256"|"ES256"|"none"|"HS256-with-public-key"}
                      → {"token": ...}; claims default to iss BASE/<name>, iat now, exp now+600
  POST /<name>/rotate {"keep_old": true}          a new current key (the old one stays published unless keep_old is false)
  POST /<name>/state  {"down": bool, "max_age": N}
  GET  /<name>/fetches                            {"jwks": N}: how often the JWKS or bundle was fetched
"""
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

lock = threading.Lock()
issuers = {}
stranger = ec.generate_private_key(ec.SECP256R1())


def new_key(alg):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048) if alg == "RS256" else ec.generate_private_key(ec.SECP256R1())
    return {"kid": uuid.uuid4().hex[:16], "alg": alg, "private": private}


def public_jwk(key):
    jwk = json.loads(jwt.algorithms.get_default_algorithms()[key["alg"]].to_jwk(key["private"].public_key()))
    jwk.update(kid=key["kid"], alg=key["alg"], use="sig")
    return jwk


def issuer(name):
    with lock:
        if name not in issuers:
            issuers[name] = {"keys": [new_key("RS256")], "down": False, "max_age": 300, "fetches": 0}
        return issuers[name]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, extra=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def base(self):
        return "http://%s:%d" % self.server.server_address

    def route(self):
        parts = self.path.split("?")[0].strip("/").split("/", 1)
        return (parts[0], parts[1] if len(parts) > 1 else "")

    def do_GET(self):
        name, rest = self.route()
        iss = issuer(name)
        url = self.base() + "/" + name
        if rest == ".well-known/openid-configuration":
            return self.reply(200, {"issuer": url, "jwks_uri": url + "/jwks", "response_types_supported": ["id_token"],
                                    "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256", "ES256"]})
        if rest in ("jwks", "bundle"):
            with lock:
                iss["fetches"] += 1
                down, age, keys = iss["down"], iss["max_age"], [public_jwk(k) for k in iss["keys"]]
            if down:
                return self.reply(503, {"error": "unavailable"})
            if rest == "bundle":
                for k in keys:
                    k["use"] = "jwt-svid"
                return self.reply(200, {"keys": keys, "spiffe_sequence": 1, "spiffe_refresh_hint": age},
                                  {"Cache-Control": "max-age=%d" % age})
            return self.reply(200, {"keys": keys}, {"Cache-Control": "max-age=%d" % age})
        if rest == "fetches":
            with lock:
                return self.reply(200, {"jwks": iss["fetches"]})
        return self.reply(404, {"error": "not found"})

    def do_POST(self):
        name, rest = self.route()
        iss = issuer(name)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if rest == "mint":
            now = int(time.time())
            claims = {"iss": self.base() + "/" + name, "iat": now, "nbf": now, "exp": now + 600}
            claims.update(body.get("claims", {}))
            claims = {k: v for k, v in claims.items() if v is not None}
            with lock:
                key = iss["keys"][-1]
            headers = {"kid": key["kid"]}
            headers.update(body.get("headers", {}))
            headers = {k: v for k, v in headers.items() if v is not None}
            alg = body.get("alg", key["alg"])
            if body.get("key") == "stranger":
                token = jwt.encode(claims, stranger, algorithm="ES256", headers=headers)
            elif alg == "none":
                token = jwt.encode(claims, None, algorithm="none", headers=headers)
            elif alg == "HS256-with-public-key":
                public_pem = key["private"].public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
                token = hs256_with(public_pem, claims, headers)
            else:
                token = jwt.encode(claims, key["private"], algorithm=key["alg"], headers=headers)
            return self.reply(200, {"token": token})
        if rest == "rotate":
            with lock:
                key = new_key(body.get("alg", "ES256"))
                iss["keys"] = (iss["keys"] if body.get("keep_old", True) else []) + [key]
            return self.reply(200, {"kid": key["kid"]})
        if rest == "state":
            with lock:
                if "down" in body:
                    iss["down"] = bool(body["down"])
                if "max_age" in body:
                    iss["max_age"] = int(body["max_age"])
            return self.reply(200, {"ok": True})
        return self.reply(404, {"error": "not found"})


def hs256_with(secret, claims, headers):
    """An HS256 token keyed with the issuer's public key (the algorithm-confusion attack); PyJWT refuses to
    do this itself, so the JWS is assembled by hand."""
    import base64
    import hashlib
    import hmac

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    header = dict(headers, alg="HS256", typ="JWT")
    signing_input = b64(json.dumps(header).encode()) + b"." + b64(json.dumps(claims).encode())
    return (signing_input + b"." + b64(hmac.new(secret, signing_input, hashlib.sha256).digest())).decode()


def main():
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    if port:
        server.serve_forever()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # the test closes stdin (or dies): stop with it


if __name__ == "__main__":
    main()
