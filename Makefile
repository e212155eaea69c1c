# tokenservice — two commands: `make run` and `make test` (see README.md).
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := libssl-dev libjansson-dev libjavascriptcoregtk-4.1-dev libcurl4-openssl-dev pkg-config openssl curl python3 python3-pip
BENCH_PACKAGES := wrk
SWIFT_BUILD_FLAGS ?=
BIN := .build/debug/tokenservice

.PHONY: all deps python-deps build release keys run test bench clean

all: build

## Install missing Debian packages (only what is missing; apt-get update once).
deps:
	@missing=""; for p in $(APT_PACKAGES) $(EXTRA_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

## The independent verifier the end-to-end test uses (PyJWT + cryptography, from PyPI).
python-deps: deps
	@python3 -c 'import jwt, cryptography' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'PyJWT[crypto]>=2.8' \
	  || python3 -m pip install --quiet --break-system-packages 'PyJWT[crypto]>=2.8'

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

test: deps python-deps build
	swift build --build-tests $(SWIFT_BUILD_FLAGS)
	swift test --skip-build $(SWIFT_BUILD_FLAGS)

bench:
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(BENCH_PACKAGES)" && \
	$(MAKE) --no-print-directory release && \
	BENCH_STARTED=$$start BENCH_BUILT=$$(date +%s) ./scripts/bench.sh

clean:
	rm -rf .build
