#!/usr/bin/env bash
# make soak: a few minutes of load on two replicas sharing one Redis, behind nginx (as a balancer would
# put them: nginx adds X-Forwarded-For, the replicas list it in listen.trusted_proxies), while keys rotate
# next → active → retiring by SIGHUP, one replica restarts, and Redis bounces.
# Reports requests, failures, p99 and RSS at start and end; appends the result to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/tokenservice}
SECS=${SOAK_SECONDS:-180}
OUT=${SOAK_OUT:-soak-out}
BASE_PORT=${SOAK_PORT:-18580}
A=$BASE_PORT; B=$((BASE_PORT + 1)); LB=$((BASE_PORT + 2)); REDIS=$((BASE_PORT + 3))
rm -rf "$OUT"; mkdir -p "$OUT/keys" "$OUT/pipelines" "$OUT/raw"
SECRET=soak-secret-0123456789abcdef0123456789
GATEWAY=soak-gateway-token-0123456789
for spec in RS256:rs-1.pem RS256:rs-2.pem HS256:hs.key; do "$BIN" keys generate --alg "${spec%%:*}" --out "$OUT/keys/${spec#*:}" >/dev/null; done
cat > "$OUT/pipelines/tenant.js" <<'JS'
async function pipe(user, context, callback) {
  if (user) user.addAccessToken('roles', (user.customData && user.customData.roles) || ['member']);
  else context.addAccessToken('tenant', context.clientId);
  callback(null, user, context);
}
JS
config() { # $1 keys json, $2 signing kid
cat > "$OUT/config.json" <<JSON
{
  "issuer": "http://127.0.0.1:$LB",
  "listen": {"host": "127.0.0.1", "port": $A, "trusted_proxies": ["127.0.0.1/32"]},
  "keys": $1,
  "signing_key": "$2",
  "gateways": [{"name": "soak", "token": "$GATEWAY"}],
  "clients": [
    {"client_id": "soak-rs", "client_secret": "$SECRET", "grant_types": ["client_credentials"], "scopes": ["api:read"], "audiences": ["https://api.example.com"]},
    {"client_id": "soak-hs", "client_secret": "$SECRET", "grant_types": ["client_credentials"], "scopes": ["api:read"], "audiences": ["https://api.example.com"], "signing_key": "hs"},
    {"client_id": "web", "client_secret": "$SECRET", "grant_types": ["authorization_code"], "scopes": ["openid", "profile"], "audiences": ["https://api.example.com"]}
  ],
  "shared_state": {"redis": {"url": "redis://127.0.0.1:$REDIS/0", "prefix": "soak:"}},
  "pipelines": {"pre_access_token": [{"name": "tenant", "file": "pipelines/tenant.js"}]}
}
JSON
}
HS='{"kid": "hs", "alg": "HS256", "secret": {"file": "keys/hs.key"}}'
config "[{\"kid\": \"rs-1\", \"alg\": \"RS256\", \"private_key_file\": \"keys/rs-1.pem\"}, $HS]" rs-1

redis_up() { redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no --loglevel warning > "$OUT/raw/redis.log" 2>&1 & REDIS_PID=$!; sleep 0.3; }
declare -A PIDS
serve() { "$BIN" serve --config "$OUT/config.json" --port "$1" > "$OUT/raw/replica-$1.log" 2>&1 & PIDS[$1]=$!; }
wait_up() { for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return 0; sleep 0.05; done; echo "replica $1 did not start" >&2; exit 1; }
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
cat > "$OUT/nginx.conf" <<NGINX
worker_processes 1;
pid $PWD/$OUT/nginx.pid;
error_log $PWD/$OUT/raw/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream replicas { server 127.0.0.1:$A max_fails=0; server 127.0.0.1:$B max_fails=0; keepalive 64; }
  server {
    listen 127.0.0.1:$LB;
    location / {
      proxy_pass http://replicas; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_next_upstream error timeout http_502 non_idempotent; proxy_next_upstream_tries 2;
    }
  }
}
NGINX
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; kill "${REDIS_PID:-0}" 2>/dev/null || true
            nginx -c "$PWD/$OUT/nginx.conf" -s stop 2>/dev/null || true; }
trap cleanup EXIT
redis_up
serve "$A"; serve "$B"; wait_up "$A"; wait_up "$B"
nginx -c "$PWD/$OUT/nginx.conf"
echo "rss_start $(rss_kb "${PIDS[$A]}") $(rss_kb "${PIDS[$B]}")" > "$OUT/raw/rss.txt"

lua() { # $1 file, $2 content type, $3 authorization, $4 body
  printf 'wrk.method = "POST"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = "%s"\nwrk.headers["Authorization"] = "%s"\n' "$4" "$2" "$3" > "$1"; }
cc() { lua "$OUT/$1.lua" application/x-www-form-urlencoded "Basic $(printf '%s:%s' "$1" "$SECRET" | base64 -w0)" "grant_type=client_credentials"; }
cc soak-rs; cc soak-hs
lua "$OUT/mint.lua" application/json "Bearer $GATEWAY" '{"client_id":"web","grant_type":"authorization_code","scope":"openid profile","user":{"id":"u-1","username":"ada","customData":{"roles":["admin"]}}}'
U="http://127.0.0.1:$LB"
WRK_PIDS=()
for run in soak-rs soak-hs mint; do
  wrk -t1 -c8 -d"${SECS}s" --latency -s "$OUT/$run.lua" "$U/$([ $run = mint ] && echo v1/tokens || echo oauth/token)" > "$OUT/raw/$run.txt" &
  WRK_PIDS+=($!)
done

events() {
  local step=$((SECS / 6))
  sleep "$step"; echo "$(date +%T) publish rs-2 as next" >> "$OUT/raw/events.txt"
  config "[{\"kid\": \"rs-1\", \"alg\": \"RS256\", \"private_key_file\": \"keys/rs-1.pem\"}, {\"kid\": \"rs-2\", \"alg\": \"RS256\", \"private_key_file\": \"keys/rs-2.pem\", \"status\": \"next\"}, $HS]" rs-1
  kill -HUP "${PIDS[$A]}" "${PIDS[$B]}"
  sleep "$step"; echo "$(date +%T) rs-2 signs, rs-1 retiring" >> "$OUT/raw/events.txt"
  config "[{\"kid\": \"rs-1\", \"alg\": \"RS256\", \"private_key_file\": \"keys/rs-1.pem\", \"status\": \"retiring\"}, {\"kid\": \"rs-2\", \"alg\": \"RS256\", \"private_key_file\": \"keys/rs-2.pem\"}, $HS]" rs-2
  kill -HUP "${PIDS[$A]}" "${PIDS[$B]}"
  sleep "$step"; echo "$(date +%T) restart replica B (SIGTERM drains)" >> "$OUT/raw/events.txt"
  kill -TERM "${PIDS[$B]}"; wait "${PIDS[$B]}" || true; serve "$B"; wait_up "$B"
  sleep "$step"; echo "$(date +%T) Redis down for 3 s" >> "$OUT/raw/events.txt"
  kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; sleep 3; redis_up
  echo "$(date +%T) Redis back" >> "$OUT/raw/events.txt"
}
events
wait "${WRK_PIDS[@]}"
echo "rss_end $(rss_kb "${PIDS[$A]}") $(rss_kb "${PIDS[$B]}")" >> "$OUT/raw/rss.txt"
python3 - "$OUT" "$SECS" <<'PY' | tee "$OUT/report.md"
import os, re, sys
out, secs = sys.argv[1], sys.argv[2]
def wrk(name):
    t = open(os.path.join(out, "raw", name + ".txt")).read()
    req = int(re.search(r"(\d+) requests in", t).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", t)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)", t, re.M)
    ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    return req, int(non2xx.group(1)) if non2xx else 0, sum(map(int, sock.groups())) if sock else 0, ms
rss = dict((l.split()[0], l.split()[1:]) for l in open(os.path.join(out, "raw", "rss.txt")))
print(f"## Soak\n\n`make soak`, {secs} s: two replicas on one Redis behind nginx, which adds X-Forwarded-For and is the replicas' trusted proxy.\n")
print("| load | requests | non-2xx | socket errors | p99 ms |\n| --- | ---: | ---: | ---: | ---: |")
for name, label in [("soak-rs", "client_credentials RS256"), ("soak-hs", "client_credentials HS256 + pipeline"), ("mint", "gateway mint RS256 + pipeline")]:
    r, n, s, p = wrk(name)
    print(f"| {label} | {r} | {n} | {s} | {p:.1f} |")
print("\nEvents: " + "; ".join(l.strip() for l in open(os.path.join(out, "raw", "events.txt"))) + ".")
print(f"\nRSS of replica A: {int(rss['rss_start'][0]) // 1024} MiB at the start, {int(rss['rss_end'][0]) // 1024} MiB at the end "
      "(replica B was restarted).")
PY
