#!/usr/bin/env python3
"""DPoP proofs (RFC 9449) made by an independent library, joserfc, for the tests and the benchmark.

  dpop_proofs.py cases HTU          JSON list of {name, proof, expect: "ok" | "invalid_dpop_proof", jkt}:
                                    a valid proof per algorithm and every refusal case of the OpenID FAPI 2
                                    DPoP negative tests
  dpop_proofs.py many HTU N FILE    N valid ES256 proofs of one key (one per line) for wrk; prints the jkt
"""
import json
import sys
import time
import uuid

from joserfc import jws, jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

ALL = ["ES256", "ES384", "RS256", "PS256", "EdDSA", "HS256", "none"]


def key_for(alg):
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    if alg == "ES384":
        return ECKey.generate_key("P-384")
    if alg in ("RS256", "PS256"):
        return RSAKey.generate_key(2048)
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519")
    raise ValueError(alg)


def claims(htu, **over):
    c = {"jti": str(uuid.uuid4()), "htm": "POST", "htu": htu, "iat": int(time.time())}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def proof(key, alg, htu, header_over=None, jwk=None, **claim_over):
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": jwk if jwk is not None else key.as_dict(private=False)}
    header.update(header_over or {})
    header = {k: v for k, v in header.items() if v is not None}
    return jwt.encode(header, claims(htu, **claim_over), key, algorithms=ALL)


def cases(htu):
    out = []
    for alg in ["ES256", "ES384", "RS256", "PS256", "EdDSA"]:
        k = key_for(alg)
        out.append({"name": f"valid {alg}", "proof": proof(k, alg, htu), "expect": "ok", "jkt": k.thumbprint()})
    k = key_for("ES256")
    other = key_for("ES256")
    out.append({"name": "htu normalised (scheme case), query ignored", "proof": proof(k, "ES256", htu.replace("http://", "HTTP://") + "?x=1"),
                "expect": "ok",
                "jkt": k.thumbprint()})
    bad = lambda name, p: out.append({"name": name, "proof": p, "expect": "invalid_dpop_proof"})
    bad("wrong htm", proof(k, "ES256", htu, htm="GET"))
    bad("wrong htu", proof(k, "ES256", htu.replace("/oauth/token", "/oauth/introspect")))
    bad("htu of another host", proof(k, "ES256", htu.replace("127.0.0.1", "example.com")))
    bad("stale iat", proof(k, "ES256", htu, iat=int(time.time()) - 300))
    bad("future iat", proof(k, "ES256", htu, iat=int(time.time()) + 300))
    bad("no jti", proof(k, "ES256", htu, jti=None))
    bad("no iat", proof(k, "ES256", htu, iat=None))
    bad("ath at the token endpoint", proof(k, "ES256", htu, ath="fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"))
    bad("typ JWT", proof(k, "ES256", htu, header_over={"typ": "JWT"}))
    bad("no typ", proof(k, "ES256", htu, header_over={"typ": None}))
    bad("no jwk", proof(k, "ES256", htu, header_over={"jwk": None}))
    bad("jwk with a private part", proof(k, "ES256", htu, jwk=k.as_dict(private=True)))
    bad("signed by another key", proof(other, "ES256", htu, jwk=k.as_dict(private=False)))
    bad("alg does not fit the jwk", _resigned_header(k, htu, {"alg": "ES384"}))
    hmac = OctKey.generate_key(256)
    bad("HS256", jwt.encode({"typ": "dpop+jwt", "alg": "HS256", "jwk": hmac.as_dict(private=False)}, claims(htu), hmac, algorithms=ALL))
    bad("alg none", _unsigned(k, htu))
    bad("not a JWS", "not.a.jws")
    reused = proof(k, "ES256", htu)
    out.append({"name": "reused jti (first use)", "proof": reused, "expect": "ok", "jkt": k.thumbprint()})
    out.append({"name": "reused jti (second use)", "proof": reused, "expect": "invalid_dpop_proof"})
    return out


def _b64(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(key, htu):
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": key.as_dict(private=False)}
    return _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims(htu)).encode()) + "."


def _resigned_header(key, htu, over):
    """A valid ES256 signature under a header that claims another algorithm."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    good = jws.serialize_compact(header, json.dumps(claims(htu)).encode(), key, algorithms=ALL)
    _, payload, sig = good.split(".")
    header.update(over)
    return _b64(json.dumps(header).encode()) + "." + payload + "." + sig


def main():
    if sys.argv[1] == "cases":
        print(json.dumps(cases(sys.argv[2])))
    elif sys.argv[1] == "many":
        htu, n, path = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        k = key_for("ES256")
        with open(path, "w") as f:
            for _ in range(n):
                f.write(proof(k, "ES256", htu) + "\n")
        print(k.thumbprint())


if __name__ == "__main__":
    main()
