#!/usr/bin/env bash
# make bench: wrk against a release build on loopback, side by side with `openssl speed` in one run.
# Writes BENCHMARKS.md. Every wrk run: -t2 -c32 -d${BENCH_SECONDS:-10}s --latency.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/tokenservice}
SECS=${BENCH_SECONDS:-10}
OUT=${BENCH_OUT:-bench-out}
PORT_A=${BENCH_PORT:-18480}
PORT_B=$((PORT_A + 1))
PORT_C=$((PORT_A + 2))   # pipelines + an async notifier posting to a 1 s webhook
PORT_D=$((PORT_A + 3))   # pipelines + a function that loops for one client
PORT_E=$((PORT_A + 4))   # the floor: a minimal SwiftNIO HTTP/1.1 server (Bench/NIOFloor), with a minimal HS256 token route
FLOOR=${FLOOR:-$(dirname "$BIN")/NIOFloor}
PORT_F=$((PORT_A + 5))   # plain, with the access log off (--log-level warning)
PORT_SINK=$((PORT_A + 10))
PORT_ISSUER=$((PORT_A + 11))   # a platform token issuer (Tests/e2e/platform_issuer.py) for workload identity
port_free() { # $1 port: nothing answers there (a server left from an earlier run would be measured instead)
  if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/"; then echo "port $1 is in use: stop what listens there first" >&2; exit 1; fi
}
# Before the last run's output is removed: a bench that cannot run leaves it as it was.
for port in "$PORT_A" "$PORT_B" "$PORT_C" "$PORT_D" "$PORT_E" "$PORT_F" "$PORT_SINK" "$PORT_ISSUER"; do port_free "$port"; done
rm -rf "$OUT"; mkdir -p "$OUT/keys" "$OUT/pipelines" "$OUT/raw"

for spec in RS256:rs256.pem ES256:es256.pem HS256:hs256.key; do
  "$BIN" keys generate --alg "${spec%%:*}" --out "$OUT/keys/${spec#*:}" >/dev/null
done
SECRET=bench-secret-0123456789abcdef0123456789
GATEWAY=bench-gateway-token-0123456789
# The private_key_jwt client's key (its public JWKS goes into the config) and the platform's issuer URL.
PKJ_JWKS=$(python3 scripts/bench_assertions.py keygen "$OUT/keys/pkj.pem")
PLATFORM="http://127.0.0.1:$PORT_ISSUER/k8s"
WL_AUDIENCE=https://tokens.bench

# Three realistic pre_access_token functions and one pre_id_token function.
cat > "$OUT/pipelines/tenant.js" <<'JS'
async function pipe(user, context, callback) {
  const tenants = { 'bench-hs': 'acme', 'bench-rs': 'globex' };
  context.addAccessToken('tenant', tenants[context.clientId] || 'default');
  callback(null, user, context);
}
JS
cat > "$OUT/pipelines/network.js" <<'JS'
const { ipRangeCheck } = require('./utils');
async function pipe(user, context, callback) {
  const internal = ipRangeCheck(context.request.ip || '127.0.0.1', ['127.0.0.0', '127.255.255.255']);
  context.addAccessToken('network', internal ? 'internal' : 'external');
  callback(null, user, context);
}
JS
cat > "$OUT/pipelines/entitlements.js" <<'JS'
async function pipe(user, context, callback) {
  const scopes = context.scope || [];
  if (user) user.addAccessToken('roles', (user.customData && user.customData.roles) || ['member']);
  else context.addAccessToken('entitlements', scopes.map(s => s.split(':')[0]));
  callback(null, user, context);
}
JS
cat > "$OUT/pipelines/notify.js" <<'JS'
async function pipe(user, context, callback) {
  await axios.post(env.HOOK, { text: context.clientId + ' got a token' });
  callback(null, user, context);
}
JS
cat > "$OUT/pipelines/poison.js" <<'JS'
async function pipe(user, context, callback) {
  if (context.clientId === 'bench-poison') while (true) {}
  callback(null, user, context);
}
JS
cat > "$OUT/pipelines/txn-risk.js" <<'JS'
async function pipe(user, context, callback) {
  const rctx = context.transactionToken.rctx || {};
  context.addTxnContext('risk', rctx.authn === 'mfa' ? 'low' : 'normal');
  callback(null, user, context);
}
JS
cat > "$OUT/pipelines/dept.js" <<'JS'
async function pipe(user, context, callback) {
  user.addIdToken('department', (user.customData && user.customData.dept) || 'unassigned');
  callback(null, user, context);
}
JS

config() { # $1 port, $2 pipelines json, $3 env json (optional)
local env_json=${3:-'{}'}
cat <<JSON
{
  "issuer": "http://127.0.0.1:$1",
  "listen": {"host": "127.0.0.1", "port": $1},
  "keys": [
    {"kid": "rs", "alg": "RS256", "private_key_file": "keys/rs256.pem"},
    {"kid": "es", "alg": "ES256", "private_key_file": "keys/es256.pem"},
    {"kid": "hs", "alg": "HS256", "secret": {"file": "keys/hs256.key"}}
  ],
  "signing_key": "rs",
  "gateways": [{"name": "bench", "token": "$GATEWAY"}],
  "clients": [
    {"client_id": "bench-rs", "client_secret": "$SECRET", "grant_types": ["client_credentials"], "scopes": ["api:read", "api:write"], "audiences": ["https://api.example.com"]},
    {"client_id": "bench-es", "client_secret": "$SECRET", "grant_types": ["client_credentials"], "scopes": ["api:read"], "audiences": ["https://api.example.com"], "signing_key": "es"},
    {"client_id": "bench-hs", "client_secret": "$SECRET", "grant_types": ["client_credentials"], "scopes": ["api:read"], "audiences": ["https://api.example.com"], "signing_key": "hs"},
    {"client_id": "bench-poison", "client_secret": "$SECRET", "grant_types": ["client_credentials"], "scopes": ["api:read"], "audiences": ["https://api.example.com"], "signing_key": "hs"},
    {"client_id": "web", "client_secret": "$SECRET", "grant_types": ["authorization_code"], "scopes": ["openid", "profile", "email"], "audiences": ["https://api.example.com"]},
    {"client_id": "bench-gateway", "client_secret": "$SECRET", "grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"], "audiences": ["https://api.example.com"],
     "token_exchange": {"subject_audiences": ["https://api.example.com"]}, "transaction_tokens": {"allowed": true}},
    {"client_id": "bench-pkj", "jwks": $PKJ_JWKS, "grant_types": ["client_credentials"], "scopes": ["api:read"], "audiences": ["https://api.example.com"], "signing_key": "es"},
    {"client_id": "bench-wl", "grant_types": ["client_credentials"], "scopes": ["api:read"], "audiences": ["https://api.example.com"], "signing_key": "es"}
  ],
  "transaction_tokens": {"trust_domains": ["trust.bench"], "signing_key": "es"},
  "trusted_issuers": [{"issuer": "$PLATFORM", "audience": "$WL_AUDIENCE", "subjects": {"system:serviceaccount:bench:wl": "bench-wl"}}],
  "env": $env_json,
  "pipelines": $2
}
JSON
}
config "$PORT_A" '{}' > "$OUT/plain.json"
config "$PORT_F" '{}' > "$OUT/quiet.json"
THREE='{"name": "tenant", "file": "pipelines/tenant.js"}, {"name": "network", "file": "pipelines/network.js"}, {"name": "entitlements", "file": "pipelines/entitlements.js"}'
config "$PORT_B" "{\"pre_access_token\": [$THREE], \"pre_id_token\": [{\"name\": \"dept\", \"file\": \"pipelines/dept.js\"}], \"pre_transaction_token\": [{\"name\": \"txn-risk\", \"file\": \"pipelines/txn-risk.js\"}]}" > "$OUT/pipelines.json"
config "$PORT_C" "{\"http\": {\"allow\": [\"127.0.0.1:$PORT_SINK\"]}, \"pre_access_token\": [$THREE, {\"name\": \"notify\", \"file\": \"pipelines/notify.js\", \"async\": true}]}" \
  "{\"HOOK\": \"http://127.0.0.1:$PORT_SINK/hooks/notify?ms=1000\"}" > "$OUT/notifier.json"
config "$PORT_D" "{\"pre_access_token\": [$THREE, {\"name\": \"poison\", \"file\": \"pipelines/poison.js\", \"timeout_ms\": 400}]}" > "$OUT/poison.json"

wrk_post() { # $1 script file, $2 Content-Type, $3 Authorization (none when empty), $4 body -> writes a wrk script posting it, prints its path
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = [[$4]]
wrk.headers["Content-Type"] = "$2"
LUA
  [ -z "$3" ] || echo "wrk.headers[\"Authorization\"] = \"$3\"" >> "$1"
  echo "$1"
}
lines_lua() { # $1 file of one-time values (wrk thread n takes every nth), $2 lua file, $3 Lua making the request from `value`, $4 Authorization (none when empty)
  cat > "$2" <<LUA
local threads, n = {}, 0
function setup(thread) n = n + 1; thread:set("id", n); table.insert(threads, thread) end
function init(args)
  values = {}
  local i = 0
  for line in io.lines("$1") do i = i + 1; if i % 2 == id - 1 then values[#values + 1] = line end end
  next_value = 0
end
function request()
  next_value = next_value + 1
  local value = values[next_value]
  $3
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
  [ -z "$4" ] || echo "wrk.headers[\"Authorization\"] = \"$4\"" >> "$2"
}
dpop_lua() { # $1 token endpoint: one fresh joserfc ES256 proof per request, as dpop.lua
  python3 -W ignore Tests/e2e/dpop_proofs.py many "$1" "${DPOP_PROOFS:-250000}" "$OUT/proofs.txt" > "$OUT/dpop-jkt.txt"
  lines_lua "$OUT/proofs.txt" "$OUT/dpop.lua" 'wrk.headers["DPoP"] = value
  return wrk.format("POST", nil, nil, "grant_type=client_credentials&scope=api%3Aread")' "Basic $(printf '%s:%s' bench-es "$SECRET" | base64 -w0)"
}
assertions_lua() { # $1 token endpoint: one fresh private_key_jwt assertion per request, as pkj.lua
  python3 scripts/bench_assertions.py many "$OUT/keys/pkj.pem" bench-pkj "$1" "${ASSERTIONS:-120000}" "$OUT/assertions.txt"
  lines_lua "$OUT/assertions.txt" "$OUT/pkj.lua" 'return wrk.format("POST", nil, nil, "grant_type=client_credentials&scope=api%3Aread&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" .. value)' ""
}
workload_lua() { # a platform service-account token (ES256, reused as platforms do) as the client assertion, as wl.lua
  curl -sf -X POST -d '{"alg": "ES256", "keep_old": false}' "$PLATFORM/rotate" > /dev/null
  local token; token=$(curl -sf -X POST -d "{\"claims\": {\"sub\": \"system:serviceaccount:bench:wl\", \"aud\": \"$WL_AUDIENCE\", \"exp\": $(($(date +%s) + 3600))}}" \
    "$PLATFORM/mint" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  wrk_post "$OUT/wl.lua" application/x-www-form-urlencoded "" \
    "grant_type=client_credentials&scope=api%3Aread&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=$token" > /dev/null
}
txn_lua() { # $1 base URL, $2 lua file: the gateway exchanging an RS256 access token of that server for an ES256 Txn-Token
  local subject; subject=$(curl -sf -u "bench-rs:$SECRET" -d grant_type=client_credentials -d 'scope=api:read api:write' "$1/oauth/token" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  wrk_post "$2" application/x-www-form-urlencoded "Basic $(printf '%s:%s' bench-gateway "$SECRET" | base64 -w0)" \
    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Atxn_token&audience=trust.bench&scope=api%3Aread&subject_token=$subject&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&request_context=%7B%22req_ip%22%3A%22203.0.113.7%22%2C%22authn%22%3A%22mfa%22%7D&request_details=%7B%22action%22%3A%22export%22%2C%22invoice%22%3A%22INV-42%22%7D" > /dev/null
}
lua_cc() { # $1 client -> lua file
  wrk_post "$OUT/cc-$1.lua" application/x-www-form-urlencoded "Basic $(printf '%s:%s' "$1" "$SECRET" | base64 -w0)" \
    "grant_type=client_credentials&scope=api%3Aread"
}
wrk_post "$OUT/mint.lua" application/json "Bearer $GATEWAY" \
  '{"client_id":"web","grant_type":"authorization_code","scope":"openid profile email","nonce":"n-1","code":"c-1","user":{"id":"u-1","username":"ada","email":"ada@example.com","emailVerified":true,"name":"Ada Lovelace","customData":{"dept":"R&D","roles":["admin"]}},"context":{"protocol":"oidc","request":{"ip":"127.0.0.1"}}}' >/dev/null

await_server() { # $1 name, $2 port: until the process started as $1 answers /healthz
  for _ in $(seq 1 200); do
    kill -0 "${SERVER_PIDS[$1]}" 2>/dev/null || { echo "$1 exited" >&2; cat "$OUT/raw/server-$1.log" >&2; exit 1; }
    curl -sf "http://127.0.0.1:$2/healthz" >/dev/null && return 0
    sleep 0.05
  done
  echo "$1 did not start" >&2; cat "$OUT/raw/server-$1.log" >&2; exit 1
}
start_server() { # $1 config, then serve's options -> pid in SERVER_PIDS[name]
  local name; name=$(basename "$1" .json)
  local port; port=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["listen"]["port"])' "$1")
  port_free "$port"
  "$BIN" serve --config "$1" "${@:2}" > "$OUT/raw/server-$name.log" 2>&1 &
  SERVER_PIDS[$name]=$!
  SERVER_PORTS[$name]=$port
  await_server "$name" "$port"
}
start_floor() {
  # /healthz answers the plain service's body; the token route serves bench-hs with the same key, secret,
  # scope and audience as the service.
  local body; body=$(curl -sf "$A/healthz") || { echo "cannot read the service's /healthz for the floor" >&2; exit 1; }
  port_free "$PORT_E"
  "$FLOOR" "$PORT_E" --body "$body" --hs256 "$OUT/keys/hs256.key" "$A" bench-hs "$SECRET" api:read https://api.example.com > "$OUT/raw/server-floor.log" 2>&1 &
  SERVER_PIDS[floor]=$!
  await_server floor "$PORT_E"
}
stop_servers() {
  for pid in "${SERVER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" || true; done
  kill "${SINK_PID:-0}" "${ISSUER_PID:-0}" 2>/dev/null || true
}
poison_loop() { # $1 base url, $2 seconds: the looping client, twice a second, each hit in the background
  local end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 -u "bench-poison:$SECRET" -d grant_type=client_credentials "$1/oauth/token" \
      >> "$OUT/raw/poison-codes.txt" &
    sleep 0.5
  done
  wait
}
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
pss_kb() { awk '/^Pss:/{print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }  # shared pages split between their processes
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }  # user + system, clock ticks
workers_sum() { # $1 per-process measure (rss_kb|pss_kb|cpu_ticks), $2 server pid -> its sum over the pipeline workers
  local sum=0 p
  for p in $(pgrep -P "$2" || true); do sum=$((sum + $("$1" "$p"))); done
  echo "$sum"
}
bench() { # $1 name, $2 server (plain|pipelines), $3 url, $4 lua (optional), $5 seconds (optional)
  local args=(-t2 -c32 -d"${5:-$SECS}s" --latency) pid=${SERVER_PIDS[$2]} before after
  [ -n "${4:-}" ] && args+=(-s "$4")
  echo "== $1" >&2
  before="$(cpu_ticks "$pid") $(workers_sum cpu_ticks "$pid")"
  local rss_before; rss_before=$(rss_kb "$pid")
  # wrk's own CPU (user and system, from bash's `time`): what a request costs the load generator on the same cores.
  local TIMEFORMAT="wrk_cpu_s %U %S"
  { time wrk "${args[@]}" "$3" > "$OUT/raw/$1.txt"; } 2> "$OUT/raw/$1.wrk-cpu"
  after="$(cpu_ticks "$pid") $(workers_sum cpu_ticks "$pid")"
  # Summed RSS: pages the processes share (the executable, JavaScriptCore) count once per process.
  local rss; rss=$(rss_kb "$pid")
  echo "rss_kb $rss rss_sum_kb $((rss + $(workers_sum rss_kb "$pid"))) rss_before_kb $rss_before pss_sum_kb $(($(pss_kb "$pid") + $(workers_sum pss_kb "$pid")))" >> "$OUT/raw/$1.txt"
  echo "cpu_ticks_before $before cpu_ticks_after $after clk_tck $(getconf CLK_TCK)" >> "$OUT/raw/$1.txt"
  cat "$OUT/raw/$1.wrk-cpu" >> "$OUT/raw/$1.txt" && rm "$OUT/raw/$1.wrk-cpu"
  # Spare pipeline workers running at the end of the run (one is kept 30 s after it was last needed).
  if [ -n "${SERVER_PORTS[$2]:-}" ]; then
    echo "spare_workers $(curl -sf "http://127.0.0.1:${SERVER_PORTS[$2]}/metrics" | awk '/^tokenservice_pipeline_workers\{role="spare"\}/{print $2}')" >> "$OUT/raw/$1.txt"
  fi
  grep -E "Requests/sec|99%" "$OUT/raw/$1.txt" >&2
}
speed() { # $1 openssl algorithm, $2 output name: the signing limit, measured right before its wrk run
  echo "== openssl speed $1" >&2
  openssl speed -seconds 5 -multi "$(nproc)" "$1" > "$OUT/raw/$2.txt" 2>/dev/null
}

# Both servers run for the whole measurement (the idle one costs nothing), so that the two figures of
# every ratio are measured one right after the other and drift on a shared machine hits both alike.
declare -A SERVER_PIDS SERVER_PORTS
A="http://127.0.0.1:$PORT_A"
B="http://127.0.0.1:$PORT_B"
C="http://127.0.0.1:$PORT_C"
D="http://127.0.0.1:$PORT_D"
E="http://127.0.0.1:$PORT_E"
# The slow webhook is asyncio on one thread (a real one runs elsewhere; this one must cost next to nothing here).
python3 scripts/slow_webhook.py "$PORT_SINK" > /dev/null 2>&1 &
SINK_PID=$!
python3 Tests/e2e/platform_issuer.py --port "$PORT_ISSUER" > /dev/null 2>&1 &
ISSUER_PID=$!
trap stop_servers EXIT
start_server "$OUT/plain.json"
start_server "$OUT/pipelines.json"
start_server "$OUT/notifier.json"
start_server "$OUT/poison.json"
start_floor
start_server "$OUT/quiet.json" --log-level warning
bench warmup plain "$A/oauth/token" "$(lua_cc bench-hs)" 2 >/dev/null 2>&1 || true
bench warmup-pipeline pipelines "$B/oauth/token" "$(lua_cc bench-hs)" 2 >/dev/null 2>&1 || true
bench warmup-floor floor "$E/healthz" "" 2 >/dev/null 2>&1 || true
bench floor floor "$E/healthz"
bench healthz plain "$A/healthz"
bench healthz-quiet quiet "http://127.0.0.1:$PORT_F/healthz"
bench hs256 plain "$A/oauth/token" "$(lua_cc bench-hs)"
bench floor-token floor "$E/oauth/token" "$(lua_cc bench-hs)"
bench hs256-pipeline pipelines "$B/oauth/token" "$(lua_cc bench-hs)"
bench warmup-notifier notifier "$C/oauth/token" "$(lua_cc bench-hs)" 2 >/dev/null 2>&1 || true
bench hs256-notifier notifier "$C/oauth/token" "$(lua_cc bench-hs)"
# Two more rounds of the three, shorter: the pipeline ratios are the median of three rounds (drift on a
# shared machine moves single runs by ±20 %).
for round in 2 3; do
  bench "floor-r$round" floor "$E/healthz" "" $(((SECS + 1) / 2))
  bench "healthz-r$round" plain "$A/healthz" "" $(((SECS + 1) / 2))
  bench "hs256-r$round" plain "$A/oauth/token" "$(lua_cc bench-hs)" $(((SECS + 1) / 2))
  bench "floor-token-r$round" floor "$E/oauth/token" "$(lua_cc bench-hs)" $(((SECS + 1) / 2))
  bench "hs256-pipeline-r$round" pipelines "$B/oauth/token" "$(lua_cc bench-hs)" $(((SECS + 1) / 2))
  bench "hs256-notifier-r$round" notifier "$C/oauth/token" "$(lua_cc bench-hs)" $(((SECS + 1) / 2))
done
bench warmup-poison poison "$D/oauth/token" "$(lua_cc bench-hs)" 2 >/dev/null 2>&1 || true
bench poison-baseline poison "$D/oauth/token" "$(lua_cc bench-hs)"
: > "$OUT/raw/poison-codes.txt"
poison_loop "$D" "$SECS" &
POISON_PID=$!
bench poison-load poison "$D/oauth/token" "$(lua_cc bench-hs)"
wait "$POISON_PID"
speed rsa2048 openssl-rsa
bench rs256 plain "$A/oauth/token" "$(lua_cc bench-rs)"
speed ecdsap256 openssl-ecdsa
bench es256 plain "$A/oauth/token" "$(lua_cc bench-es)"
dpop_lua "$A/oauth/token" > /dev/null
bench es256-dpop plain "$A/oauth/token" "$OUT/dpop.lua"
bench hs256-repeat plain "$A/oauth/token" "$(lua_cc bench-hs)"
# After the RSS check: a private_key_jwt run fills the one-time memory with its assertions' jtis.
# Transaction Tokens: one RS256 verification of the subject, a one-function pipeline, one ES256 signature;
# and the same on the server without pipelines (what the pipeline's process boundary costs, apart), right
# after an ES256 client_credentials run of their own to compare with.
bench es256-ref plain "$A/oauth/token" "$(lua_cc bench-es)"
txn_lua "$B" "$OUT/txn.lua"
bench warmup-txn pipelines "$B/oauth/token" "$OUT/txn.lua" 2 >/dev/null 2>&1 || true
bench txn-es256 pipelines "$B/oauth/token" "$OUT/txn.lua"
txn_lua "$A" "$OUT/txn-plain.lua"
bench txn-es256-nopipeline plain "$A/oauth/token" "$OUT/txn-plain.lua"
# Client authentication by a one-time private_key_jwt assertion, then by a platform's token (workload identity).
assertions_lua "$A/oauth/token"
bench pkj-es256 plain "$A/oauth/token" "$OUT/pkj.lua"
workload_lua
bench workload-es256 plain "$A/oauth/token" "$OUT/wl.lua"
bench mint-rs256-pipeline pipelines "$B/v1/tokens" "$OUT/mint.lua"
trap - EXIT
stop_servers

echo "== microbench" >&2
"$BIN" microbench --config "$OUT/pipelines.json" --token-config "$OUT/plain.json" --token-client "bench-hs:$SECRET" > "$OUT/raw/micro.json"

python3 scripts/bench_report.py "$OUT" > BENCHMARKS.md
cat BENCHMARKS.md
