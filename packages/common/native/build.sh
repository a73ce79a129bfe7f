#!/usr/bin/env bash
# Builds Ferry's LZ4 addon (ferry-lz4.c) against Debian's liblz4 and the N-API headers that
# come with Node.js; a second run with nothing changed does nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
out=build/ferry-lz4.node
[ -f "$out" ] && [ "$out" -nt ferry-lz4.c ] && [ "$out" -nt build.sh ] && exit 0
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
cc -O2 -Wall -Wextra -Werror -shared -fPIC -I"$include" -o "$out.tmp" ferry-lz4.c -llz4
mv "$out.tmp" "$out"
echo "native: built $out"
