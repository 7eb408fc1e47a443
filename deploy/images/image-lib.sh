# Helpers shared by the image build scripts (sourced, not run): root filesystems assembled from
# this host's files, and docker builds skipped when the image's berth.content-hash label matches.

# Copies every shared library the files load (the dynamic loader included) into rootfs.
copy_libraries() { # rootfs file...
  local rootfs="$1" file lib
  shift
  for file in "$@"; do
    for lib in $(ldd "$file" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
      [ -e "$rootfs$lib" ] && continue
      mkdir -p "$rootfs$(dirname "$lib")"
      cp -L "$lib" "$rootfs$lib"
    done
  done
}

# Copies binaries, each at its own path, and the libraries they load into rootfs.
copy_binaries() { # rootfs file...
  local rootfs="$1" file
  for file in "${@:2}"; do
    mkdir -p "$rootfs$(dirname "$file")"
    cp -L "$file" "$rootfs$file"
  done
  copy_libraries "$@"
}

# A root filesystem with the given users (besides root and nobody) and a world-writable /tmp.
users_rootfs() { # rootfs [name:uid]...
  local rootfs="$1" entry
  shift
  mkdir -p "$rootfs/etc" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  for entry in "$@"; do
    printf '%s:x:%s:%s::/nonexistent:/sbin/nologin\n' "${entry%%:*}" "${entry#*:}" "${entry#*:}" >>"$rootfs/etc/passwd"
    printf '%s:x:%s:\n' "${entry%%:*}" "${entry#*:}" >>"$rootfs/etc/group"
  done
}

# A root filesystem with this host's node binary at /usr/local/bin/node, an empty /app, users.
node_rootfs() { # rootfs node [name:uid]...
  local rootfs="$1" node="$2"
  shift 2
  users_rootfs "$rootfs" "$@"
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/app"
  cp "$node" "$rootfs/usr/local/bin/node"
  copy_libraries "$rootfs" "$node"
}

content_hash() { # context
  (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-32)
}

label_of() { # tag
  docker image inspect -f '{{index .Config.Labels "berth.content-hash"}}' "$1" 2>/dev/null || true
}

# Builds context/file as tag unless the tag's content hash already matches; prints what it built.
build_image() { # context hash image tag dockerfile
  local context="$1" hash="$2" image="$3" tag="$4" file="$5" output
  [ "$(label_of "$tag")" = "$hash" ] && return 0
  # The legacy builder prints a deprecation notice on every build: show output only on failure.
  if ! output="$(docker build --quiet -f "$context/$file" --label "berth.content-hash=$hash" \
    --label "berth.image=$image" -t "$tag" "$context" 2>&1)"; then
    echo "docker build of $tag failed:" >&2
    echo "$output" >&2
    exit 1
  fi
  echo "built $tag"
}
