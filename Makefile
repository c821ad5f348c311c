# wsgate: `make run` starts a server with its embedded defaults, `make test` runs
# every test (and installs what the tests need when it is missing).

GO        ?= go
BINARY    ?= bin/wsgate
TEST_FLAGS ?= -race -count=1 -timeout 15m

.PHONY: all build run test lint deps bench clean

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

test: deps lint
	$(GO) test $(TEST_FLAGS) ./...

## bench: Go benchmarks, each beside its baseline in the same run.
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
	$(GO) clean -testcache
