#!/usr/bin/env bash
# Installs everything Ferry and its tests need, from nothing: Debian packages,
# pnpm, node modules, the build and the lab's micro guest. Idempotent: a
# second run only checks and takes a few seconds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PNPM_VERSION=10.34.8
DEBIAN_PACKAGES=(
  qemu-system-x86 qemu-utils    # VMs, qemu-img, qemu-nbd, qemu-io
  nats-server                   # progress and events
  nbdkit libnbd-bin             # real NBD peers for tests (nbdinfo, nbdcopy)
  e2fsprogs                     # mkfs.ext4 -d, e2fsck, debugfs
  dosfstools mtools fdisk       # vfat disks and partition tables for file-level restore tests
  cpio busybox-static xz-utils  # micro guest build
  restic borgbackup time        # peers the benchmarks compare against; GNU time measures them
  util-linux-extra              # fincore: tests check what stays in the page cache
  ca-certificates openssl       # openssl: ferry pki makes the CA and certificates for mutual TLS
  liblz4-dev gcc libc6-dev      # Ferry's LZ4 addon (packages/common/native) builds against liblz4
  librust-blake3-dev            # BLAKE3's C sources (in Rust's crate), compiled into the chunk threads' addon
  libssl3                       # its AES-GCM addon opens libcrypto.so.3 (AVX-512 GCM, unlike node's)
  libargon2-1                   # its Argon2id addon opens libargon2.so.1: key files' KDF (Node 20 has none)
  postgresql                    # initdb, postgres: tests run throwaway clusters for the PostgreSQL catalog
  ceph-mon ceph-osd radosgw     # a throwaway single-node Ceph with its S3 gateway (test/src/lab/ceph-rgw.ts);
  ceph-common                   #   ceph, radosgw-admin; monmaptool comes with ceph-base. No ceph-mgr: RGW runs without it
  libvirt-daemon-system         # libvirtd + virtlogd for the libvirt adapter's lab tests (test/src/lab/libvirtd.ts);
  libvirt-clients               #   virsh, which the mover's libvirt adapter drives
  util-linux                    #   unshare: the harness gives its libvirtd private /etc, /run, /var/lib dirs
  chromium                      # the web console's browser test (test/src/console.test.ts) drives it with playwright-core
)

step() { printf '== setup: %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  step "Debian packages present"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  step "installing pnpm $PNPM_VERSION"
  as_root npm install -g --no-fund --no-audit "pnpm@$PNPM_VERSION" >/dev/null
fi

step "node modules"
pnpm install --frozen-lockfile --reporter=silent

step "native addons (LZ4, AES-GCM, Argon2id, files, chunk threads)"
bash packages/common/native/build.sh

step "build (tsc -b)"
pnpm -s build

step "micro guest"
bash test/lab/guest/build-guest.sh

step "done"
