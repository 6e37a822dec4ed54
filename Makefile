# Scopegate: the two commands a newcomer needs are `make run` and `make test`.
# Every prerequisite is installed by these targets.

GO       ?= go
CADDY    ?= ./caddy
CONFIG   ?= Caddyfile

SOAK_DURATION ?= 10m
SOAK_CLIENTS  ?= 300

.PHONY: build run test test-short test-deps fuzz bench bench-table bench-readme soak docs clean

## build: ./caddy from xcaddy.json (installs xcaddy itself)
build:
	$(GO) run ./internal/cmd/xcaddybuild -recipe xcaddy.json -o $(CADDY)

## run: build the binary and start it with the sample Caddyfile
run: build
	$(CADDY) run --config $(CONFIG) --adapter caddyfile

## test-short: the fast layer (unit, fuzz seeds, adapt goldens), about a minute
test-short:
	$(GO) test -short ./...

## test-deps: install what the end-to-end tests start (Debian packages, npm tools)
test-deps:
	scripts/install-test-deps

## test: the whole suite, end-to-end tests with real peers included (what CI runs)
test: test-deps build
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	SCOPEGATE_CADDY=$(abspath $(CADDY)) $(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v /tests/soak$$)
	@# The soak loads the machine on purpose: it runs alone, for 60 s.
	SCOPEGATE_CADDY=$(abspath $(CADDY)) $(GO) test -count=1 -timeout 10m ./tests/soak

## fuzz: a short run of every fuzz target
fuzz:
	scripts/fuzz-all 20s

# BENCHFLAGS are scopebench's flags, e.g. BENCHFLAGS='-duration 10s -rounds 3 -c 32'
BENCHFLAGS ?=

## bench: the Go benchmarks of the gateway and the backend, then the built binary side by side (scopebench)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./caddymodule/... ./mcpbackend/...
	SCOPEGATE_CADDY=$(abspath $(CADDY)) $(GO) test -run '^$$' -bench ThroughBinary -benchtime 2000x ./tests/e2e
	$(GO) run ./internal/cmd/scopebench -caddy $(CADDY) $(BENCHFLAGS)

## bench-table: only the side-by-side table of the built binary
bench-table: build
	$(GO) run ./internal/cmd/scopebench -caddy $(CADDY) $(BENCHFLAGS)

## bench-readme: the side-by-side table, written into README.md's Performance section
bench-readme: build
	$(GO) run ./internal/cmd/scopebench -caddy $(CADDY) -readme README.md $(BENCHFLAGS)

## soak: SOAK_CLIENTS clients through the built binary for SOAK_DURATION (default 10m),
## then the arrival check, Caddy's RSS and goroutine trend and a summary table
## (make test runs the same soak for 60 s)
soak: build
	SCOPEGATE_CADDY=$(abspath $(CADDY)) $(GO) test -count=1 -v -run '^TestSoak$$' -timeout 0 ./tests/soak \
		-soak.duration $(SOAK_DURATION) -soak.clients $(SOAK_CLIENTS)

## docs: regenerate docs/tools.md from the backend's tools/list (held by a golden test)
docs:
	$(GO) generate ./internal/cmd/tooldocs

clean:
	rm -f $(CADDY)
