#!/bin/sh
# ferry-workload MOUNTPOINT: endless, verifiable writes for backup tests.
# Invariant for any (frozen or crash-consistent) copy of the disk: every f-*.bin that
# exists and is listed in SHA256SUMS matches it; only the newest file may be unlisted.
d=$1/ferry-workload
mkdir -p "$d" && cd "$d" || exit 1
touch SHA256SUMS journal.log
# A crash can tear the last line; terminate it so our appends stay on their own lines.
for f in SHA256SUMS journal.log; do [ -z "$(tail -c1 $f)" ] || echo >> $f; done
# Resume after the highest seq in either file: a crash can fall between the two appends,
# and reusing a listed name would make its old checksum line lie. (awk, not $((..)):
# ash reads zero-padded numbers as octal.)
seq=$(awk 'FILENAME == "journal.log" { n = $1 + 0 }
           FILENAME == "SHA256SUMS" { s = $2; gsub(/[^0-9]/, "", s); n = s + 0 }
           n > m { m = n } END { print m + 0 }' journal.log SHA256SUMS)
while :; do
  seq=$((seq + 1))
  f=$(printf 'f-%06d.bin' $seq)
  head -c $((4096 + RANDOM * 61440 / 32767)) /dev/urandom > $f  # 4..64 KiB
  sync $f                               # data durable before it is listed
  sha256sum $f >> SHA256SUMS
  sync SHA256SUMS                       # listed before the journal moves on
  echo "$seq $(cut -d' ' -f1 /proc/uptime)" >> journal.log
  rm -f $(printf 'f-%06d.bin' $((seq - 64)))  # bound disk use; its line stays
  usleep 200000
done
