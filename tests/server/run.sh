#!/bin/sh
# Runs one node test of herd serve (tests/server/NAME.test.mjs) against HERD_BINARY.
# Exits 77 (CTest: skipped) with a message when node, the npm packages or Chromium are missing.
# Install: npm ci --prefix tests/server   (and for the browser test: apt-get install chromium)
set -u
dir=$(cd "$(dirname "$0")" && pwd)
name=$1
export HERD_BINARY=$2
if ! command -v node >/dev/null 2>&1; then echo "SKIP: node is not installed"; exit 77; fi
if [ ! -d "$dir/node_modules/openai" ] || [ ! -d "$dir/node_modules/playwright-core" ]; then
  echo "SKIP: npm packages missing; run: npm ci --prefix tests/server"; exit 77
fi
if [ "$name" = browser ] && [ ! -x /usr/bin/chromium ]; then
  echo "SKIP: /usr/bin/chromium missing; run: apt-get install chromium"; exit 77
fi
exec node --test --test-concurrency=1 "$dir/$name.test.mjs"
