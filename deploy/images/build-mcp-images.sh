#!/usr/bin/env bash
# Builds the offline MCP test images without any registry:
#   berth/mcp-everything:stdio  @modelcontextprotocol/server-everything over stdio
#   berth/mcp-everything:http   the same over Streamable HTTP on port 3001, path /mcp (PORT)
# FROM scratch with this host's node binary, the libraries ldd lists, and the server's npm
# dependency closure copied from the repository's node_modules. Idempotent: an image whose
# berth.content-hash label matches the build context is left alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PACKAGE="@modelcontextprotocol/server-everything"
REPO="berth/mcp-everything"

command -v docker >/dev/null || { echo "build-mcp-images: docker is not installed" >&2; exit 1; }
[ -d "$ROOT/node_modules/$PACKAGE" ] || {
  echo "build-mcp-images: $PACKAGE is missing; run npm ci first" >&2
  exit 1
}
NODE="$(readlink -f "$(command -v node)")"
CONTEXT="$(mktemp -d "${TMPDIR:-/tmp}/berth-mcp-image.XXXXXX")"
trap 'rm -rf "$CONTEXT"' EXIT
ROOTFS="$CONTEXT/rootfs"
mkdir -p "$ROOTFS/usr/local/bin" "$ROOTFS/app" "$ROOTFS/etc" "$ROOTFS/tmp"
chmod 1777 "$ROOTFS/tmp"

# The node binary and every shared library it loads (the dynamic loader included).
cp "$NODE" "$ROOTFS/usr/local/bin/node"
for lib in $(ldd "$NODE" | grep -o '/[^ ]*' | sort -u); do
  mkdir -p "$ROOTFS$(dirname "$lib")"
  cp -L "$lib" "$ROOTFS$lib"
done
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOTFS/etc/group"

# The server package and its runtime dependency closure, resolved the way node resolves them.
node - "$ROOT" "$PACKAGE" "$ROOTFS/app" <<'JS'
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

# The Dockerfile is part of the hash: a change to it rebuilds the images.
dockerfile() { # mode port
  printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin NODE_ENV=production HOME=/tmp\n'
  printf 'WORKDIR /app\nUSER 65534:65534\n'
  printf 'ENTRYPOINT ["/usr/local/bin/node", "/app/node_modules/%s/dist/index.js"]\n' "$PACKAGE"
  printf 'CMD ["%s"]\n' "$1"
  if [ -n "$2" ]; then printf 'ENV PORT=%s\nEXPOSE %s\n' "$2" "$2"; fi
}
dockerfile stdio "" >"$CONTEXT/Dockerfile.stdio"
dockerfile streamableHttp 3001 >"$CONTEXT/Dockerfile.http"
HASH="$(cd "$CONTEXT" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-32)"

build() { # tag dockerfile
  local tag="$1" file="$2" current output
  current="$(docker image inspect -f '{{index .Config.Labels "berth.content-hash"}}' "$tag" 2>/dev/null || true)"
  [ "$current" = "$HASH" ] && return 0
  # The legacy builder prints a deprecation notice on every build: show output only on failure.
  if ! output="$(docker build --quiet -f "$CONTEXT/$file" --label "berth.content-hash=$HASH" \
    --label "berth.image=mcp-everything" -t "$tag" "$CONTEXT" 2>&1)"; then
    echo "build-mcp-images: docker build of $tag failed:" >&2
    echo "$output" >&2
    exit 1
  fi
  echo "built $tag"
}

build "$REPO:stdio" Dockerfile.stdio
build "$REPO:http" Dockerfile.http
