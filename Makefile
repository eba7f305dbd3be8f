# Atoll: `make run` sets up and opens the app; `make test` sets up and runs
# every test. Both install only what is missing (scripts/setup.sh).
SHELL := /bin/bash
VERSION ?= 0.1.0-dev
# Read once (:=), so that `make dist-check` stamps one commit into every
# artefact even when HEAD moves during the build.
ifeq ($(origin COMMIT),undefined)
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
endif
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN := build/bin

.PHONY: run test build cli frontend setup setup-test bench unit integration frontend-test e2e window clean dist dist-check

run: setup build
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ]; then \
	  echo "No display found, so the desktop window cannot open here."; \
	  echo "Use Atoll in a browser instead:  $(BIN)/atoll serve   then open http://127.0.0.1:7860/"; \
	else \
	  $(BIN)/atoll-desktop; \
	fi

setup:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test

frontend:
	@cd frontend && npm run --silent build >/dev/null

cli:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 go build -ldflags "$(LDFLAGS)" -o $(BIN)/atoll ./cmd/atoll

# The desktop binary: frontend built by npm above, Wails CLI from go.mod's tool line.
build: frontend cli
	@go tool wails build -s -m -skipbindings -nopackage -v 0 -ldflags "$(LDFLAGS)" -o atoll-desktop
	@echo "built $(BIN)/atoll-desktop and $(BIN)/atoll"

# Every part runs even when one before it failed; a table at the end lists
# them all, and the exit status is non-zero if any failed.
test: setup-test build
	@scripts/test-all.sh

bench: setup-test build
	scripts/bench.sh

# Release artefacts in dist/ (scripts/dist.sh): `make dist VERSION=x.y.z`
# writes the Linux .deb and .rpm for WebKitGTK 4.0 and 4.1; `make dist-check`
# adds the slower part: CLI archives for every platform and the Windows exe
# with its installer. Both end with dist/SHA256SUMS.
dist: frontend
	@VERSION=$(VERSION) COMMIT=$(COMMIT) scripts/dist.sh linux

dist-check: dist
	@VERSION=$(VERSION) COMMIT=$(COMMIT) scripts/dist.sh cross

clean:
	rm -rf $(BIN) frontend/node_modules dist
