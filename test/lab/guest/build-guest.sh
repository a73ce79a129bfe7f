#!/usr/bin/env bash
# Build and cache the Ferry micro guest: Debian cloud kernel + initramfs holding
# busybox, qemu-ga and the test workload.
# Usage: build-guest.sh [OUT_DIR]   (default: <repo>/.cache/guest)
# Writes OUT_DIR/{vmlinuz,initrd.img,stamp}; stamp is renamed in last, so a guest
# without a matching stamp is never considered complete.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$(cd "$here/../../.." && pwd)/.cache/guest}
die() { echo "build-guest: $*" >&2; exit 1; }

# We never install on the host; just say precisely what is missing.
for p in busybox-static cpio qemu-utils e2fsprogs gzip xz-utils; do
  [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) == ii* ]] ||
    die "$p is not installed (apt-get install $p)"
done
for f in init.sh workload.sh; do [[ -f $here/$f ]] || die "missing $here/$f"; done

mkdir -p "$out"
out=$(cd "$out" && pwd)
exec 9>"$out/.lock"
flock 9   # parallel test workers share one cache

# apt-cache costs ~0.6 s here (the image disables pkgcache.bin), so remember its answer
# per state of the package lists; that keeps the up-to-date path fast.
apt_fp() { { stat -c '%n %s %Y' /var/lib/apt/lists/*Packages* 2>/dev/null || true; } | sha256sum | cut -c1-16; }
resolve() {  # -> $kpkg $kver $qver: what apt-get download would fetch now
  local info
  info=$(apt-cache show --no-all-versions linux-image-cloud-amd64 qemu-guest-agent 2>/dev/null) || return 1
  read -r kpkg kver < <(awk -v RS= '/^Package: linux-image-cloud-amd64\n/' <<<"$info" |
    sed -n 's/^Depends: \(linux-image-[^ ,]*\) (= \([^)]*\)).*/\1 \2/p')
  qver=$(awk -v RS= '/^Package: qemu-guest-agent\n/' <<<"$info" | sed -n 's/^Version: //p')
  [[ -n ${kpkg:-} && -n ${kver:-} && -n $qver ]]
}
fetch() {  # apt-get download into $work/debs; refresh lists only when that fails
  (cd "$work/debs" && apt-get -qq -o APT::Sandbox::User=root download "$@") && return
  echo "build-guest: apt-get download $* failed; running apt-get update and retrying" >&2
  apt-get -qq update || die "apt-get update failed"
  (cd "$work/debs" && apt-get -qq -o APT::Sandbox::User=root download "${@%%=*}") ||
    die "cannot download $* (no network or no such package?)"
}

fp=$(apt_fp)
if [[ -f $out/.apt-memo && $(head -n1 "$out/.apt-memo") == "$fp" ]]; then
  { read -r _; read -r kpkg kver; read -r qver; } <"$out/.apt-memo"
else
  resolve || { echo "build-guest: apt-cache cannot resolve packages; running apt-get update" >&2
               apt-get -qq update >&2 && resolve; } ||
    die "apt-cache cannot resolve linux-image-cloud-amd64 / qemu-guest-agent (apt-get update?)"
  printf '%s\n%s %s\n%s\n' "$(apt_fp)" "$kpkg" "$kver" "$qver" >"$out/.apt-memo"
fi
bbver=$(dpkg-query -W -f='${Version}' busybox-static)
scripts=$(cat "${BASH_SOURCE[0]}" "$here/init.sh" "$here/workload.sh" | sha256sum | cut -c1-64)
stamp() { printf 'kernel=%s %s\nqemu-guest-agent=%s\nbusybox=%s\nscripts=%s\n' "$kpkg" "$kver" "$qver" "$bbver" "$scripts"; }

if [[ -f $out/vmlinuz && -f $out/initrd.img && -f $out/stamp && $(<"$out/stamp") == "$(stamp)" ]]; then
  echo "guest: up to date ($out)"
  exit 0
fi

start=$SECONDS
rm -rf "$out"/.build.*   # leftovers of a killed build
work=$(mktemp -d "$out/.build.XXXXXX")   # same filesystem as $out: final mv is a rename
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/x" "$work/root"
fetch "$kpkg=$kver" "qemu-guest-agent=$qver"
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/x"; done
# Record what was really fetched (a retry after apt-get update may get newer versions).
kver=$(dpkg-deb -f "$work"/debs/linux-image-*.deb Version)
kpkg=$(dpkg-deb -f "$work"/debs/linux-image-*.deb Package)
qver=$(dpkg-deb -f "$work"/debs/qemu-guest-agent_*.deb Version)
r=$work/root

# --- kernel and modules (ext4 is built in; virtio is modular in the cloud flavour)
abi=${kpkg#linux-image-}
cp "$work/x/boot/vmlinuz-$abi" "$work/vmlinuz"
mods=$work/x/lib/modules/$abi
[[ -d $mods ]] || mods=$work/x/usr/lib/modules/$abi   # newer Debian: modules under /usr
mkdir -p "$r/lib/modules"
n=10
# add_module NAME DIR: copy (or unpack) module NAME found under DIR, numbered so /init loads
# modules in glob order; a built-in module needs nothing.
add_module() {
  local m=$1 ko dst
  ko=$(find "$mods/kernel/$2" \( -name "$m.ko" -o -name "$m.ko.xz" \) | head -n1)
  dst=$r/lib/modules/$n-$m.ko
  if [[ $ko == *.xz ]]; then xz -dc "$ko" >"$dst"
  elif [[ -n $ko ]]; then cp "$ko" "$dst"
  elif grep -q "/$m.ko" "$mods/modules.builtin"; then return
  else die "kernel $abi has no module $m (neither .ko, .ko.xz nor built in)"
  fi
  n=$((n + 1))
}
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk virtio_console; do
  add_module "$m" drivers
done
# Filesystems a file-level restore reads besides ext4 (built in): FAT, with long names in UTF-8.
for m in fat vfat nls_cp437 nls_ascii nls_utf8; do add_module "$m" fs; done

# --- busybox userland
bb=/bin/busybox
ldd "$bb" >/dev/null 2>&1 && die "$bb is dynamically linked (need busybox-static, not busybox)"
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,mnt,etc,var}
cp "$bb" "$r/bin/busybox"
for a in $("$bb" --list-full); do [[ -e $r/$a ]] || ln -s /bin/busybox "$r/$a"; done
ln -s /run "$r/var/run"
install -m 755 "$here/init.sh" "$r/init"
install -m 755 "$here/workload.sh" "$r/bin/ferry-workload"

# --- qemu-ga and its libraries, at the paths ldd reports. Libraries missing on the
# host come from their Debian packages (apt-file is unavailable, hence the table).
qga=$work/x/usr/sbin/qemu-ga
[[ -x $qga ]] || die "qemu-guest-agent package has no usr/sbin/qemu-ga"
declare -A lib_pkg=([libglib-2.0.so.0]=libglib2.0-0 [libgmodule-2.0.so.0]=libglib2.0-0
  [libpcre2-8.so.0]=libpcre2-8-0 [libnuma.so.1]=libnuma1 [liburing.so.2]=liburing2
  [libudev.so.1]=libudev1)
for _ in 1 2 3 4; do
  libdirs=$(find "$work/x" -name '*.so*' -printf '%h\n' | sort -u | paste -sd:)
  deps=$(LD_LIBRARY_PATH=$libdirs ldd "$qga") || die "ldd $qga failed"
  missing=$(awk '/not found/ { print $1 }' <<<"$deps" | sort -u)
  [[ -z $missing ]] && break
  pkgs=()
  for so in $missing; do
    [[ -n ${lib_pkg[$so]:-} ]] || die "qemu-ga needs $so: not on the host and no known package (add it to lib_pkg)"
    pkgs+=("${lib_pkg[$so]}")
  done
  rm -f "$work"/debs/*.deb
  fetch $(printf '%s\n' "${pkgs[@]}" | sort -u)
  for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/x"; done
done
[[ -z $missing ]] || die "qemu-ga still misses libraries: $missing"
install -D -m 755 "$qga" "$r/usr/sbin/qemu-ga"
for lib in $(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$deps"); do
  dst=${lib#"$work/x"}
  mkdir -p "$r$(dirname "$dst")"
  cp -L "$lib" "$r$dst"
done

# --- pack
(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n >"$work/initrd.img"
stamp >"$work/stamp"
printf '%s\n%s %s\n%s\n' "$(apt_fp)" "$kpkg" "$kver" "$qver" >"$out/.apt-memo"
rm -f "$out/stamp"
mv -f "$work/vmlinuz" "$work/initrd.img" "$out/"
mv -f "$work/stamp" "$out/stamp"
echo "guest: built $kpkg $kver + qemu-ga $qver in $((SECONDS - start)) s ($out)"
