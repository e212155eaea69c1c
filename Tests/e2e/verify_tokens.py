#!/usr/bin/env python3
"""Independent check of a running tokenservice: fetch tokens over HTTP and verify them with PyJWT
against the live JWKS (and the HS256 secret for the HMAC client). Prints a JSON summary; exits
non-zero on the first failed check."""
import base64
import hashlib
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import jwt

base, billing_secret, gateway_token, hs_secret_file = sys.argv[1:5]
API = "https://api.example.com"


def post(path, body, headers):
    req = urllib.request.Request(base + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def client_credentials(client_id, secret, basic=True, **extra):
    form = {"grant_type": "client_credentials", **extra}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic:
        cred = urllib.parse.quote(client_id, safe="") + ":" + urllib.parse.quote(secret, safe="")
        headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
    else:
        form.update(client_id=client_id, client_secret=secret)
    return post("/oauth/token", urllib.parse.urlencode(form).encode(), headers)


def half_hash(value):
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def check(cond, what):
    if not cond:
        print(json.dumps({"ok": False, "failed": what}))
        sys.exit(1)


jwks = jwt.PyJWKClient(base + "/.well-known/jwks.json")
summary = {}

# 1. M2M, RS256, pipeline claim through context.
status, body = client_credentials("billing", billing_secret, scope="invoices:read")
check(status == 200, f"client_credentials status {status} {body}")
at = body["access_token"]
check(jwt.get_unverified_header(at)["typ"] == "at+jwt", "typ at+jwt")
key = jwks.get_signing_key_from_jwt(at)
claims = jwt.decode(at, key.key, algorithms=["RS256"], audience=API, issuer=base,
                    options={"require": ["exp", "iat", "sub", "jti", "client_id", "aud", "iss"]})
check(claims["sub"] == "billing" and claims["client_id"] == "billing", "sub/client_id")
check(claims["scope"] == "invoices:read", "scope")
check(claims.get("tenant") == "Billing", "pipeline tenant claim")
summary["rs256"] = claims

# 2. ES256 client verified through the JWKS too.
status, body = client_credentials("es-client", billing_secret)
check(status == 200, "es-client")
es = body["access_token"]
es_claims = jwt.decode(es, jwks.get_signing_key_from_jwt(es).key, algorithms=["ES256"], audience=API, issuer=base)
summary["es256"] = es_claims["sub"]

# 3. HS256 client (client_secret_post), verified with the shared secret.
status, body = client_credentials("hs-client", billing_secret, basic=False)
check(status == 200, "hs-client")
secret = open(hs_secret_file).read().strip()
hs_claims = jwt.decode(body["access_token"], secret, algorithms=["HS256"], audience=API, issuer=base)
summary["hs256"] = hs_claims["sub"]

# 4. Gateway mint: ID token + access token, at_hash/c_hash, nonce, pipelines.
mint = {
    "client_id": "web-app", "grant_type": "authorization_code", "scope": "openid profile email",
    "nonce": "n-0S6_WzA2Mj", "code": "SplxlOBeZQQYbYS6WxSbIA", "auth_time": 1763800000,
    "user": {"id": "6401", "username": "ada", "email": "ada@example.com", "emailVerified": True,
             "name": "Ada Lovelace", "customData": {"dept": "R&D"}},
}
status, body = post("/v1/tokens", json.dumps(mint).encode(),
                    {"Content-Type": "application/json", "Authorization": "Bearer " + gateway_token})
check(status == 200, f"mint status {status} {body}")
id_token, access = body["id_token"], body["access_token"]
id_claims = jwt.decode(id_token, jwks.get_signing_key_from_jwt(id_token).key, algorithms=["RS256"],
                       audience="web-app", issuer=base)
check(id_claims["nonce"] == "n-0S6_WzA2Mj", "nonce")
check(id_claims["at_hash"] == half_hash(access), "at_hash")
check(id_claims["c_hash"] == half_hash("SplxlOBeZQQYbYS6WxSbIA"), "c_hash")
check(id_claims["azp"] == "web-app" and id_claims["sub"] == "6401", "azp/sub")
check(id_claims["email"] == "ada@example.com" and id_claims["email_verified"] is True, "email claims")
check(id_claims.get("department") == "R&D", "pipeline department claim")
user_at = jwt.decode(access, jwks.get_signing_key_from_jwt(access).key, algorithms=["RS256"], audience=API, issuer=base)
check(user_at.get("roles") == ["reader"], "pipeline roles claim")
summary["id_token"] = id_claims

# 5. A tampered token must not verify.
head, payload, sig = at.split(".")
forged = head + "." + base64.urlsafe_b64encode(json.dumps({**claims, "sub": "admin"}).encode()).rstrip(b"=").decode() + "." + sig
try:
    jwt.decode(forged, key.key, algorithms=["RS256"], audience=API, issuer=base)
    check(False, "forged token verified")
except jwt.InvalidSignatureError:
    pass

# 6. Signed introspection (RFC 9701): a JWT of typ token-introspection+jwt, verified through the JWKS,
#    for the calling client (aud), holding the same answer as the JSON one.
cred = "billing:" + urllib.parse.quote(billing_secret, safe="")
req = urllib.request.Request(base + "/oauth/introspect", data=urllib.parse.urlencode({"token": at}).encode(), method="POST",
                             headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/token-introspection+jwt",
                                      "Authorization": "Basic " + base64.b64encode(cred.encode()).decode()})
with urllib.request.urlopen(req, timeout=10) as r:
    check(r.headers["Content-Type"] == "application/token-introspection+jwt", "introspection content type")
    signed = r.read().decode()
check(jwt.get_unverified_header(signed).get("typ") == "token-introspection+jwt", "introspection typ")
signing_key = jwks.get_signing_key_from_jwt(signed)
answer = jwt.decode(signed, signing_key.key, algorithms=[signing_key.algorithm_name], audience="billing", issuer=base,
                    options={"require": ["iat", "aud", "iss"]})
check(answer["token_introspection"]["active"] is True and answer["token_introspection"]["sub"] == "billing", "introspection answer")
try:
    jwt.decode(signed, signing_key.key, algorithms=[signing_key.algorithm_name], audience="someone-else", issuer=base)
    check(False, "introspection answer accepted for another audience")
except jwt.InvalidAudienceError:
    pass
summary["signed_introspection"] = answer["token_introspection"]["active"]

print(json.dumps({"ok": True, **summary}))
