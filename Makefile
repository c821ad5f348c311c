# wsgate: `make run` starts a server with its embedded defaults, `make test` runs
# every test (and installs what the tests need when it is missing).

GO        ?= go
BINARY    ?= bin/wsgate
TEST_FLAGS ?= -race -count=1 -timeout 15m

.PHONY: all build run test lint deps bench bench-full clean

all: build

build:
	$(GO) build -o $(BINARY) ./cmd/wsgate

run:
	$(GO) run ./cmd/wsgate

## deps: fetch Go modules when missing (idempotent, offline once cached).
deps:
	$(GO) mod download

## lint: go vet plus a gofmt check that fails on any unformatted file.
lint:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

## deps-redis: install Debian's redis-server (as root) when missing; the cluster
## tests start their own on a free port.
.PHONY: deps-redis
deps-redis:
	command -v redis-server || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server)

test: deps deps-redis lint test-js
	$(GO) test $(TEST_FLAGS) ./...

## test-js: the JavaScript client's tests, under Node and in headless Chromium against a
## real wsgate. Installs Debian's chromium when it is missing (as root) and the npm
## packages from the lockfile.
.PHONY: test-js
test-js: build
	@if [ ! -x /usr/bin/chromium ]; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q chromium; \
	fi
	cd clients/js && npm ci --no-audit --no-fund
	cd clients/js && WSGATE_BINARY=$(abspath $(BINARY)) npm test

## bench: Go benchmarks, each beside its baseline in the same run, then the short
## load suite (3,000 connections against wsgate, the seed's design and bare nbio;
## benchmarks/README.md). Under 5 minutes.
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./benchmarks/suite -short

## bench-full: the 15,000-connection load suite; results in benchmarks/results/full.
bench-full: deps
	$(GO) run ./benchmarks/suite

clean:
	rm -rf bin
	$(GO) clean -testcache
