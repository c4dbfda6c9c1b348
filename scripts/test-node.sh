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

bash scripts/build-node-addon.sh
cd bindings/node

echo "test-node: tsc --noEmit"
npm run --silent typecheck

echo "test-node: node --expose-gc --test"
# shellcheck disable=SC2086
node --expose-gc --test --test-reporter=spec ${NODE_TEST_ARGS:-} test/*.test.js
