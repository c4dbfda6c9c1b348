# Katamari: `make demo` runs the main job, `make test` runs every suite. Both install what
# a fresh machine lacks through scripts/setup.sh first.

SHELL := /bin/bash
CARGO ?= cargo
CC ?= cc
BUILD := build
DEMO_DIR := $(BUILD)/demo-data

.PHONY: all setup build release demo test test-rust test-abi test-cmake test-go test-node \
	test-roundtrip test-fuzz test-sanitize lint header bench install clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build

release: setup
	$(CARGO) build --release

## The main job: build the library, then a C, a Go and a Node program use one data
## directory in turn, each reading what the others wrote and adding its own keys.
demo: release
	@mkdir -p $(BUILD)
	@ln -sf libkatamari.so target/release/libkatamari.so.0
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude bindings/c/examples/demo.c \
		-Ltarget/release -lkatamari -Wl,-rpath,$(CURDIR)/target/release -o $(BUILD)/demo-c
	@rm -rf $(DEMO_DIR)
	@echo "== C"
	$(BUILD)/demo-c $(DEMO_DIR)
	@echo "== Go"
	cd bindings/go && go run ./cmd/katamari-demo $(CURDIR)/$(DEMO_DIR)
	@echo "== Node"
	@bash scripts/build-node-addon.sh
	node bindings/node/examples/demo.js $(DEMO_DIR)

## Every suite: formatting, lints, Rust unit and integration tests (with the C and C++
## programs, also under valgrind, the cross-language vectors, the header freshness and
## panic-boundary checks, the power-loss, fault, corruption and kill -9 sweeps), the
## bindgen ABI check, the CMake and pkg-config consumers, the Go and Node bindings, the
## cross-language round trip, and the sanitizer runs. (`make test-fuzz` replays the fuzz
## reproducers and fuzzes each target briefly: separate, since a fuzzing run may find
## something new at any time.)
test: setup lint test-rust test-abi test-cmake test-go test-node test-roundtrip test-sanitize

## Each fuzz target briefly (KAT_FUZZ_SECS per target; docs/FUZZING.md for long runs).
test-fuzz: setup
	bash scripts/fuzz.sh

## C programs under AddressSanitizer/UBSan, Go with -race and cgocheck, Node with --expose-gc.
test-sanitize: setup
	bash scripts/sanitize.sh

test-cmake: setup
	bash scripts/test-cmake.sh

test-go: setup
	bash scripts/test-go.sh

test-node: setup
	bash scripts/test-node.sh

## Runs after the Go and Node suites, which build the tools it uses.
test-roundtrip: setup
	ROUNDTRIP_STRICT=1 bash scripts/roundtrip.sh

## Installs the library, header, CMake package and pkg-config file under PREFIX.
install: setup
	@test -n "$(PREFIX)" || { echo "usage: make install PREFIX=<dir>" >&2; exit 2; }
	bash scripts/install.sh "$(PREFIX)"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) fmt --manifest-path tests/abi-check/Cargo.toml -- --check
	$(CARGO) clippy --manifest-path tests/abi-check/Cargo.toml --all-targets -- -D warnings

test-rust:
	KAT_VALGRIND=1 $(CARGO) test

test-abi: build
	KATAMARI_LIB_DIR=$(CURDIR)/target/debug $(CARGO) test --manifest-path tests/abi-check/Cargo.toml

## Regenerate include/katamari.h from src/ffi (commit the result).
header:
	KATAMARI_WRITE_HEADER=1 $(CARGO) build

## Benchmarks (release); KAT_BENCH_QUICK=1 for a smoke run.
bench: setup
	$(CARGO) bench --bench engine

clean:
	$(CARGO) clean
	rm -rf $(BUILD) tests/abi-check/target
