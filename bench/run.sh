#!/usr/bin/env bash
# npm run bench: the machine set-up npm test uses (engines, Docker, npm dependencies), the pinned
# peers in bench/node_modules, the offline MCP images, the compiled services, then the bench
# itself (bench/src/main.ts).
# BENCH_QUICK=1 makes a smoke run of a minute or two whose figures mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh test

# The peers are pinned in bench/package-lock.json; installed again only when it changed.
if [ ! -f bench/node_modules/.package-lock.json ] ||
  [ bench/package-lock.json -nt bench/node_modules/.package-lock.json ]; then
  echo "bench: installing the pinned peers (supergateway, mcp-proxy, autocannon) into bench/node_modules"
  flock /tmp/berth-npm.lock npm ci --prefix bench --no-audit --no-fund --loglevel=error
fi

bash deploy/images/build-mcp-images.sh >/dev/null

# The services run compiled, as npm start runs them (a no-op when dist/ is up to date).
node --import tsx scripts/build.ts

exec node --import tsx bench/src/main.ts
