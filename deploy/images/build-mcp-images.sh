#!/usr/bin/env bash
# Builds the offline MCP test images without any registry:
#   berth/mcp-everything:stdio    @modelcontextprotocol/server-everything over stdio
#   berth/mcp-everything:http     the same over Streamable HTTP on port 3001, path /mcp (PORT)
#   berth/mcp-conformance:stdio   Berth's conformance fixture (test/fixtures/conformance-server)
#   berth/mcp-conformance:http    the same over Streamable HTTP on port 3000, path /mcp (PORT)
#   berth/mcp-guard:1             the runtime's port guard in front of every HTTP-transport server
#                                 (deploy/images/guard/berth-guard.cjs; see SECURITY.md)
# FROM scratch with this host's node binary, the libraries ldd lists, and the server's npm
# dependency closure copied from the repository's node_modules (the fixture is compiled with the
# repository's tsc first). Idempotent: an image whose berth.content-hash label matches its build
# context is left alone. Arguments name the sets to build (everything, conformance, guard); none:
# all.
set -euo pipefail

SETS="${*:-everything conformance guard}"
wants() { [[ " $SETS " == *" $1 "* ]]; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EVERYTHING="@modelcontextprotocol/server-everything"
SDK="@modelcontextprotocol/sdk"
FIXTURE="test/fixtures/conformance-server"

command -v docker >/dev/null || { echo "build-mcp-images: docker is not installed" >&2; exit 1; }
for package in "$EVERYTHING" "$SDK" typescript; do
  [ -d "$ROOT/node_modules/$package" ] || {
    echo "build-mcp-images: $package is missing; run npm ci first" >&2
    exit 1
  }
done
NODE="$(readlink -f "$(command -v node)")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/berth-mcp-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=deploy/images/image-lib.sh
source "$ROOT/deploy/images/image-lib.sh"

# A root filesystem with the node binary, every shared library it loads (the dynamic loader
# included), a nobody user and a world-writable /tmp.
base_rootfs() { # rootfs
  node_rootfs "$1" "$NODE"
}

# A package and its runtime dependency closure, resolved the way node resolves them, copied to
# <target>/node_modules/… (the same relative paths as in the repository).
copy_closure() { # package target
  node - "$ROOT" "$1" "$2" <<'JS'
const fs = require("node:fs");
const path = require("node:path");
const [root, start, target] = process.argv.slice(2);
const seen = new Set();
function find(name, from) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(candidate, "package.json"))) return fs.realpathSync(candidate);
    if (dir === root || dir === path.dirname(dir)) return undefined;
  }
}
function visit(dir) {
  if (seen.has(dir)) return;
  seen.add(dir);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    const found = find(name, dir);
    if (!found) throw new Error(`dependency ${name} of ${pkg.name} is not installed`);
    visit(found);
  }
  for (const name of Object.keys(pkg.optionalDependencies ?? {})) {
    const found = find(name, dir);
    if (found) visit(found);
  }
}
visit(find(start, root));
for (const dir of [...seen].sort()) {
  const destination = path.join(target, path.relative(root, dir));
  fs.cpSync(dir, destination, {
    recursive: true,
    dereference: true,
    filter: (source) => !source.startsWith(path.join(dir, "node_modules")),
  });
}
JS
}

# The Dockerfile is part of the hash: a change to it rebuilds the images.
dockerfile() { # entrypoint-script mode port
  printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin NODE_ENV=production HOME=/tmp\n'
  printf 'WORKDIR /app\nUSER 65534:65534\n'
  printf 'ENTRYPOINT ["/usr/local/bin/node", "%s"]\n' "$1"
  printf 'CMD ["%s"]\n' "$2"
  if [ -n "$3" ]; then printf 'ENV PORT=%s\nEXPOSE %s\n' "$3" "$3"; fi
  if [ -n "${4:-}" ]; then printf '%s\n' "$4"; fi
}

build() { # context hash image tag dockerfile
  build_image "$@" || exit 1
}

build_everything() {
  # server-everything: the package's own entry point, stdio or streamableHttp.
  CONTEXT="$WORK/everything"
  base_rootfs "$CONTEXT/rootfs"
  copy_closure "$EVERYTHING" "$CONTEXT/rootfs/app"
  ENTRY="/app/node_modules/$EVERYTHING/dist/index.js"
  dockerfile "$ENTRY" stdio "" >"$CONTEXT/Dockerfile.stdio"
  dockerfile "$ENTRY" streamableHttp 3001 >"$CONTEXT/Dockerfile.http"
  HASH="$(content_hash "$CONTEXT")"
  build "$CONTEXT" "$HASH" mcp-everything berth/mcp-everything:stdio Dockerfile.stdio
  build "$CONTEXT" "$HASH" mcp-everything berth/mcp-everything:http Dockerfile.http
}

build_conformance() {
  # The conformance fixture: compiled to /app/*.js (ESM), with the MCP SDK's closure beside it.
  CONTEXT="$WORK/conformance"
  # Compiling and copying take most of a minute on a busy machine; when nothing that goes into
  # the images changed (the fixture, this script, node, the SDK's version, the lockfile), stop.
  HASH="$( (
    cat "$ROOT/$FIXTURE"/*.ts "${BASH_SOURCE[0]}" "$ROOT/node_modules/$SDK/package.json" \
      "$ROOT/package-lock.json"
    node --version
  ) | sha256sum | cut -c1-32)"
  if [ "$(label_of berth/mcp-conformance:stdio)" = "$HASH" ] &&
    [ "$(label_of berth/mcp-conformance:http)" = "$HASH" ]; then
    return 0
  fi
  base_rootfs "$CONTEXT/rootfs"
  copy_closure "$SDK" "$CONTEXT/rootfs/app"
  "$ROOT/node_modules/.bin/tsc" --outDir "$CONTEXT/rootfs/app" --rootDir "$ROOT/$FIXTURE" \
    --module nodenext --moduleResolution nodenext --target es2023 --lib es2023 --types node \
    --strict --skipLibCheck --noEmitOnError --typeRoots "$ROOT/node_modules/@types" \
    "$ROOT/$FIXTURE/main.ts" "$ROOT/$FIXTURE/conformance-server.ts" "$ROOT/$FIXTURE/http-endpoint.ts"
  printf '{ "name": "berth-conformance-server", "private": true, "type": "module" }\n' \
    >"$CONTEXT/rootfs/app/package.json"
  dockerfile /app/main.js stdio "" >"$CONTEXT/Dockerfile.stdio"
  # Docker publishes the port from outside the container's loopback: listen on every interface.
  dockerfile /app/main.js http 3000 "ENV HOST=0.0.0.0" >"$CONTEXT/Dockerfile.http"
  build "$CONTEXT" "$HASH" mcp-conformance berth/mcp-conformance:stdio Dockerfile.stdio
  build "$CONTEXT" "$HASH" mcp-conformance berth/mcp-conformance:http Dockerfile.http
}

build_guard() {
  # The port guard: node and one script, nothing else (no npm dependencies).
  CONTEXT="$WORK/guard"
  base_rootfs "$CONTEXT/rootfs"
  cp "$ROOT/deploy/images/guard/berth-guard.cjs" "$CONTEXT/rootfs/app/berth-guard.cjs"
  dockerfile /app/berth-guard.cjs "" 8080 "ENV GUARD_PORT=8080" | sed '/^CMD/d' >"$CONTEXT/Dockerfile"
  HASH="$(content_hash "$CONTEXT")"
  build "$CONTEXT" "$HASH" mcp-guard berth/mcp-guard:1 Dockerfile
}

for set in $SETS; do
  case "$set" in
    everything | conformance | guard) ;;
    *)
      echo "build-mcp-images: unknown image set $set (everything, conformance, guard)" >&2
      exit 2
      ;;
  esac
done
if wants everything; then build_everything; fi
if wants conformance; then build_conformance; fi
if wants guard; then build_guard; fi
