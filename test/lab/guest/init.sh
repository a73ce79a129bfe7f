#!/bin/sh
# /init of the Ferry micro guest (busybox sh as PID 1).
# PID 1 must never exit (the kernel panics), so every step below tolerates failure.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /run/qemu-ga /tmp
log() { echo "ferry-init: $*"; }

# The build numbered the modules in dependency order (virtio_ring ... virtio_console).
for m in /lib/modules/*.ko; do insmod "$m" || log "insmod $m failed"; done

workload=1
mode=lab
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    ferry.workload=*) workload=${arg#*=} ;;
    ferry.mode=*) mode=${arg#*=} ;;
  esac
done

mounts=
if [ "$mode" = files ]; then
  # File-level restore: every filesystem on every disk, read-only, under /mnt/restore/<dev>;
  # /run/ferry-mounts lists "<dev> <type>" for the host. A disk with partitions is not
  # mounted whole.
  workload=0
  mkdir -p /mnt/restore
  : >/run/ferry-mounts
  for dev in /sys/class/block/vd*; do
    name=${dev##*/}
    case "$name" in vd?) ls -d "$dev/$name"[0-9]* >/dev/null 2>&1 && continue ;; esac
    mkdir -p "/mnt/restore/$name"
    for t in ext4 vfat; do
      opts=ro
      [ "$t" = vfat ] && opts=ro,utf8,shortname=mixed
      if mount -t "$t" -o "$opts" "/dev/$name" "/mnt/restore/$name" 2>/dev/null; then
        echo "$name $t" >>/run/ferry-mounts
        break
      fi
    done
  done
else
  # Data disks in attach order: vda -> /mnt/data0, vdb -> /mnt/data1.
  i=0
  for d in vda vdb; do
    [ -b /dev/$d ] || continue
    mkdir -p /mnt/data$i
    if mount -t ext4 /dev/$d /mnt/data$i; then mounts="$mounts /mnt/data$i"; else log "mount /dev/$d failed"; fi
    i=$((i + 1))
  done
fi

# guest-shutdown makes qemu-ga exec /sbin/shutdown, which busybox lacks; flush the
# data disks ourselves and cut power (poweroff -f: there is no init to signal).
cat > /sbin/shutdown <<'EOF'
#!/bin/sh
killall ferry-workload 2>/dev/null
sync
for m in /mnt/data*; do mount -o remount,ro "$m" 2>/dev/null; done
case " $* " in *" -r "*) reboot -f ;; *) poweroff -f ;; esac
EOF
chmod 755 /sbin/shutdown

# qemu-ga runs this hook on every freeze (before FIFREEZE, and it waits: the agent answers
# nothing meanwhile) and after every thaw. The fault suite makes a freeze hang in the real
# agent by writing a number of seconds to /run/ferry-freeze-hang; the hook takes it once,
# so the next freeze is an ordinary one.
cat > /sbin/ferry-fsfreeze-hook <<'EOF'
#!/bin/sh
if [ "$1" = freeze ] && [ -f /run/ferry-freeze-hang ]; then
  seconds=$(cat /run/ferry-freeze-hang)
  rm -f /run/ferry-freeze-hang
  sleep "$seconds"
fi
exit 0
EOF
chmod 755 /sbin/ferry-fsfreeze-hook

# The port name arrives from the host over the virtio control queue, so it can lag
# the device node by a moment: poll for up to ~5 s.
port=
n=0
while [ -z "$port" ] && [ $n -lt 50 ]; do
  for p in /sys/class/virtio-ports/*; do
    [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] && port=/dev/${p##*/}
  done
  [ -n "$port" ] || { usleep 100000; n=$((n + 1)); }
done

if [ -n "$port" ]; then
  qemu-ga -m virtio-serial -p "$port" -d -f /run/qemu-ga.pid -t /run/qemu-ga -l /dev/console \
    --fsfreeze-hook=/sbin/ferry-fsfreeze-hook || log "qemu-ga failed to start"
  # -d returns before the daemon has written its pidfile or opened the port, and
  # READY should mean "listening": wait (up to ~5 s) until it holds the port open.
  n=0
  until [ $n -ge 50 ]; do
    pid=$(cat /run/qemu-ga.pid 2>/dev/null)
    [ -n "$pid" ] && ls -l /proc/$pid/fd 2>/dev/null | grep -q "$port" && break
    usleep 100000; n=$((n + 1))
  done
  [ $n -lt 50 ] || log "qemu-ga has not opened $port yet"
else
  log "no virtio port named org.qemu.guest_agent.0; agent not started"
fi
echo FERRY-GUEST-READY

if [ "$workload" != 0 ]; then
  for m in $mounts; do ferry-workload "$m" </dev/null & done
fi

while :; do sleep 3600; done
