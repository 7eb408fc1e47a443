#!/usr/bin/env bash
# Builds Berth's own images without any registry (tag: the package version, e.g. 0.1.0):
#   berth/registry, berth/instances, berth/runtime, berth/gateway
#                        the service's user, NODE_OPTIONS (the V8 settings of SERVICE_V8_FLAGS in
#                        scripts/start/build.ts) and entry point,
#                        `node --conditions=berth-dist services/<name>/dist/main.js`, on
#   berth/services-base  the compiled services (npm run build) and their production npm closure
#                        (scripts/images/service-tree.ts) on berth/node-base
#   berth/postgres       this host's Postgres 15 server (/usr/lib/postgresql/15), initdb on first
#                        start (deploy/images/postgres/berth-postgres.sh)
#   berth/nats           this host's nats-server, configured by /etc/nats/nats.conf
#   berth/compose-init   deploy/compose's one-shot credentials step (scripts/compose-init.ts)
#   berth/node-base      this host's node binary and its libraries: the layer the node images share
# Each runs as a user of its own (deploy/images/service-users.json), needs no writable root
# filesystem, and is FROM scratch (or node-base) with files copied from this machine. Idempotent:
# nothing is rebuilt when its inputs (compiled code, lockfile, these scripts, node, the engines'
# binaries) did not change. Needs the services compiled first (npm run build).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=deploy/images/image-lib.sh
source "$ROOT/deploy/images/image-lib.sh"
command -v docker >/dev/null || { echo "build-berth-images: docker is not installed" >&2; exit 1; }
VERSION="$(node -p 'require(process.argv[1]).version' "$ROOT/package.json")"
NODE="$(readlink -f "$(command -v node)")"
PG=/usr/lib/postgresql/15
NATS="$(command -v nats-server || echo /usr/sbin/nats-server)"
SERVICES=(registry instances runtime gateway)
uid_of() { node -p "require('$ROOT/deploy/images/service-users.json')['$1']"; }
# The V8 settings every service runs with (SERVICE_V8_FLAGS in scripts/start/build.ts), set as
# NODE_OPTIONS so they hold for the image's entry point and for one a deployment writes itself.
V8_FLAGS="$("$ROOT/node_modules/.bin/tsx" -e 'import(process.argv[1]).then((m) => console.log(m.SERVICE_V8_FLAGS.join(" ")))' "$ROOT/scripts/start/build.ts")"

for service in "${SERVICES[@]}"; do
  [ -f "$ROOT/services/$service/dist/main.js" ] || {
    echo "build-berth-images: services/$service/dist is missing: run npm run build first" >&2
    exit 1
  }
done
[ -x "$PG/bin/postgres" ] || { echo "build-berth-images: $PG is missing (apt-get install postgresql-15)" >&2; exit 1; }
[ -x "$NATS" ] || { echo "build-berth-images: nats-server is missing (apt-get install nats-server)" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/berth-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# What an image is made of (paths under the repository), hashed before any tree is copied: an
# unchanged build costs a few seconds.
inputs_hash() { # path...
  (
    cd "$ROOT"
    find "$@" deploy/images/image-lib.sh deploy/images/service-users.json \
      deploy/images/build-berth-images.sh \
      -type f ! -name '*.map' ! -name '*.d.ts' ! -name '.tsbuildinfo' -print0 |
      sort -z | xargs -0 sha256sum
    sha256sum package-lock.json
    node --version
  ) | sha256sum | cut -c1-32
}

# One layer holds the four services' code and their npm closure (they share most of it), so
# each service image adds only its user and entry point: one copy on disk, one slow COPY.
build_services() { # hash base
  local hash="$1" base="$2" context service
  context="$WORK/services"
  mkdir -p "$context"
  "$ROOT/node_modules/.bin/tsx" "$ROOT/scripts/images/service-tree.ts" "$context/app" "${SERVICES[@]}"
  printf 'FROM %s\nCOPY app/ /app/\n' "$base" >"$context/Dockerfile"
  build_image "$context" "$hash" services-base "berth/services-base:$VERSION" Dockerfile
  for service in "${SERVICES[@]}"; do
    context="$WORK/$service"
    mkdir -p "$context"
    {
      printf 'FROM berth/services-base:%s\nUSER %s:%s\n' "$VERSION" "$(uid_of "$service")" "$(uid_of "$service")"
      printf 'ENV NODE_OPTIONS="%s"\n' "$V8_FLAGS"
      printf 'ENTRYPOINT ["/usr/local/bin/node", "--conditions=berth-dist", "services/%s/dist/main.js"]\n' "$service"
    } >"$context/Dockerfile"
    build_image "$context" "$hash" "$service" "berth/$service:$VERSION" Dockerfile
  done
}

build_node_images() {
  local hash init_hash base="berth/node-base:$(node --version | tr -d v)" service context
  local services_current=true
  hash="$(inputs_hash services/*/dist services/gateway/openapi.json packages/{spec,proto,platform}/dist \
    packages/console/lib packages/console/dist catalog scripts/images scripts/start/build.ts)"
  init_hash="$(inputs_hash scripts/compose-init.ts scripts/start packages/testkit/src/nats-users.ts \
    packages/platform/src/grpc/mesh-pki.ts services/gateway/src/api-keys/key-format.ts \
    services/runtime/src/drivers/docker/launcher)"
  for service in "${SERVICES[@]}"; do
    [ "$(label_of "berth/$service:$VERSION")" = "$hash" ] || services_current=false
  done
  if [ "$services_current" = true ] && [ "$(label_of "berth/compose-init:$VERSION")" = "$init_hash" ]; then
    return 0
  fi

  context="$WORK/node-base"
  local users=()
  for service in "${SERVICES[@]}"; do users+=("berth-$service:$(uid_of "$service")"); done
  node_rootfs "$context/rootfs" "$NODE" "${users[@]}"
  printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin NODE_ENV=production HOME=/tmp\nWORKDIR /app\nUSER 65534:65534\n' \
    >"$context/Dockerfile"
  build_image "$context" "$(content_hash "$context")" node-base "$base" Dockerfile

  if [ "$services_current" = false ]; then
    build_services "$hash" "$base"
  fi
  # The init step: one bundled file (its imports inlined by esbuild) and the runtime's launcher.
  context="$WORK/compose-init"
  mkdir -p "$context/app"
  "$ROOT/node_modules/.bin/esbuild" "$ROOT/scripts/compose-init.ts" --bundle --platform=node \
    --format=esm --target=node20 --log-level=warning --outfile="$context/app/compose-init.mjs" \
    --banner:js='import { createRequire } from "node:module"; const require = createRequire(import.meta.url);'
  # (node-forge is CommonJS and requires node's modules: the banner gives the bundle a require.)
  cp "$ROOT/services/runtime/src/drivers/docker/launcher/berth-launch.cjs" "$context/app/"
  printf 'FROM %s\nCOPY app/ /app/\nUSER 0:0\nENTRYPOINT ["/usr/local/bin/node", "/app/compose-init.mjs"]\n' \
    "$base" >"$context/Dockerfile"
  build_image "$context" "$init_hash" compose-init "berth/compose-init:$VERSION" Dockerfile
}

build_postgres() {
  local context="$WORK/postgres" uid lib
  uid="$(uid_of postgres)"
  users_rootfs "$context/rootfs" "postgres:$uid"
  copy_binaries "$context/rootfs" "$PG/bin/postgres" "$PG/bin/initdb" "$PG/bin/pg_isready" /bin/sh
  # Server modules (procedural language, dictionaries, encoding conversions) without the LLVM
  # JIT, which would pull in libLLVM (jit is off).
  mkdir -p "$context/rootfs$PG/lib"
  for lib in "$PG"/lib/*.so; do
    case "$(basename "$lib")" in llvmjit*) continue ;; esac
    copy_binaries "$context/rootfs" "$lib"
  done
  mkdir -p "$context/rootfs/usr/share/postgresql" "$context/rootfs/usr/share/zoneinfo"
  cp -a /usr/share/postgresql/15 "$context/rootfs/usr/share/postgresql/"
  cp -a /usr/share/zoneinfo/. "$context/rootfs/usr/share/zoneinfo/"
  mkdir -p "$context/rootfs/data" "$context/rootfs/usr/local/bin"
  chown "$uid:$uid" "$context/rootfs/data"
  chmod 700 "$context/rootfs/data"
  cp "$ROOT/deploy/images/postgres/berth-postgres.sh" "$context/rootfs/usr/local/bin/berth-postgres"
  printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin:%s/bin TZ=UTC LANG=C\nUSER %s:%s\nENTRYPOINT ["/usr/local/bin/berth-postgres"]\n' \
    "$PG" "$uid" "$uid" >"$context/Dockerfile"
  build_image "$context" "$(content_hash "$context")" postgres "berth/postgres:$VERSION" Dockerfile
}

build_nats() {
  local context="$WORK/nats" uid
  uid="$(uid_of nats)"
  users_rootfs "$context/rootfs" "nats:$uid"
  copy_binaries "$context/rootfs" "$NATS"
  mkdir -p "$context/rootfs/data"
  chown "$uid:$uid" "$context/rootfs/data"
  printf 'FROM scratch\nCOPY rootfs/ /\nUSER %s:%s\nENTRYPOINT ["%s", "-c", "/etc/nats/nats.conf"]\n' \
    "$uid" "$uid" "$NATS" >"$context/Dockerfile"
  build_image "$context" "$(content_hash "$context")" nats "berth/nats:$VERSION" Dockerfile
}

build_node_images
build_postgres
build_nats
