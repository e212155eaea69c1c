#!/usr/bin/env python3
"""Independent check of Transaction Tokens (draft-ietf-oauth-transaction-tokens-10) from a running
tokenservice: a gateway exchanges an access token for a Txn-Token, a workload replaces it; both are
verified with PyJWT and with joserfc against the live JWKS. Prints a JSON summary with the Txn-Token (for
the caller's call chain); exits non-zero on the first failed check.

usage: verify_txn_tokens.py BASE SECRET TRUST_DOMAIN   (clients billing, gateway and svc-a share SECRET)"""
import base64
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

base, secret, domain = sys.argv[1:4]
TXN = "urn:ietf:params:oauth:token-type:txn_token"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def check(cond, what):
    if not cond:
        print(json.dumps({"ok": False, "failed": what}))
        sys.exit(1)


def token_request(client_id, form):
    cred = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    req = urllib.request.Request(base + "/oauth/token", data=urllib.parse.urlencode(form).encode(), method="POST",
                                 headers={"Authorization": "Basic " + cred, "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


status, body = token_request("billing", {"grant_type": "client_credentials", "scope": "invoices:read invoices:write"})
check(status == 200, f"access token {status} {body}")
access_token = body["access_token"]

status, body = token_request("gateway", {
    "grant_type": EXCHANGE, "requested_token_type": TXN, "audience": domain, "scope": "invoices:read",
    "subject_token": access_token, "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
    "request_context": json.dumps({"req_ip": "69.151.72.123", "authn": "pwd"}),
    "request_details": json.dumps({"action": "BUY", "ticker": "MSFT", "quantity": "100"})})
check(status == 200, f"txn-token {status} {body}")
check(body["token_type"] == "N_A" and body["issued_token_type"] == TXN and "refresh_token" not in body, f"response {body}")
txn_token = body["access_token"]

# PyJWT: header typ, signature by the live JWKS, the trust domain as aud, every required claim.
header = jwt.get_unverified_header(txn_token)
check(header["typ"] == "txntoken+jwt", f"typ {header}")
jwks = jwt.PyJWKClient(base + "/.well-known/jwks.json")
key = jwks.get_signing_key_from_jwt(txn_token)
claims = jwt.decode(txn_token, key.key, algorithms=[header["alg"]], audience=domain, issuer=base,
                    options={"require": ["iat", "exp", "aud", "txn", "sub", "scope", "req_wl"]})
check(claims["sub"] == "billing" and claims["scope"] == "invoices:read" and claims["req_wl"] == "gateway", f"claims {claims}")
check(claims["tctx"] == {"action": "BUY", "ticker": "MSFT", "quantity": "100"}, f"tctx {claims}")
check(claims["rctx"] == {"req_ip": "69.151.72.123", "authn": "pwd"}, f"rctx {claims}")
check("cnf" not in claims and access_token not in json.dumps(claims), "no cnf, no copy of the access token")
check(0 < claims["exp"] - claims["iat"] <= 60 and abs(claims["iat"] - time.time()) < 120, f"lifetime {claims}")
# It is not an access token for the API (wrong aud), and the API's audience does not take it.
try:
    jwt.decode(txn_token, key.key, algorithms=[header["alg"]], audience="https://api.example.com")
    check(False, "a Txn-Token verified as an access token for the API")
except jwt.InvalidAudienceError:
    pass

# joserfc: the same token, the same verdict.
with urllib.request.urlopen(base + "/.well-known/jwks.json", timeout=10) as r:
    keyset = KeySet.import_key_set(json.loads(r.read()))
decoded = jose_jwt.decode(txn_token, keyset, algorithms=[header["alg"]])
check(decoded.header["typ"] == "txntoken+jwt", "joserfc typ")
jose_jwt.JWTClaimsRegistry(aud={"essential": True, "value": domain}, txn={"essential": True}, sub={"essential": True},
                           scope={"essential": True}, req_wl={"essential": True}, exp={"essential": True},
                           iat={"essential": True}).validate(decoded.claims)

# A workload replaces it: txn, sub and aud kept, scope narrowed, req_wl extended, tctx only gains.
status, body = token_request("svc-a", {
    "grant_type": EXCHANGE, "requested_token_type": TXN, "audience": domain, "scope": "invoices:read",
    "subject_token": txn_token, "subject_token_type": TXN, "request_details": json.dumps({"risk": "low"})})
check(status == 200, f"replacement {status} {body}")
replaced = jose_jwt.decode(body["access_token"], keyset, algorithms=[header["alg"]]).claims
check(replaced["txn"] == claims["txn"] and replaced["sub"] == claims["sub"] and replaced["aud"] == domain, f"kept {replaced}")
check(replaced["req_wl"] == "gateway,svc-a" and replaced["tctx"]["risk"] == "low" and replaced["tctx"]["ticker"] == "MSFT", f"{replaced}")

# Refused as the draft says: a refresh token, a wider scope.
status, body = token_request("gateway", {"grant_type": EXCHANGE, "requested_token_type": TXN, "audience": domain, "scope": "invoices:read",
                                         "subject_token": "x", "subject_token_type": "urn:ietf:params:oauth:token-type:refresh_token"})
check(status == 400 and body["error"] == "invalid_request", f"refresh token {status} {body}")
status, body = token_request("gateway", {"grant_type": EXCHANGE, "requested_token_type": TXN, "audience": domain,
                                         "scope": "invoices:read admin", "subject_token": access_token,
                                         "subject_token_type": "urn:ietf:params:oauth:token-type:access_token"})
check(status == 400 and body["error"] == "invalid_scope", f"wider scope {status} {body}")

print(json.dumps({"ok": True, "txn_token": txn_token, "access_token": access_token, "txn": claims["txn"]}))
