# Katamari: `make demo` runs the main job, `make test` runs every suite. Both install what
# a fresh machine lacks through scripts/setup.sh first.

SHELL := /bin/bash
CARGO ?= cargo
CC ?= cc
BUILD := build
DEMO_DIR := $(BUILD)/demo-data

.PHONY: all setup build release demo test test-rust test-abi lint header bench clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build

release: setup
	$(CARGO) build --release

## The main job: build the library and run the C example against one data directory.
demo: release
	@mkdir -p $(BUILD)
	@ln -sf libkatamari.so target/release/libkatamari.so.0
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude bindings/c/examples/demo.c \
		-Ltarget/release -lkatamari -Wl,-rpath,$(CURDIR)/target/release -o $(BUILD)/demo-c
	@rm -rf $(DEMO_DIR)
	$(BUILD)/demo-c $(DEMO_DIR)

## Every suite: formatting, lints, Rust unit and integration tests, the C tests (also
## under valgrind), the header freshness and panic-boundary checks, the bindgen ABI check.
test: setup lint test-rust test-abi

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
