#!/bin/sh
# ferry-workload MOUNTPOINT: endless, verifiable writes for backup tests.
# Invariant for any (frozen or crash-consistent) copy of the disk: every f-*.bin that
# exists and is listed in SHA256SUMS matches it; only the newest file may be unlisted.
d=$1/ferry-workload
mkdir -p "$d" && cd "$d" || exit 1
touch SHA256SUMS journal.log
# A crash can leave a torn tail (even NULs: ext4 may commit the new size before the
# data); terminate it so our appends stay on lines of their own.
for f in SHA256SUMS journal.log; do
  [ ! -s $f ] || [ "$(tail -c1 $f | od -An -tx1)" = " 0a" ] || echo >> $f
done
# Resume after the highest seq in either file: a crash can fall between the two appends,
# and reusing a listed name would make its old checksum line lie. (awk, not $((..)):
# ash reads zero-padded numbers as octal.)
seq=$(awk 'FILENAME == "journal.log" { n = $1 + 0 }
           FILENAME == "SHA256SUMS" { s = $2; gsub(/[^0-9]/, "", s); n = s + 0 }
           n > m { m = n } END { print m + 0 }' journal.log SHA256SUMS)
# The loop prunes one file per step, so a crash can strand an old one: sweep at start.
ls f-*.bin 2>/dev/null | head -n -64 | xargs rm -f
while :; do
  seq=$((seq + 1))
  f=$(printf 'f-%06d.bin' $seq)
  head -c $((4096 + RANDOM * 61440 / 32767)) /dev/urandom > $f  # 4..64 KiB
  sync $f                               # data durable before it is listed
  sha256sum $f >> SHA256SUMS
  sync SHA256SUMS                       # listed before the journal moves on
  echo "$seq $(cut -d' ' -f1 /proc/uptime)" >> journal.log
  sync journal.log                      # unsynced appends come back as NULs after a crash
  rm -f $(printf 'f-%06d.bin' $((seq - 64)))  # bound disk use; its line stays
  usleep 200000
done
