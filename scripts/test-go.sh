#!/usr/bin/env bash
# Builds and tests the Go binding (bindings/go):
#   1. release build of the library (bindings/go links target/release/libkatamari.a);
#   2. gofmt check, go vet (also of the katamari_bench benchmark files);
#   3. go test -race ./... (binding, demo and round-trip commands, examples, vectors);
#   4. the finalizer stress test once more without -race, where its RSS leak check is
#      meaningful (the race detector's own memory grows);
#   5. go test with GOEXPERIMENT=cgocheck2 (full cgo pointer checks); skip with
#      KAT_GO_CGOCHECK2=0.
# Environment: CARGO (default cargo), GO (default go), GO_TEST_ARGS (extra go test args).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

go=${GO:-go}
if ! command -v "$go" >/dev/null 2>&1; then
    echo "test-go: $go not found; the Go binding needs Go 1.24 or later" >&2
    exit 1
fi
version=$("$go" env GOVERSION)
minor=$(sed -n 's/^go1\.\([0-9]*\).*/\1/p' <<<"$version")
if [ -z "$minor" ] || [ "$minor" -lt 24 ]; then
    echo "test-go: $version is too old; the Go binding needs Go 1.24 or later" >&2
    exit 1
fi

"${CARGO:-cargo}" build --release --quiet

cd bindings/go
export CGO_ENABLED=1
# shellcheck disable=SC2086 # GO_TEST_ARGS is split on purpose
read -r -a extra <<<"${GO_TEST_ARGS:-}"

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
    echo "test-go: not gofmt-formatted:" >&2
    echo "$unformatted" >&2
    exit 1
fi
"$go" vet ./...
"$go" vet -tags katamari_bench ./...

echo "test-go: go test -race ./..."
"$go" test -race "${extra[@]}" ./...

echo "test-go: finalizer stress without -race (RSS leak check)"
"$go" test -count=1 -run '^TestFinalizerStress$' "${extra[@]}" .

if [ "${KAT_GO_CGOCHECK2:-1}" != 0 ]; then
    echo "test-go: GOEXPERIMENT=cgocheck2 go test ./..."
    GOEXPERIMENT=cgocheck2 "$go" test "${extra[@]}" ./...
fi
echo "test-go: ok"
