#!/usr/bin/env bash
# Builds the Node addon (bindings/node) against the release static library:
#   1. set-up check (scripts/setup.d/node.sh), release build of the static library;
#   2. npm ci from the committed package-lock.json (skipped when node_modules is current;
#      --ignore-scripts: the addon is built explicitly next);
#   3. node-gyp build of the addon against the local headers (npm_config_nodedir=/usr),
#      linking target/release/libkatamari.a.
# Used by `make demo` and scripts/test-node.sh. Environment: CARGO (default cargo).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.d/node.sh
"${CARGO:-cargo}" build --release --quiet

cd bindings/node
export npm_config_nodedir=/usr
# npm 11 warns that nodedir is not one of its own settings; node-gyp reads it.
export npm_config_loglevel=error
npm_flags=(--no-audit --no-fund --prefer-offline --ignore-scripts)
if [ ! -f node_modules/.package-lock.json ] ||
    [ package-lock.json -nt node_modules/.package-lock.json ] ||
    [ package.json -nt node_modules/.package-lock.json ]; then
    echo "build-node-addon: npm ci"
    npm ci "${npm_flags[@]}" >/dev/null
fi

echo "build-node-addon: building the addon (node-gyp, nodedir=/usr)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! npm run --silent build -- --nodedir=/usr >"$log" 2>&1; then
    cat "$log" >&2
    echo "build-node-addon: node-gyp build failed" >&2
    exit 1
fi

