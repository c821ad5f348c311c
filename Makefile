# wsgate: `make run` builds and starts a server with its embedded defaults, `make test`
# runs every test (and installs what the tests need when it is missing).

GO        ?= go
BINARY    ?= bin/wsgate
TEST_FLAGS ?= -race -count=1 -timeout 15m
# ARGS are passed to wsgate by make run, e.g. make run ARGS='-addr :9000 -log-level debug'.
ARGS      ?=

# The version and commit that wsgate -version, /healthz and wsgate_build_info report;
# without git (a source archive) they read "dev" and "unknown".
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X github.com/wsgate/wsgate/internal/buildinfo.version=$(VERSION) \
             -X github.com/wsgate/wsgate/internal/buildinfo.commit=$(COMMIT)

.PHONY: all build run test lint deps bench bench-full bench-scale fuzz soak clean dist release-binary docker

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BINARY) ./cmd/wsgate

## release-binary: one static binary as make dist and the Docker image build it:
## no cgo (so no libc to match), paths trimmed, symbols stripped, the version set.
## GOOS, GOARCH and OUT choose the platform and the file.
OUT ?= $(BINARY)
release-binary:
	CGO_ENABLED=0 $(if $(GOOS),GOOS=$(GOOS)) $(if $(GOARCH),GOARCH=$(GOARCH)) \
		$(GO) build -trimpath -ldflags '-s -w $(LDFLAGS)' -o $(OUT) ./cmd/wsgate

## dist: release archives for linux and darwin on amd64 and arm64 in dist/, each
## wsgate-<version>-<os>-<arch>.tar.gz holding the binary, LICENSE and README.md,
## with their SHA-256 sums in dist/SHA256SUMS.
DIST_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
dist:
	rm -rf dist && mkdir -p dist
	@set -e; for platform in $(DIST_PLATFORMS); do \
		os=$${platform%/*}; arch=$${platform#*/}; name=wsgate-$(VERSION)-$$os-$$arch; \
		echo "building dist/$$name.tar.gz"; \
		$(MAKE) --no-print-directory release-binary GOOS=$$os GOARCH=$$arch OUT=dist/$$name/wsgate \
			VERSION=$(VERSION) COMMIT=$(COMMIT); \
		cp LICENSE README.md dist/$$name/; \
		tar -C dist --owner=0 --group=0 --numeric-owner -czf dist/$$name.tar.gz $$name; \
		rm -rf dist/$$name; \
	done
	cd dist && sha256sum *.tar.gz > SHA256SUMS && cat SHA256SUMS

## docker: the image wsgate:<version> (and wsgate:latest) from the Dockerfile.
docker:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t wsgate:$(VERSION) -t wsgate:latest .

## run: the recipe's shell execs the binary, so wsgate itself is make's child: a
## SIGTERM to make's PID is passed on to it, and Ctrl-C reaches both, so either stops
## the server (go run, in between, left its child listening).
run: build
	exec $(abspath $(BINARY)) $(ARGS)

## deps: fetch Go modules when missing (idempotent, offline once cached).
deps:
	$(GO) mod download

## lint: go vet, a gofmt check that fails on any unformatted file, and staticcheck
## (pinned by the tool directive in go.mod), also over the race-only files.
lint:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags race ./...

comma := ,

# apt_install installs the Debian package $(1) that the tests need unless the
# command $(3) succeeds (it is there), saying what and why ($(2)) first: apt-get
# update, then only that package and what it depends on (no recommended packages, no
# upgrade of anything else). Without root or apt-get it fails with the command to run.
define apt_install
	@if $(3); then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
		echo "The tests need $(1) ($(2)), which is not installed." >&2; \
		echo "Installing it needs root and Debian's apt-get; on Debian or Ubuntu run:" >&2; \
		echo "    sudo apt-get install --no-install-recommends $(1)" >&2; \
		echo "or install $(1) with the system's package manager." >&2; \
		exit 1; \
	fi; \
	echo "installing Debian's $(1): $(2)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends $(1)
endef

## deps-redis: install Debian's redis-server (with redis-cli, from redis-tools) when
## missing; the cluster tests start their own on free ports, and a 3-master Redis
## Cluster with redis-cli --cluster create (Redis 7 for sharded pub/sub: Debian 12
## has 7.0).
.PHONY: deps-redis
deps-redis:
	$(call apt_install,redis-server,the Redis server and redis-cli the cluster tests start; 4 packages$(comma) about 6 MB,command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1)

test: deps deps-redis lint test-js
	$(GO) test $(TEST_FLAGS) ./...

## test-js: the JavaScript client's tests, under Node and in headless Chromium against a
## real wsgate, with the dashboard's page, which also runs in headless Firefox; and the
## check that the dashboard's embedded uPlot is its pinned npm release. Installs
## Debian's chromium and firefox-esr when they are missing and the npm packages from
## the lockfiles.
.PHONY: test-js
test-js: build
	$(call apt_install,chromium,the headless browser of the JS client's tests; about 25 packages$(comma) 120 MB to download$(comma) 400 MB on disk,[ -x /usr/bin/chromium ])
	$(call apt_install,firefox-esr,the headless Firefox of the dashboard's tests; after chromium 2 packages$(comma) 81 MB to download$(comma) 310 MB on disk,[ -x /usr/bin/firefox-esr ])
	cd clients/js && npm ci --no-audit --no-fund
	cd dashboard/web && npm ci --no-audit --no-fund && npm run --silent check
	cd clients/js && WSGATE_BINARY=$(abspath $(BINARY)) npm test

## dashboard-assets: copy the dashboard's pinned npm package (uPlot, see
## dashboard/web/package.json) into dashboard/assets/vendor, which go:embed takes;
## run it after changing the pin, and commit the result. test-js checks the copies.
.PHONY: dashboard-assets
dashboard-assets:
	cd dashboard/web && npm ci --no-audit --no-fund && npm run --silent build

## test-slow-backend: the slow-backend test at the issue's scale: 10,000 connections,
## held by the load generator in a process of its own, keep receiving broadcasts while
## every connect callback times out (gateway/slowbackend_test.go; make test runs it
## with 1,000). About two minutes on 2 cores; without -race, whose slowdown of the
## node on 2 cores would be what it measures.
.PHONY: test-slow-backend
test-slow-backend: deps
	WSGATE_SLOW_BACKEND_CONNECTIONS=10000 $(GO) test -count=1 -timeout 10m -run '^TestASlowConnectCallbackStallsNoBroadcast$$' -v ./gateway/

## bench: Go benchmarks, each beside its baseline in the same run, then the short
## load suite (3,000 connections against wsgate, the seed's design and bare nbio;
## benchmarks/README.md). Under 5 minutes.
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./benchmarks/suite -short

## bench-full: the 15,000-connection load suite; results in benchmarks/results/full.
bench-full: deps
	$(GO) run ./benchmarks/suite

## bench-scale: 100,000 connections over six wsgate processes joined through one
## redis-server, one load generator worker per node (benchmarks/README.md, "100,000
## connections"); SCALE_FLAGS='-redis cluster' starts a 3-master Redis Cluster instead,
## SCALE_FLAGS='-redis-url ...' uses a Redis you run. Results in
## benchmarks/results/scale/<mode>/. About 5-6 minutes; not part of make test.
SCALE_FLAGS ?=
bench-scale: build deps-redis
	$(GO) build -o bin/loadgen ./benchmarks/loadgen
	$(GO) run ./benchmarks/scale -wsgate $(BINARY) -loadgen bin/loadgen $(SCALE_FLAGS)

## fuzz: every Fuzz* function of the module, found by go test -list (so a new one
## needs no edit here), each fuzzed for FUZZTIME (default 30s) one after the other:
## about targets x FUZZTIME plus the builds. FUZZ_FLAGS adds go test flags (e.g.
## -parallel 1). New failing inputs land in the package's testdata/fuzz/<name>/;
## make test runs every checked-in corpus as ordinary tests.
FUZZTIME   ?= 30s
FUZZ_FLAGS ?=
fuzz: deps
	@set -e; \
	listing=$$($(GO) test -list '^Fuzz' ./...); \
	targets=$$(echo "$$listing" | awk '/^Fuzz/ { names = names " " $$1 } /^ok / { split(names, list, " "); for (i in list) print $$2 ":" list[i]; names = "" }'); \
	count=$$(echo "$$targets" | grep -c . || true); \
	echo "fuzz: $$count targets, $(FUZZTIME) each: $$count x $(FUZZTIME) of fuzzing plus the builds"; \
	for target in $$targets; do \
		package=$${target%%:*}; name=$${target##*:}; \
		echo "fuzz: $$name in $$package"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $(FUZZ_FLAGS) $$package; \
	done

## soak: a node under churn for SOAK_DURATION (default 30m), sampled every 10 s;
## fails when memory, goroutines, open files or timers trend up after warm-up.
## Writes benchmarks/results/soak/ (benchmarks/README.md, "Soak").
SOAK_DURATION ?= 30m
SOAK_FLAGS    ?=
soak: build
	$(GO) run ./benchmarks/soak -binary $(BINARY) -duration $(SOAK_DURATION) $(SOAK_FLAGS)

clean:
	rm -rf bin dist
	$(GO) clean -testcache
