#!/usr/bin/env bash
# Builds Ferry's addons against the N-API headers that come with Node.js: LZ4 (ferry-lz4.c,
# Debian's liblz4), AES-256-GCM (ferry-aead.c, which opens Debian's libcrypto.so.3 at run
# time), Argon2id (ferry-argon2.c, which opens Debian's libargon2.so.1 at run time) and
# whole-file writes on libuv's pool (ferry-files.c).
# A second run with nothing changed does nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
fresh() { [ -f "build/$1.node" ] && [ "build/$1.node" -nt "$1.c" ] && [ "build/$1.node" -nt build.sh ] && [ "build/$1.node" -nt napi-bytes.h ]; }
fresh ferry-lz4 && fresh ferry-aead && fresh ferry-argon2 && fresh ferry-files && exit 0
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
include=""
for dir in "$node_prefix/include/node" /usr/include/node /usr/local/include/node; do
  [ -f "$dir/node_api.h" ] && include=$dir && break
done
if [ -z "$include" ]; then
  echo "native: node_api.h not found (Node.js headers); looked in $node_prefix/include/node, /usr/include/node, /usr/local/include/node" >&2
  exit 1
fi
mkdir -p build
build() {
  local name=$1
  shift
  cc -O2 -Wall -Wextra -Werror -shared -fPIC -I"$include" -o "build/$name.node.tmp" "$name.c" "$@"
  mv "build/$name.node.tmp" "build/$name.node"
  echo "native: built build/$name.node"
}
build ferry-lz4 -llz4
build ferry-aead -ldl
build ferry-argon2 -ldl
build ferry-files
