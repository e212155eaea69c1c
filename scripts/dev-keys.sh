#!/usr/bin/env bash
# Generates the development keys config/dev.json names, into keys/ (mode 0600), when absent.
set -euo pipefail
bin=${1:-.build/debug/tokenservice}
dir=${2:-keys}
mkdir -p "$dir"
gen() { [ -f "$dir/$2" ] || "$bin" keys generate --alg "$1" --out "$dir/$2"; }
gen RS256 rs256.pem
gen ES256 es256.pem
gen EdDSA ed25519.pem
gen HS256 hs256.key
