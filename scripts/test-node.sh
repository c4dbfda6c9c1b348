#!/usr/bin/env bash
# Builds and tests the Node binding (bindings/node), offline once its npm packages are
# cached:
#   1. set-up check (scripts/setup.d/node.sh), release build of the static library;
#   2. npm ci from the committed package-lock.json (skipped when node_modules is current;
#      --ignore-scripts: the addon is built explicitly next);
#   3. node-gyp build of the addon against the local headers (npm_config_nodedir=/usr),
#      linking target/release/libkatamari.a;
#   4. tsc --noEmit of index.d.ts against test/types.ts;
#   5. node --expose-gc --test test/*.test.js.
# Environment: CARGO (default cargo), NODE_TEST_ARGS (extra arguments for node --test).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

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
    echo "test-node: npm ci"
    npm ci "${npm_flags[@]}" >/dev/null
fi

echo "test-node: building the addon (node-gyp, nodedir=/usr)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! npm run --silent build -- --nodedir=/usr >"$log" 2>&1; then
    cat "$log" >&2
    echo "test-node: node-gyp build failed" >&2
    exit 1
fi

echo "test-node: tsc --noEmit"
npm run --silent typecheck

echo "test-node: node --expose-gc --test"
# shellcheck disable=SC2086
node --expose-gc --test --test-reporter=spec ${NODE_TEST_ARGS:-} test/*.test.js
