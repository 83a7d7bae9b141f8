# Planet. `make demo` runs the whole three-region platform on this machine
# with a scripted scenario; `make test` runs every test. Only Go is needed.

GO        ?= go
BIN       := bin/planet
FUZZTIME  ?= 30s

.PHONY: all build demo deps test vet scripts-check bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/planet

demo: build
	BIN=$(BIN) bash scripts/demo.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

# What the tests need besides Go (a C compiler for -race); installs it as
# root, otherwise prints the command to run.
deps:
	@bash scripts/deps.sh

# The deployment scripts and systemd units: shellcheck, systemd-analyze
# verify and security, install.sh's dry run and nftables ruleset (nft -c),
# deploy.sh against a fake ssh. Changes nothing on this machine.
scripts-check: deps
	@bash scripts/check.sh

# Every test, with the race detector (the integration tests build the planet
# binary with -race too, and fail on a data race in a child process).
test: deps vet scripts-check
	$(GO) test -race -count=1 -timeout 20m ./...

# System benchmarks (real processes, run once) and micro-benchmarks.
# Not part of CI: run them alone on a quiet machine.
bench:
	@bash scripts/deps.sh bench
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./internal/e2e/
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./discovery/
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./storage/... ./internal/resp/ ./internal/peer/

# Coverage-guided fuzzing of every fuzz target (every parser), FUZZTIME each.
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz.sh

clean:
	rm -rf bin
