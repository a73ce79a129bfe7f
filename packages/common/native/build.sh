#!/usr/bin/env bash
# Builds Ferry's addons against the N-API headers that come with Node.js: LZ4 (ferry-lz4.c,
# Debian's liblz4), AES-256-GCM (ferry-aead.c, which opens Debian's libcrypto.so.3 at run
# time), Argon2id (ferry-argon2.c, which opens Debian's libargon2.so.1 at run time),
# whole-file writes on libuv's pool (ferry-files.c), and chunk naming and encoding on threads
# of its own (ferry-chunks.c: BLAKE3's C sources, which Debian ships in librust-blake3-dev,
# compiled in, and liblz4).
# A second run with nothing changed does nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
fresh() { [ -f "build/$1.node" ] && [ "build/$1.node" -nt "$1.c" ] && [ "build/$1.node" -nt build.sh ] && [ "build/$1.node" -nt napi-bytes.h ] && [ "build/$1.node" -nt libcrypto-gcm.h ] && [ "build/$1.node" -nt chunk-work.h ]; }
fresh ferry-lz4 && fresh ferry-aead && fresh ferry-argon2 && fresh ferry-files && fresh ferry-chunks && exit 0
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
blake3=$(ls -d /usr/share/cargo/registry/blake3-*/c 2>/dev/null | sort -V | tail -1)
if [ ! -f "$blake3/blake3.c" ]; then
  echo "native: BLAKE3's C sources not found (/usr/share/cargo/registry/blake3-*/c): install Debian's librust-blake3-dev" >&2
  exit 1
fi
blake3_sources=("$blake3/blake3.c" "$blake3/blake3_dispatch.c" "$blake3/blake3_portable.c")
if [ "$(uname -m)" = x86_64 ]; then
  for isa in sse2 sse41 avx2 avx512; do blake3_sources+=("$blake3/blake3_${isa}_x86-64_unix.S"); done
else
  blake3_sources+=(-DBLAKE3_NO_SSE2 -DBLAKE3_NO_SSE41 -DBLAKE3_NO_AVX2 -DBLAKE3_NO_AVX512)
fi
build ferry-chunks -I"$blake3" "${blake3_sources[@]}" -llz4 -lpthread -ldl
