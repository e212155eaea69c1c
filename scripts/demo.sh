#!/usr/bin/env bash
# Prints curl lines that work against `make run` (config/dev.json).
cat <<'TXT'

tokenservice is starting on http://127.0.0.1:8080 (config/dev.json). Try:

  # M2M access token (client_credentials, client_secret_basic, RS256)
  curl -s -u billing:billing-secret-0123456789abcdef0123 -d grant_type=client_credentials \
       -d scope=invoices:read http://127.0.0.1:8080/oauth/token

  # verify it against the live JWKS
  TOKEN=$(curl -s -u billing:billing-secret-0123456789abcdef0123 -d grant_type=client_credentials \
       http://127.0.0.1:8080/oauth/token | python3 -c 'import json,sys;print(json.load(sys.stdin)["access_token"])')
  .build/debug/tokenservice verify --jwks http://127.0.0.1:8080/.well-known/jwks.json \
       --issuer http://127.0.0.1:8080 --audience https://api.example.com "$TOKEN"

  # ID token + access token for a user, as the auth gateway asks for them
  curl -s -H 'Authorization: Bearer dev-gateway-token-0123456789' -H 'Content-Type: application/json' \
       -d '{"client_id":"web-app","grant_type":"authorization_code","scope":"openid profile email","nonce":"n-1",
            "user":{"id":"u-1","username":"ada","email":"ada@example.com","emailVerified":true,"name":"Ada Lovelace",
                    "customData":{"dept":"R&D"}}}' http://127.0.0.1:8080/v1/tokens

  # the ID token's async notifier (config/pipelines/notify-slack.js) posts to an allow-listed webhook:
  # run a sink on :9000, mint an ID token as above, then see what it received
  python3 Tests/e2e/webhook_sink.py --port 9000 &
  curl -s http://127.0.0.1:9000/received
  .build/debug/tokenservice pipeline test --config config/dev.json --trigger pre_id_token --user <(echo '{"id":"u-1","username":"ada","email":"ada@example.com"}')

  # a Transaction Token for the trust domain: the API gateway exchanges the inbound access token
  curl -s -u api-gateway:gateway-secret-0123456789abcdef01234 \
       -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \
       -d requested_token_type=urn:ietf:params:oauth:token-type:txn_token -d audience=trust.example.com \
       -d scope=invoices:read -d subject_token="$TOKEN" -d subject_token_type=urn:ietf:params:oauth:token-type:access_token \
       --data-urlencode 'request_context={"req_ip":"203.0.113.7","authn":"mfa"}' \
       --data-urlencode 'request_details={"action":"export","invoice":"INV-42"}' http://127.0.0.1:8080/oauth/token

  curl -s http://127.0.0.1:8080/.well-known/openid-configuration
  curl -s http://127.0.0.1:8080/.well-known/jwks.json

TXT
