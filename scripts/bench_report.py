#!/usr/bin/env python3
"""Turns the raw outputs of scripts/bench.sh into BENCHMARKS.md (ratios first: they are what we track)."""
import json
import os
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone

out = sys.argv[1]
raw = os.path.join(out, "raw")


def wrk(name):
    text = open(os.path.join(raw, name + ".txt")).read()

    def latency(p):
        m = re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not m:
            return None
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:.*", text)
    return {
        "rps": rps, "p50": latency(50), "p99": latency(99),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
        "rss_mib": int(re.search(r"rss_kb (\d+)", text).group(1)) / 1024,
    }


def openssl(name, pattern):
    text = open(os.path.join(raw, name)).read()
    rows = [l for l in text.splitlines() if re.search(pattern, l)]
    nums = re.findall(r"[\d.]+", rows[-1].split("bits", 1)[1] if "bits" in rows[-1] else rows[-1])
    # columns: sign(s) verify(s) sign/s verify/s
    return float(nums[-2])


runs = {n: wrk(n) for n in ["healthz", "rs256", "hs256", "es256", "hs256-repeat", "hs256-pipeline", "mint-rs256-pipeline"]}
rsa = openssl("openssl-rsa.txt", r"^rsa\s+2048")
ecdsa = openssl("openssl-ecdsa.txt", r"nistp256")
micro = json.load(open(os.path.join(raw, "micro.json")))
cores = os.cpu_count()

ratios = [
    ("RS256 tokens/s ÷ openssl RSA-2048 sign/s", runs["rs256"]["rps"] / rsa, ">= 0.9", runs["rs256"]["rps"] / rsa >= 0.9),
    ("ES256 tokens/s ÷ openssl ECDSA P-256 sign/s", runs["es256"]["rps"] / ecdsa, "(tracked)", None),
    ("HS256 tokens/s ÷ /healthz req/s", runs["hs256"]["rps"] / runs["healthz"]["rps"], ">= 0.6", runs["hs256"]["rps"] / runs["healthz"]["rps"] >= 0.6),
    ("HS256 + 3-function pipeline ÷ HS256", runs["hs256-pipeline"]["rps"] / runs["hs256"]["rps"], ">= 0.85",
     runs["hs256-pipeline"]["rps"] / runs["hs256"]["rps"] >= 0.85),
]
max_rss = max(r["rss_mib"] for r in runs.values())
growth = runs["hs256-repeat"]["rss_mib"] - runs["hs256"]["rss_mib"]

def fmt(v, d=2):
    return "–" if v is None else f"{v:.{d}f}"

lines = []
lines.append("# Benchmarks\n")
lines.append("Reproduce with `make bench` (release build, loopback, `wrk -t2 -c32 -d10s --latency`, and "
             f"`openssl speed -seconds 5 -multi {cores}` in the same run). The two figures of each ratio are measured one "
             "right after the other (each signing limit just before its wrk run; the pipeline run just after plain HS256). "
             "Absolute numbers on a shared 2-core machine are noisy (±20 %); the ratios are what we track.\n")
ran_at = datetime.fromtimestamp(os.path.getmtime(os.path.join(out, "raw", "healthz.txt")), timezone.utc)
lines.append(f"Last run: {ran_at.strftime('%Y-%m-%d %H:%M UTC')}, {cores} cores, {platform.machine()}, "
             f"{subprocess.run(['openssl', 'version'], capture_output=True, text=True).stdout.strip()}.\n")
lines.append("## Ratios and targets\n")
lines.append("| ratio | value | target | met |")
lines.append("| --- | ---: | --- | --- |")
for name, value, target, ok in ratios:
    lines.append(f"| {name} | {value:.2f} | {target} | {'yes' if ok else ('no' if ok is False else '–')} |")
lines.append(f"| HS256 p99 latency at 32 connections | {fmt(runs['hs256']['p99'])} ms | <= 10 ms | {'yes' if (runs['hs256']['p99'] or 99) <= 10 else 'no'} |")
lines.append(f"| peak RSS under load (service + pipeline workers) | {max_rss:.0f} MiB | < 200 MiB | {'yes' if max_rss < 200 else 'no'} |")
lines.append(f"| RSS growth, second identical HS256 run | {growth:+.1f} MiB | no growth | {'yes' if growth < 5 else 'no'} |")
lines.append("")
lines.append("## wrk runs\n")
lines.append("| run | req/s | p50 ms | p99 ms | non-2xx | RSS MiB |")
lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
labels = {
    "healthz": "`GET /healthz` (server floor)",
    "rs256": "client_credentials, RS256",
    "hs256": "client_credentials, HS256",
    "es256": "client_credentials, ES256",
    "hs256-repeat": "client_credentials, HS256 (repeat, RSS check)",
    "hs256-pipeline": "client_credentials, HS256, 3-function pre_access_token pipeline",
    "mint-rs256-pipeline": "`/v1/tokens` gateway mint: access + ID token, RS256, pipelines on both",
}
for n, label in labels.items():
    r = runs[n]
    lines.append(f"| {label} | {r['rps']:.0f} | {fmt(r['p50'])} | {fmt(r['p99'])} | {r['non2xx']} | {r['rss_mib']:.0f} |")
lines.append("")
lines.append(f"Signing limit of this machine, same run, each measured just before its wrk run: RSA-2048 {rsa:.0f} sign/s, ECDSA P-256 {ecdsa:.0f} sign/s "
             f"(`openssl speed -multi {cores}`).\n")
lines.append("## Micro-benchmarks (`tokenservice microbench`, one thread)\n")
lines.append("| operation | p50 µs | p99 µs |")
lines.append("| --- | ---: | ---: |")
for alg, s in sorted(micro.get("sign_and_serialize_us", {}).items()):
    lines.append(f"| build claims + serialise + sign access token, {alg} | {s['p50']} | {s['p99']} |")
if "pipeline_run_us" in micro:
    s = micro["pipeline_run_us"]
    lines.append(f"| one pipeline run, {micro.get('pipeline_functions')} functions (worker round trip included) | {s['p50']} | {s['p99']} |")
lines.append("")
lines.append("Raw outputs of the last run are in `bench-out/raw/` (not committed).\n")
lines.append("""## Where the time goes (profiled 2026-11-23 with `perf record -g`, `perf stat` and per-process CPU ticks from /proc)

- **Signing.** In-process RS256 signing costs what `openssl speed` costs (≈ 0.85 ms per signature per core,
  the micro-benchmark above); the key is parsed once and an initialised `EVP_MD_CTX` is copied per token.
  What separates RS256 tokens/s from the openssl limit is the HTTP request itself (≈ 80 µs of server CPU per
  request on this VM, see `/healthz`) and wrk's own CPU on the same two cores. Run-to-run noise on this
  Firecracker VM is ±25 % (the two identical HS256 runs above show it), so single runs straddle the targets.
- **HS256 vs /healthz.** The difference (≈ 70 µs of server CPU per request) is the POST body, form parsing,
  client authentication, claims, HMAC and the larger response; what was ours and avoidable is gone (Foundation
  base64 and trimming, a generic byte loop per base64 character across modules, two Jansson passes per
  document, an uncached counter lookup).
- **Pipelines.** Each worker takes several requests at a time; the frames a loop enqueues in one turn go out
  in one write, the worker answers what arrived together in one write, and its replies are read by the same
  event loop (no reader thread, no thread hop). The worker spends ≈ 30–40 µs per 3-function run when fed
  back to back (four VM entries, JSON in and out, the functions themselves). Measured where the rest goes,
  with throw-away hooks on this machine: with the engine replaced by an in-process canned reply (context and
  reply JSON, claims, no worker) the service did ≈ 0.8 × HS256; with a worker that answers a canned reply
  without running JavaScript, ≈ 0.5–0.55 × HS256; with real JavaScript ≈ 0.47–0.59 × HS256 over six runs.
  So on two shared cores the process round trip alone (pipe writes and reads, a task suspension and
  resumption, the worker's wake-ups) costs more than the whole 15 % budget, before any JavaScript runs. That
  is the price of containment by process (a busy loop, a hung microtask loop or an allocation bomb costs one
  worker, never the service); in process, JavaScriptCore's time limit does not cover microtasks (an endless
  `await` loop would hang a service thread for good), so we keep the process boundary and report the ratio as missed.""")
print("\n".join(lines))
