#!/usr/bin/env bash
# hostctl.sh — disposable "remote Linux hosts" for the test suite.
#
# Each host hI is a Debian bookworm tree booted with `systemd-nspawn --boot` (systemd as its
# PID 1, sshd, containerd + runc as systemd services) inside its own network namespace
# `hosts-hI`. A veth pair joins it to this machine: vhI = 10.200.I.1/24 here, eth0 =
# 10.200.I.2/24 in the host (default route via .1; nothing is forwarded beyond that).
#
#   hostctl.sh bootstrap        build the cached rootfs tarball (only when missing or stale)
#   hostctl.sh up N             boot h1..hN (running ones are left alone), wait until ready
#   hostctl.sh start I...       boot hI... (reuses hI's disk if it was only killed)
#   hostctl.sh start-bare I...  like start, but a "bare" host: containerd is purged from hI's fresh
#                               disk before boot (`dpkg --purge containerd`; runc stays), for
#                               install tests. Leases, stop, kill, ssh work as for any host; a
#                               bare disk stays bare when restarted with plain `start`.
#   hostctl.sh stop I...        clean power-off of hI..., then remove its disk, netns, cgroups
#   hostctl.sh kill I [down]    hard stop (SIGKILL its PID 1), keep its disk; with `down` the
#                               host's eth0 goes down too (unreachable instead of refused)
#   hostctl.sh rekey I          new ssh host key inside hI, sshd restarted, known_hosts updated
#   hostctl.sh down             stop every host of this $HOSTS_BASE (in parallel), orphans
#                               included (whoever started them); leaves nothing of them behind
#   hostctl.sh status           one line per host
#   hostctl.sh ssh I CMD...     run CMD as root on hI
#   hostctl.sh env              print the paths (KEY=..., KNOWN_HOSTS=..., ...) for scripts
#
# Needs root. Everything lives in $HOSTS_BASE (default <repo>/.hosts):
#   rootfs.tar.zst(.id)  cached base tree + the hash of the recipe it was built from (debs/: .deb cache)
#   m/hI/                the host's disk        m/hI.log   its console (nspawn output)
#   ssh/id_ed25519       the key root, deploy and sudopw accept
#   ssh/config           `ssh -F $HOSTS_BASE/ssh/config hI`     ssh/known_hosts  every host's key
# Image contents: users root, deploy (NOPASSWD sudo), sudopw (sudo needs the password
# sudopw-secret); a busybox OCI image at /opt/images/busybox.tar (layout in /opt/images/busybox):
#   ctr images import --base-name docker.io/library/busybox /opt/images/busybox.tar
#   ctr run -d docker.io/library/busybox:latest NAME      # runs a TERM-aware idle loop
# A Docker registry (Debian docker-registry) listens on the host's :5000 (plain HTTP).
#
# Indices are leased machine-wide in /run/hostctl/leases/hI (netns, veths and addresses are
# machine-wide): start/up refuse an index that a live test process or another HOSTS_BASE holds;
# stop/down free the leases of this base. testHosts.ts leases per process (HOSTCTL_OWNER).
#
# Knobs: HOSTS_BASE, HOSTS_LEASES, MIRROR (default: the machine's apt mirror), BOOT_TIMEOUT (90),
# STOP_TIMEOUT (30), LOCK_TIMEOUT (900), IGNORE_FAILED_UNITS ("a.service b.service"),
# KEEP_MACHINES=1 (stop keeps m/hI).
set -eu            # (no pipefail: the pipelines that matter check PIPESTATUS)
shopt -s nullglob

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BASE=${HOSTS_BASE:-$REPO/.hosts}
TARBALL=$BASE/rootfs.tar.zst
MACH=$BASE/m
SSHDIR=$BASE/ssh
KEY=$SSHDIR/id_ed25519
KNOWN=$SSHDIR/known_hosts
SUITE=bookworm
NET=10.200
CG_SUB=hostctl
LEASES=${HOSTS_LEASES:-/run/hostctl/leases}   # machine-wide, like the netns/veths/addresses
BOOT_TIMEOUT=${BOOT_TIMEOUT:-90}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}
LOCK_TIMEOUT=${LOCK_TIMEOUT:-900}
IGNORE_FAILED_UNITS=${IGNORE_FAILED_UNITS:-}
ROOTFS_PKGS=systemd,systemd-sysv,dbus,openssh-server,containerd,runc,iproute2,sudo,socat,docker-registry
MACHINE_PKGS=(debootstrap systemd-container zstd iproute2 openssh-client umoci busybox-static)
SSH_OPTS=(-i "$KEY" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes
          -o UserKnownHostsFile="$KNOWN" -o ConnectTimeout=5 -o LogLevel=ERROR
          -o ServerAliveInterval=5 -o ServerAliveCountMax=3)

say() { printf '[hostctl %(%T)T] %s\n' -1 "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }

# --- locking: one mutating command at a time per $HOSTS_BASE -------------------------------
take_lock() {
  mkdir -p "$BASE"
  exec 9>"$BASE/.lock"
  flock -w "$LOCK_TIMEOUT" 9 || die "another hostctl holds $BASE/.lock for more than ${LOCK_TIMEOUT}s"
}

# --- machine prerequisites -----------------------------------------------------------------
need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

missing_tools() {
  local t out=()
  for t in debootstrap:debootstrap systemd-nspawn:systemd-container zstd:zstd ip:iproute2 \
           ssh:openssh-client ssh-keygen:openssh-client umoci:umoci flock:util-linux; do
    command -v "${t%%:*}" >/dev/null || out+=("${t#*:}")
  done
  ldd /bin/busybox 2>&1 | grep -q 'not a dynamic executable' || out+=(busybox-static)
  printf '%s\n' "${out[@]}" | sort -u | grep . || true
}

ensure_tools() {
  local need
  need=$(missing_tools)
  [ -z "$need" ] && return 0
  say "installing on the machine: $(echo $need)"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get -o DPkg::Lock::Timeout=300 update -qq
  # shellcheck disable=SC2086
  timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $need >/dev/null
}

# The Debian mirror this machine's apt uses (first http(s) URI serving the plain $SUITE suite).
apt_mirror() {
  local f
  {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] && awk -v s="$SUITE" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if ($(i+1) == s) print $i; break } }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
      awk -v s="$SUITE" '
        function flush() { if (ok && types ~ /(^| )deb( |$)/) { n = split(uris, u, " "); for (j = 1; j <= n; j++) print u[j] }; ok = 0; uris = ""; types = "" }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]*#/ { next }
        /^Types:/  { types = $0; sub(/^Types:[ \t]*/, "", types) }
        /^URIs:/   { uris = $0;  sub(/^URIs:[ \t]*/, "", uris) }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
        /^Enabled:[ \t]*no/ { ok = 0; types = "" }
        END { flush() }' "$f"
    done
  } 2>/dev/null | grep -E '^https?://' | head -1 || true
}
MIRROR=${MIRROR:-$(apt_mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

# --- the image recipe (its text is hashed: editing it rebuilds the cached tarball) ----------
customize_tree() {
  local R=$1
  chroot "$R" apt-get clean
  rm -rf "$R"/var/lib/apt/lists/* "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/locale/*
  : > "$R/etc/machine-id"                    # nspawn hands each boot a fresh id
  rm -f "$R/var/lib/dbus/machine-id" "$R/etc/hostname"
  touch "$R/etc/default/locale"              # silences pam_env
  # nothing periodic, no console login
  local u
  for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
           fstrim.timer e2scrub_reap.service getty@tty1.service console-getty.service; do
    ln -sfn /dev/null "$R/etc/systemd/system/$u"
  done
  rm -f "$R"/etc/systemd/system/timers.target.wants/*
  # a container PID 1 that ignores SIGTERM must not hold a power-off for 90 s
  mkdir -p "$R/etc/systemd/system.conf.d"
  printf '[Manager]\nDefaultTimeoutStopSec=10s\n' > "$R/etc/systemd/system.conf.d/50-test-host.conf"
  # one host key type (ed25519), generated per host; no DNS lookups at login
  rm -f "$R"/etc/ssh/ssh_host_*
  mkdir -p "$R/etc/ssh/sshd_config.d"
  printf 'HostKey /etc/ssh/ssh_host_ed25519_key\nUseDNS no\nMaxStartups 50:30:200\n' \
    > "$R/etc/ssh/sshd_config.d/50-test-host.conf"
  # users: deploy (passwordless sudo), sudopw (sudo asks for its password)
  chroot "$R" useradd -m -s /bin/bash -p '*' deploy
  chroot "$R" useradd -m -s /bin/bash -G sudo sudopw
  echo 'sudopw:sudopw-secret' | chroot "$R" chpasswd
  printf 'deploy ALL=(ALL:ALL) NOPASSWD: ALL\n' > "$R/etc/sudoers.d/deploy"
  chmod 440 "$R/etc/sudoers.d/deploy"
  # nspawn bind-mounts the cgroup v1 controllers read-only; nested runc must write them
  cat > "$R/usr/local/sbin/cgroup-v1-rw" <<'EOS'
#!/bin/sh
for d in /sys/fs/cgroup/*; do
  [ -d "$d" ] && [ ! -L "$d" ] || continue
  case ${d##*/} in systemd|unified) continue ;; esac
  mountpoint -q "$d" && mount -o remount,bind,rw "$d"
done
exit 0
EOS
  chmod 755 "$R/usr/local/sbin/cgroup-v1-rw"
  cat > "$R/etc/systemd/system/cgroup-v1-rw.service" <<'EOS'
[Unit]
Description=Writable cgroup v1 controllers for nested containers
DefaultDependencies=no
ConditionVirtualization=container
Before=sysinit.target containerd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/cgroup-v1-rw

[Install]
WantedBy=sysinit.target
EOS
  mkdir -p "$R/etc/systemd/system/sysinit.target.wants"
  ln -sfn ../cgroup-v1-rw.service "$R/etc/systemd/system/sysinit.target.wants/cgroup-v1-rw.service"
  # Fast power-off: containerd-shim ignores SIGTERM and a container's PID 1 only gets the signals it
  # handles, so systemd's final SIGTERM round would wait DefaultTimeoutStopSec for them. Ordered
  # after containerd, this unit stops first at shutdown and SIGKILLs every shim and its container.
  cat > "$R/usr/local/sbin/kill-container-tasks" <<'EOS'
#!/bin/sh
tree() { for c in $(pgrep -P "$1"); do tree "$c"; done; echo "$1"; }
for s in $(pgrep -f '^/usr/bin/containerd-shim'); do kill -KILL $(tree "$s") 2>/dev/null; done
exit 0
EOS
  chmod 755 "$R/usr/local/sbin/kill-container-tasks"
  cat > "$R/etc/systemd/system/kill-container-tasks.service" <<'EOS'
[Unit]
Description=SIGKILL container tasks at power-off (test host)
After=containerd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecStop=/usr/local/sbin/kill-container-tasks

[Install]
WantedBy=multi-user.target
EOS
  ln -sfn ../kill-container-tasks.service "$R/etc/systemd/system/multi-user.target.wants/kill-container-tasks.service"
}

# busybox as an OCI image (layout + tar of it), built with umoci from the machine's busybox-static
build_busybox_image() {
  local dest=$1 w a
  w=$(mktemp -d)
  umoci init --layout "$w/oci"
  umoci new --image "$w/oci:latest"
  umoci unpack --image "$w/oci:latest" "$w/b" >/dev/null
  mkdir -p "$w/b/rootfs/bin" "$w/b/rootfs/tmp"
  cp /bin/busybox "$w/b/rootfs/bin/busybox"
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -s busybox "$w/b/rootfs/bin/$a"
  done
  umoci repack --image "$w/oci:latest" "$w/b"
  umoci config --image "$w/oci:latest" --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    --config.cmd /bin/sh --config.cmd -c --config.cmd 'trap "exit 0" TERM INT; while :; do sleep 1; done'
  umoci gc --layout "$w/oci"
  mkdir -p "$dest"
  rm -rf "$dest/busybox"; cp -a "$w/oci" "$dest/busybox"
  tar -C "$w/oci" --owner=0 --group=0 -cf "$dest/busybox.tar" .
  rm -rf "$w"
}

recipe_id() {
  { declare -f customize_tree build_busybox_image
    echo "$SUITE $ROOTFS_PKGS $MIRROR"
    /bin/busybox 2>&1 | head -1
  } | sha256sum | cut -c1-16
}

cmd_bootstrap() {
  need_root; ensure_tools
  mkdir -p "$BASE"
  local id; id=$(recipe_id)
  if [ -f "$TARBALL" ] && [ "$(cat "$TARBALL.id" 2>/dev/null)" = "$id" ]; then
    say "rootfs tarball is current ($id)"; return 0
  fi
  local t0 tree=$BASE/rootfs.build
  t0=$(now)
  rm -rf "$tree"
  say "debootstrap $SUITE from $MIRROR (+$ROOTFS_PKGS)"
  mkdir -p "$BASE/debs"                             # .deb cache: a rebuild downloads nothing new
  timeout 1200 debootstrap --variant=minbase --include="$ROOTFS_PKGS" --cache-dir="$BASE/debs" "$SUITE" "$tree" "$MIRROR" \
    >"$BASE/debootstrap.log" 2>&1 || { tail -25 "$BASE/debootstrap.log" >&2; die "debootstrap failed (log: $BASE/debootstrap.log)"; }
  customize_tree "$tree"
  build_busybox_image "$tree/opt/images"
  tar -C "$tree" --numeric-owner --xattrs --xattrs-include='*' -cpf - . | zstd -q -T0 -3 -o "$TARBALL.tmp" -f
  [ "${PIPESTATUS[*]}" = "0 0" ] || die "could not write $TARBALL"
  mv -f "$TARBALL.tmp" "$TARBALL"
  echo "$id" > "$TARBALL.id"
  rm -rf "$tree"
  say "bootstrap done in $(since "$t0")s ($(du -h "$TARBALL" | cut -f1) tarball, recipe $id)"
}

# --- leases: who may use index I on this machine -------------------------------------------
# $LEASES/hI/owner is "PID STARTTIME" (a test process using testHosts.ts, which passes it to us as
# HOSTCTL_OWNER) or "base:DIR" (hosts started from the command line with HOSTS_BASE=DIR; freed by
# that base's stop/down).
owner_live() {
  local pid=${1%% *} start=${1#* } now
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  now=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f20) || return 1
  [ -n "$now" ] && [ "$now" = "$start" ]
}
claim_lease() {
  local i=$1 d=$LEASES/h$1 owner
  mkdir -p "$LEASES"
  if [ -n "${HOSTCTL_OWNER:-}" ]; then
    [ "$(cat "$d/owner" 2>/dev/null)" = "$HOSTCTL_OWNER" ] || die "h$i is not leased to $HOSTCTL_OWNER"
    return 0
  fi
  if mkdir "$d" 2>/dev/null; then echo "base:$BASE" > "$d/owner"; return 0; fi
  owner=$(cat "$d/owner" 2>/dev/null || true)
  [ "$owner" = "base:$BASE" ] && return 0
  case $owner in base:*) die "h$i is held by HOSTS_BASE=${owner#base:} (its 'hostctl.sh down' frees it)" ;; esac
  owner_live "$owner" && die "h$i is leased by test process ${owner%% *}"
  echo "base:$BASE" > "$d/owner"           # stale lease of a dead process
}
release_lease() {
  [ "$(cat "$LEASES/h$1/owner" 2>/dev/null)" = "base:$BASE" ] && rm -rf "${LEASES:?}/h$1"
  return 0
}

# --- per-host helpers ----------------------------------------------------------------------
# a pid that exists and is not a zombie
alive() { local s; s=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) && [ -n "$s" ] && [ "$s" != Z ]; }
nspawn_pid() {   # prints the live nspawn pid of host $1, if any
  local p
  [ -s "$MACH/$1.pid" ] || return 1
  p=$(cat "$MACH/$1.pid")
  alive "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd-nspawn ] && echo "$p"
}
# every pid in host $1's cgroup subtrees (nspawn, the host's processes, its containers)
host_pids() {
  [ -f "$MACH/$1.cgroups" ] || return 0
  local d
  while read -r d; do
    if [ -d "$d" ]; then find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
  done < "$MACH/$1.cgroups" | sort -un | tr '\n' ' '
  return 0
}
# the host's PID 1 (systemd), seen from here
host_init_pid() {
  local p
  for p in $(host_pids "$1"); do
    grep -qE '^NSpid:[[:space:]]+[0-9]+[[:space:]]+1$' "/proc/$p/status" 2>/dev/null && { echo "$p"; return 0; }
  done
  return 1
}
wait_gone() {    # wait_gone SECONDS PID... — true once none is alive
  local n=$(( $1 * 10 )) p any; shift
  while :; do
    any=0
    for p in "$@"; do alive "$p" && { any=1; break; }; done
    ((any == 0)) && return 0
    ((n-- > 0)) || return 1
    sleep 0.1
  done
}

# Put the calling subshell into <its cgroup>/$CG_SUB/$name in every hierarchy: the subtree becomes
# the host's cgroup-namespace root (two hosts' containers cannot collide) and shows its processes.
enter_cgroups() {
  local name=$1 id ctrls path mnt d cg
  cg=$(cat /proc/self/cgroup)      # a snapshot: the file changes under us as we move
  : > "$MACH/$name.cgroups"
  while IFS=: read -r id ctrls path; do
    case $ctrls in
      "") if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then mnt=/sys/fs/cgroup; else mnt=/sys/fs/cgroup/unified; fi ;;
      name=systemd) mnt=/sys/fs/cgroup/systemd ;;
      name=*) continue ;;
      *) mnt=/sys/fs/cgroup/$ctrls; [ -d "$mnt" ] || mnt=/sys/fs/cgroup/${ctrls%%,*} ;;
    esac
    [ -d "$mnt" ] || continue
    d=$mnt${path%/}/$CG_SUB
    mkdir -p "$d/$name"
    if [ -f "$d/cpuset.cpus" ]; then          # v1 cpuset children start with no cpus/mems
      [ -s "$d/cpuset.cpus" ] || { cat "$(dirname "$d")/cpuset.cpus" > "$d/cpuset.cpus"; cat "$(dirname "$d")/cpuset.mems" > "$d/cpuset.mems"; }
      cat "$d/cpuset.cpus" > "$d/$name/cpuset.cpus"; cat "$d/cpuset.mems" > "$d/$name/cpuset.mems"
    fi
    echo "$d/$name" >> "$MACH/$name.cgroups"
    echo "$BASHPID" > "$d/$name/cgroup.procs"
  done <<< "$cg"
}
remove_cgroups() {
  local d
  [ -f "$MACH/$1.cgroups" ] || return 0
  while read -r d; do
    if [ -d "$d" ]; then find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    rmdir "$(dirname "$d")" 2>/dev/null || true  # $CG_SUB, once no host uses it
  done < "$MACH/$1.cgroups"
  rm -f "$MACH/$1.cgroups"
  return 0
}

net_up() {
  local i=$1 ns=hosts-h$1
  ip netns del "$ns" 2>/dev/null || true
  ip link del "vh$i" 2>/dev/null || true
  ip netns add "$ns"
  ip link add "vh$i" type veth peer name eth0 netns "$ns"
  ip addr add "$NET.$i.1/24" dev "vh$i"
  ip link set "vh$i" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$NET.$i.2/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$NET.$i.1"
}
net_down() {
  ip netns del "hosts-h$1" 2>/dev/null || true     # takes the veth pair with it
  ip link del "vh$1" 2>/dev/null || true
}

# ssh config + known_hosts for every host that has a disk (called under the lock)
write_ssh_files() {
  local f name i pub
  mkdir -p "$SSHDIR"
  : > "$SSHDIR/config.tmp"; : > "$KNOWN.tmp"
  for f in "$MACH"/h*/etc/ssh/ssh_host_ed25519_key.pub; do
    name=${f#"$MACH/"}; name=${name%%/*}; i=${name#h}
    [[ $i =~ ^[0-9]+$ ]] || continue
    printf 'Host %s\n  HostName %s\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 5\n  LogLevel ERROR\n\n' \
      "$name" "$NET.$i.2" "$KEY" "$KNOWN" >> "$SSHDIR/config.tmp"
    pub=$(cut -d' ' -f1,2 "$f")
    echo "$NET.$i.2 $pub" >> "$KNOWN.tmp"
  done
  mv -f "$SSHDIR/config.tmp" "$SSHDIR/config"; mv -f "$KNOWN.tmp" "$KNOWN"
}

hssh() { local i=$1; shift; timeout $((BOOT_TIMEOUT + 30)) ssh "${SSH_OPTS[@]}" "root@$NET.$i.2" "$@"; }

# prepare the disk (fresh unless it survived a kill), the network, then launch nspawn
launch_host() {
  local i=$1 name=h$1 dir=$MACH/h$1
  if nspawn_pid "$name" >/dev/null; then say "$name is already running"; return 0; fi
  # netns, veth and addresses are machine-wide: never take over another $HOSTS_BASE's host
  if [ -e "/run/netns/hosts-$name" ] && [ ! -e "$dir" ] && [ ! -e "$MACH/$name.pid" ] && [ ! -e "$MACH/$name.cgroups" ]; then
    die "$name (netns hosts-$name) belongs to another HOSTS_BASE; pick another index or run its 'down'"
  fi
  reap_host "$name" keep-disk                       # leftovers of a killed/crashed run
  if [ ! -f "$dir/.ready" ]; then
    rm -rf "$dir"; mkdir -p "$dir"
    zstd -dcq "$TARBALL" | tar -C "$dir" --numeric-owner --xattrs --xattrs-include='*' -xpf -
    [ "${PIPESTATUS[*]}" = "0 0" ] || die "$name: could not extract $TARBALL"
    echo "$name" > "$dir/etc/hostname"
    printf '127.0.1.1\t%s\n' "$name" >> "$dir/etc/hosts"
    ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$dir/etc/ssh/ssh_host_ed25519_key"
    local u h
    for u in root deploy sudopw; do
      h=$([ $u = root ] && echo /root || echo "/home/$u")
      install -d -m 700 "$dir$h/.ssh"
      install -m 600 "$KEY.pub" "$dir$h/.ssh/authorized_keys"
      chroot "$dir" chown -R "$u:$u" "$h/.ssh"
    done
    touch "$dir/.ready"
  fi
  if [ "${BARE:-0}" = 1 ] && [ ! -f "$dir/.bare" ]; then   # start-bare: no containerd in this host
    chroot "$dir" dpkg --purge containerd >>"$MACH/$name.log" 2>&1 || die "$name: could not purge containerd (log: $MACH/$name.log)"
    touch "$dir/.bare"
  fi
  net_up "$i"
  now > "$MACH/$name.started"
  (
    enter_cgroups "$name"
    exec setsid systemd-nspawn --boot --directory="$dir" --machine="$name" \
      --register=no --keep-unit --console=read-only \
      --network-namespace-path="/run/netns/hosts-$name" \
      --capability=CAP_NET_ADMIN --system-call-filter='@keyring bpf' \
      </dev/null >>"$MACH/$name.log" 2>&1 9>&-
  ) &
  local pid=$! n=0
  echo "$pid" > "$MACH/$name.pid"
  # the subshell becomes nspawn only once it has moved into its cgroups and exec'd
  until [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd-nspawn ]; do
    alive "$pid" || { tail -20 "$MACH/$name.log" >&2 2>/dev/null; die "$name: nspawn did not start"; }
    ((n++ < 100)) || die "$name: nspawn did not start within 10s"
    sleep 0.1
  done
}

# wait for sshd, then for systemd to finish booting; "degraded" passes only for ignorable units
await_host() {
  local i=$1 name=h$1 t0 deadline state failed bad u
  t0=$(cat "$MACH/$name.started"); deadline=$((SECONDS + BOOT_TIMEOUT))
  until timeout 10 ssh "${SSH_OPTS[@]}" -o ConnectTimeout=2 "root@$NET.$i.2" true 2>/dev/null; do
    nspawn_pid "$name" >/dev/null || { tail -30 "$MACH/$name.log" >&2; die "$name: nspawn exited during boot (log: $MACH/$name.log)"; }
    ((SECONDS < deadline)) || { tail -30 "$MACH/$name.log" >&2; die "$name: no ssh within ${BOOT_TIMEOUT}s"; }
    sleep 0.2
  done
  local t_ssh; t_ssh=$(since "$t0")
  state=$(hssh "$i" timeout "$BOOT_TIMEOUT" systemctl is-system-running --wait 2>/dev/null) || true
  case $state in
    running) ;;
    degraded)
      failed=$(hssh "$i" systemctl list-units --failed --plain --no-legend 2>/dev/null | awk '{ print $1 }' | tr '\n' ' ')
      bad=""
      for u in $failed; do [[ " $IGNORE_FAILED_UNITS " == *" $u "* ]] || bad+="$u "; done
      [ -z "$bad" ] || die "$name: degraded, failed units: $bad(add ignorable ones to IGNORE_FAILED_UNITS)"
      say "$name: degraded, only ignorable failed units: $failed" ;;
    *) hssh "$i" systemctl list-units --failed --no-pager >&2 || true
       die "$name: system state '${state:-no answer}' after ${BOOT_TIMEOUT}s" ;;
  esac
  say "$name up at $NET.$i.2: ssh after ${t_ssh}s, $state after $(since "$t0")s"
}

# ask for a clean power-off: SIGTERM makes nspawn send SIGRTMIN+3 to the host's systemd
signal_host() {
  local p
  if p=$(nspawn_pid "$1"); then kill -TERM "$p" 2>/dev/null || true
  elif p=$(host_init_pid "$1"); then kill -s SIGRTMIN+4 "$p" 2>/dev/null || true   # orphan: poweroff
  fi
  return 0
}

# wait for host $1 to go, force it after STOP_TIMEOUT, clean its netns/cgroups (+disk unless keep-disk)
reap_host() {
  local name=$1 keep=${2:-} p init left
  if p=$(nspawn_pid "$name"); then
    if ! wait_gone "$STOP_TIMEOUT" "$p"; then
      say "$name: no clean power-off within ${STOP_TIMEOUT}s; SIGKILL to its PID 1"
      if init=$(host_init_pid "$name"); then kill -KILL "$init" 2>/dev/null || true; fi
      wait_gone 10 "$p" || kill -KILL "$p" 2>/dev/null || true
    fi
  fi
  # nspawn gone but the host still alive (nspawn was SIGKILLed): an orphan
  if init=$(host_init_pid "$name"); then
    say "$name: orphaned host (pid $init), powering it off"
    kill -s SIGRTMIN+4 "$init" 2>/dev/null || true
    wait_gone "$STOP_TIMEOUT" "$init" || kill -KILL "$init" 2>/dev/null || true
    wait_gone 10 "$init" || true
  fi
  left=$(host_pids "$name")
  if [ -n "${left// /}" ]; then
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
    # shellcheck disable=SC2086
    wait_gone 10 $left || say "$name: pids still alive after SIGKILL: $left"
  fi
  net_down "${name#h}"
  remove_cgroups "$name"
  rm -rf "/run/systemd/nspawn/propagate/$name"    # nspawn refuses to (our /run is not a tmpfs)
  rm -f "$MACH/$name.pid" "$MACH/$name.started"
  if [ "$keep" != keep-disk ] && [ "${KEEP_MACHINES:-0}" != 1 ]; then rm -rf "${MACH:?}/$name"; fi
  return 0
}

known_names() {   # every host this base knows about (pid files, cgroup files, disks)
  local f n
  for f in "$MACH"/h*.pid "$MACH"/h*.cgroups "$MACH"/h*/; do
    n=${f#"$MACH/"}; n=${n%%[./]*}
    if [[ $n =~ ^h[0-9]+$ ]]; then echo "$n"; fi
  done | sort -u
  return 0
}

index_args() {    # "1" "h2" -> 1 2
  local a
  for a in "$@"; do a=${a#h}; [[ $a =~ ^[0-9]+$ ]] && ((a >= 1 && a <= 250)) || die "bad host index '$a'"; echo "$a"; done
}

cmd_start() {
  need_root
  (($#)) || die "start: which hosts?"
  local idx; idx=$(index_args "$@")
  take_lock
  cmd_bootstrap
  mkdir -p "$MACH" "$SSHDIR"
  [ -f "$KEY" ] || ssh-keygen -q -t ed25519 -N '' -C hostctl -f "$KEY"
  local i
  for i in $idx; do claim_lease "$i"; done
  for i in $idx; do launch_host "$i"; done
  write_ssh_files
  for i in $idx; do await_host "$i"; done
}

cmd_stop() {
  need_root
  local idx i; idx=$(index_args "$@")
  take_lock
  for i in $idx; do signal_host "h$i"; done        # all power off at once
  for i in $idx; do reap_host "h$i"; release_lease "$i"; done
  write_ssh_files
}

cmd_kill() {
  need_root
  local i p init; i=$(index_args "$1")
  take_lock
  init=$(host_init_pid "h$i") || true
  p=$(nspawn_pid "h$i") || true
  if [ -n "$init" ]; then kill -KILL "$init" 2>/dev/null || true; fi
  [ -n "$p" ] && { wait_gone 10 "$p" || kill -KILL "$p" 2>/dev/null || true; }
  # the kernel kills the whole pid namespace with its PID 1; make sure and clean up
  local left; left=$(host_pids "h$i")
  # shellcheck disable=SC2086
  [ -n "${left// /}" ] && { kill -KILL $left 2>/dev/null || true; wait_gone 10 $left || true; }
  remove_cgroups "h$i"
  rm -rf "/run/systemd/nspawn/propagate/h$i"
  rm -f "$MACH/h$i.pid" "$MACH/h$i.started"
  if [ "${2:-}" = down ]; then ip -n "hosts-h$i" link set eth0 down 2>/dev/null || true; fi
  say "h$i killed${2:+ (network ${2})}"
}

cmd_rekey() {
  need_root
  local i; i=$(index_args "$1")
  take_lock
  nspawn_pid "h$i" >/dev/null || die "h$i is not running"
  hssh "$i" 'rm -f /etc/ssh/ssh_host_* && ssh-keygen -q -t ed25519 -N "" -C root@$(hostname) -f /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh' \
    || die "h$i: rekey failed"
  write_ssh_files
  timeout 10 ssh "${SSH_OPTS[@]}" "root@$NET.$i.2" true || die "h$i: sshd did not come back with the new key"
  say "h$i has a new host key: $(ssh-keygen -lf "$MACH/h$i/etc/ssh/ssh_host_ed25519_key.pub" | cut -d' ' -f2)"
}

cmd_start_bare() { BARE=1; cmd_start "$@"; }

cmd_up() { local n=${1:-1}; [[ $n =~ ^[0-9]+$ ]] && ((n >= 1)) || die "up N: N >= 1"; cmd_start $(seq 1 "$n"); }

cmd_down() {
  need_root
  take_lock
  local names n t0; t0=$(now)
  names=$(known_names)
  for n in $names; do signal_host "$n"; done
  for n in $names; do reap_host "$n"; release_lease "${n#h}"; done
  write_ssh_files
  say "down: $(echo $names | wc -w) host(s) stopped in $(since "$t0")s"
}

cmd_status() {
  local n p state
  for n in $(known_names); do
    if p=$(nspawn_pid "$n"); then state="running (nspawn pid $p)"
    elif host_init_pid "$n" >/dev/null; then state="orphaned (nspawn gone, host alive)"
    elif [ -f "$MACH/$n/.ready" ]; then state="stopped (disk kept)"
    else state="gone"; fi
    echo "$n $NET.${n#h}.2 $state"
  done
}

case ${1:-} in
  bootstrap) need_root; take_lock; cmd_bootstrap ;;
  up)        shift; cmd_up "$@" ;;
  start)     shift; cmd_start "$@" ;;
  start-bare) shift; cmd_start_bare "$@" ;;
  stop)      shift; cmd_stop "$@" ;;
  kill)      shift; cmd_kill "$@" ;;
  rekey)     shift; cmd_rekey "$@" ;;
  down)      cmd_down ;;
  status)    cmd_status ;;
  ssh)       shift; i=$(index_args "${1:-}"); shift; exec timeout 600 ssh "${SSH_OPTS[@]}" "root@$NET.$i.2" "$@" ;;
  env)       printf 'HOSTS_BASE=%s\nKEY=%s\nKNOWN_HOSTS=%s\nSSH_CONFIG=%s\nMACHINES=%s\nNET=%s\n' "$BASE" "$KEY" "$KNOWN" "$SSHDIR/config" "$MACH" "$NET" ;;
  missing)   missing_tools ;;
  *) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
