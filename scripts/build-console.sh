#!/usr/bin/env bash
# Builds the web console (packages/console → packages/console/dist, served by the gateway at /ui)
# when it is missing or older than any of its sources, the SDK and proto code it bundles, or the
# lockfile. Silent when the build is current. Used by bootstrap.sh (npm start, npm test) and by
# the console's browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=packages/console/dist/.built
if [ -f "$stamp" ] && [ -z "$(find packages/console/app packages/console/src packages/console/index.html packages/console/docs.html \
  packages/console/vite.config.ts packages/console/package.json packages/sdk/src packages/proto/src \
  package-lock.json -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
echo "bootstrap: building the web console (npm run build -w @berth/console)"
if ! out=$(npm run build -w @berth/console 2>&1); then
  echo "$out" | tail -n 30 >&2
  echo "bootstrap: building the console failed" >&2
  exit 1
fi
touch "$stamp"
