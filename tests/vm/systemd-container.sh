#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The packaged unit under a real systemd (issue 29): the host's systemd runs
# as PID 1 of a container (new PID, mount, network, UTS, IPC and cgroup
# namespaces; the root an overlay of the host's root, writes on a tmpfs;
# cgroup v2), sluiced.service is the file the build installs
# (build/packaging/sluiced.service, unchanged, hardening included) and
# sluiced is copied where it says.  systemctl runs inside the container;
# systemd logs at debug level, so its journal shows each notification it
# got from sluiced ("notify PID: ..." below) and when it ended each job:
#
#   check_start    `systemctl start`: READY=1 with STATUS "serving 1
#                  workload, config G" before "Started", then active
#                  (running) with that StatusText, the steering table
#                  `inet sluice` in place (the unit runs --steer), the
#                  admin socket answering
#   check_reload   a workload added, `systemctl reload` ("Reloading",
#                  SIGHUP): RELOADING=1 with MONOTONIC_USEC, then READY=1
#                  with STATUS "serving 2 workloads, config G2", G2 the new
#                  generation; same MainPID, config_reloads + 1
#   check_restart  `systemctl restart`: STOPPING=1 from the old MainPID,
#                  READY=1 from a new one before "Started", the old one
#                  gone, serving, the table in place; a client connecting
#                  every 20 ms throughout is never refused, the listening
#                  sockets are the same (systemd's fd store kept them)
#   check_upgrade  `sluice upgrade`: MAINPID=<new> from the old MainPID,
#                  READY=1 and WATCHDOG=1 from the new one, no stop or
#                  start job, the old one exits; nothing refused, the same
#                  listening sockets
#   check_stop     `systemctl stop`: STOPPING=1 between "Stopping" and
#                  "Stopped", inactive (dead), Result=success, the main
#                  process exited 0; the table stays until
#                  `sluiced --remove-steering`
#
# Runs in the kTLS VM (tests/vm/suite.list: Debian's 6.1 kernel), and on any
# host that lets root create namespaces, an overlay of / and a cgroup v2
# hierarchy (about 2 s there).  SL_SD_PROFILE=1 shows where the time goes.
#
# usage: systemd-container.sh BUILDDIR   (root; exit 77 when it cannot run)
set -euo pipefail

me=systemd-container
self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
TD=cluster.local
# under TCG a systemctl call can take seconds: bound each, generously
SD_TIMEOUT=${SL_SD_TIMEOUT:-120}

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() {
	if [ "${SL_NO_SKIP:-0}" = 1 ]; then
		echo "FAIL (SL_NO_SKIP=1, would skip): $*" >&2
		exit 1
	fi
	echo "SKIP: $*" >&2
	exit 77
}
ok() { echo "ok - $*"; }
now_ms() { date +%s%3N; }
# SL_SD_PROFILE=1: where the time goes
mark() {
	[ "${SL_SD_PROFILE:-}" = 1 ] && echo "# $(($(now_ms) - t_start)) ms: $*"
	return 0
}

# ---- the container's PID 1 side (run by unshare, see sd_boot) -------------
# Runs as PID 1 of the new namespaces: mounts the API file systems into the
# root, pivots into it and becomes systemd.
if [ "${1:-}" = --pid1 ]; then
	root=$2
	mount --make-rprivate /
	mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
	# as systemd-nspawn: /proc/sys read-only but for this netns's net.*
	mount --bind "$root/proc/sys" "$root/proc/sys"
	mount --bind "$root/proc/sys/net" "$root/proc/sys/net"
	mount -o remount,bind,ro "$root/proc/sys"
	mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
	mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$root/sys/fs/cgroup"
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$root/run"
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
	# a private /dev with what systemd and PrivateDevices= expect
	mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
	cp -a /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty "$root/dev/"
	# the console is a file (console.log, shown when a check fails)
	: >"$root/dev/console"
	mount --bind "$3" "$root/dev/console"
	mkdir "$root/dev/pts" "$root/dev/shm" "$root/.sl-oldroot"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
	ln -s pts/ptmx /proc/self/fd "$root/dev/"
	# (systemd brings the loopback up itself)
	cd "$root"
	pivot_root . .sl-oldroot
	umount -l /.sl-oldroot
	exec env -i container=sluice-test PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		/lib/systemd/systemd --unit=sluice-test.target --show-status=false \
		--log-color=false
fi

# ---- setup ----------------------------------------------------------------------
build=${1:?usage: systemd-container.sh BUILDDIR}
build=$(cd "$build" && pwd)
unit_src=$build/packaging/sluiced.service
sluiced_src=$build/daemon/sluiced
sluice_src=$build/cli/sluice
for f in "$unit_src" "$sluiced_src" "$sluice_src"; do
	[ -e "$f" ] || fail "$f not built"
done

[ "$(id -u)" = 0 ] || skip "needs root (namespaces, mounts, cgroups)"
[ -x /lib/systemd/systemd ] || skip "systemd not installed"
for c in unshare nsenter pivot_root ip nft; do
	command -v "$c" >/dev/null || skip "$c not installed"
done

# All mounts below live in a private mount namespace of this script: they go
# when it exits, whatever happens.
if [ "${SL_SD_PRIVATE:-}" != 1 ]; then
	unshare --mount --propagation private true 2>/dev/null ||
		skip "cannot create a mount namespace"
	SL_SD_PRIVATE=1 exec unshare --mount --propagation private \
		bash "$self" "$@"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sl-sd.XXXXXX")
root=$work/root
cg=$work/cg
cgname=sl-sd-$$-$RANDOM
sd_pid='' launcher=''
t_start=$(now_ms)

cleanup() {
	local rc=$? i
	if [ -n "$launcher" ]; then
		# SIGKILL to the container's PID 1 ends every process in it (and
		# to unshare, which SIGKILLs its child: PID 1 before it is systemd)
		[ -n "$sd_pid" ] && kill -KILL "$sd_pid" 2>/dev/null
		kill -KILL "$launcher" 2>/dev/null
		wait "$launcher" 2>/dev/null || true
	fi
	if [ -d "$cg/$cgname" ]; then
		for ((i = 0; i < 50; i++)); do
			find "$cg/$cgname" -depth -type d -exec rmdir {} + 2>/dev/null || true
			[ -d "$cg/$cgname" ] || break
			sleep 0.1
		done
		[ -d "$cg/$cgname" ] && echo "$me: cgroup $cgname left behind" >&2
	fi
	umount -R "$cg" "$root" "$work/rw" 2>/dev/null || true
	# never rm -r through a mounted root (the host's files below it)
	if grep -qs -- " $work/" /proc/self/mounts; then
		echo "$me: $work still has mounts: left in place" >&2
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$root" "$cg" "$work/rw"
# the root: the host's root (read-only lower layer) with writes in a tmpfs
mount -t tmpfs -o mode=0755 sl-sd "$work/rw"
mkdir "$work/rw/upper" "$work/rw/work"
mount -t overlay -o "lowerdir=/,upperdir=$work/rw/upper,workdir=$work/rw/work" \
	sl-sd "$root" 2>"$work/err" || skip "cannot mount an overlay of / ($(cat "$work/err"))"
mount -t cgroup2 none "$cg" 2>"$work/err" ||
	skip "cannot mount cgroup v2 ($(cat "$work/err"))"
mkdir "$cg/$cgname" 2>"$work/err" || skip "cannot create a cgroup ($(cat "$work/err"))"

# A small boot.  Only our units in /etc/systemd/system: the host's (what it
# enabled) are hidden by a tmpfs.  No generator (no fstab, getty, SysV
# script or crypt device here) and sysinit.target pulls in journald only:
# the rest would change the kernel for everyone (sysctl, modules, binfmt)
# or has nothing to do in this container but costs seconds under TCG.
# The vendor units in /lib stay as they are.
sdlib=$root/usr/lib/systemd
[ -d "$sdlib/system" ] || sdlib=$root/lib/systemd
etcsd=$root/etc/systemd/system
mount -t tmpfs -o mode=0755 tmpfs "$etcsd"
for d in "$sdlib/system-generators" "$root/lib/systemd/system-generators" \
	"$sdlib/system/sysinit.target.wants"; do
	[ -d "$d" ] && mount -t tmpfs -o mode=0755 tmpfs "$d"
done
ln -s ../systemd-journald.service "$sdlib/system/sysinit.target.wants/"
# The target booted.  Its After=sluiced.service (an ordering, it starts
# nothing) references the service, so systemd keeps it loaded once it is
# inactive: `systemctl show` then still tells how it stopped.
cat >"$etcsd/sluice-test.target" <<'EOF'
[Unit]
Description=sluice unit test (systemd-container.sh)
Requires=basic.target
After=basic.target sluiced.service
EOF

# The unit as built, and the binaries where it says they are.
mark "root mounted"
cp "$unit_src" "$etcsd/sluiced.service"
unit_val() { sed -n "s/^$1=//p" "$unit_src" | tail -1; }
exec_start=$(unit_val ExecStart)
read -r -a argv <<<"$exec_start"
sbin_sluiced=${argv[0]}
confdir=''
for ((i = 1; i < ${#argv[@]}; i++)); do
	case ${argv[i]} in
	--config | -c) confdir=${argv[i + 1]} ;;
	--config=*) confdir=${argv[i]#*=} ;;
	esac
done
[ -n "$confdir" ] || fail "ExecStart has no --config: $exec_start"
steer=0
[[ " $exec_start " == *" --steer "* ]] && steer=1
mkdir -p "$root$(dirname "$sbin_sluiced")"
cp "$sluiced_src" "$root$sbin_sluiced"
sluice=/usr/local/bin/sluice-test-cli
cp "$sluice_src" "$root$sluice"

# A sanitizer build needs its options in the service: the test's ASan and
# UBSan settings go through a drop-in.  LeakSanitizer stops the process
# with ptrace(2) at exit, which the unit's SystemCallFilter refuses (EPERM),
# so leaks are checked by the other suites, not here.
if grep -q 'libasan\.so' "$sluiced_src"; then
	asan=''
	IFS=: read -r -a opts <<<"${ASAN_OPTIONS:-}"
	for o in ${opts[@]+"${opts[@]}"}; do
		case $o in
		'' | detect_leaks=*) ;;
		*) asan+="$o:" ;;
		esac
	done
	mkdir -p "$etcsd/sluiced.service.d"
	{
		echo "# sanitizer build (systemd-container.sh): not part of the unit"
		echo "[Service]"
		echo "Environment=\"ASAN_OPTIONS=${asan}detect_leaks=0\""
		[ -n "${UBSAN_OPTIONS:-}" ] && echo "Environment=\"UBSAN_OPTIONS=$UBSAN_OPTIONS\""
	} >"$etcsd/sluiced.service.d/sanitizer.conf"
fi

mark "binaries copied"
# ---- configuration: one node, one workload, the mesh CA ---------------------
# The unit names no --node: sluiced takes the host name, which systemd sets
# from /etc/hostname.
echo node-a >"$root/etc/hostname"
# and a machine ID of its own, as systemd-nspawn gives a container
read -r uuid </proc/sys/kernel/random/uuid
echo "${uuid//-/}" >"$root/etc/machine-id"
we() { # name address sa
	cat <<EOF
---
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: $1
  namespace: default
spec:
  address: $2
  serviceAccount: $3
  labels:
    app: $1
    kubernetes.io/hostname: node-a
EOF
}
cfg=$root$confdir
mkdir -p "$cfg"
"$sluice_src" ca init "$cfg/ca" --trust-domain "$TD" >/dev/null
cat >"$cfg/node.yaml" <<EOF
apiVersion: sluice.io/v1alpha1
kind: Node
metadata:
  name: node-a
spec:
  trustDomain: $TD
  caDir: $confdir/ca
EOF
we pod11 198.18.1.11 client >"$cfg/workloads.yaml"
mark "configuration and CA written"

# ---- the container ------------------------------------------------------------
console=$work/console.log
: >"$console"

# sd CMD...: run CMD inside the container (all its namespaces, its root)
sd() {
	nsenter -t "$sd_pid" -m -p -n -u -i -C -r -w "$@"
}
sctl() {
	sd timeout "$SD_TIMEOUT" systemctl --no-pager "$@"
}
# props: the unit's state into P[...] (one systemctl call), as shown by show
declare -A P
props() {
	local k v out
	out=$(sctl show -p ActiveState,SubState,MainPID,StatusText,Result,ExecMainCode,ExecMainStatus sluiced) ||
		sd_fail "systemctl show sluiced failed"
	P=()
	while IFS='=' read -r k v; do
		P[$k]=$v
	done <<<"$out"
}
show() {
	local k
	for k in ActiveState SubState MainPID StatusText Result ExecMainCode ExecMainStatus; do
		printf '%s=%s ' "$k" "${P[$k]:-}"
	done
}
dump() {
	echo "--- systemctl status sluiced" >&2
	sctl status sluiced >&2 || true
	echo "--- sluiced's output (journal, tail)" >&2
	sd journalctl --no-pager -o short-monotonic -t sluiced -n 80 >&2 || true
	echo "--- systemd about sluiced.service (journal, debug, tail)" >&2
	tail -n 40 "$jlog" >&2 || true
	echo "--- systemd's console (tail)" >&2
	tail -n 40 "$console" >&2 || true
}
sd_fail() {
	echo "FAIL: $*" >&2
	[ -n "$sd_pid" ] && dump
	exit 1
}
status_json() {
	sd timeout "$SD_TIMEOUT" "$sluice" -o json status
}
json_val() { # json key: the value of "key" (number, bool or string)
	local s=$1
	[[ $s == *"\"$2\":"* ]] || return 1
	s=${s#*\""$2"\":}
	s=${s%%[,\}]*}
	s=${s#\"}
	echo "${s%\"}"
}
has_table() {
	sd nft list table inet sluice >/dev/null 2>&1
}

# What systemd itself saw: PID 1 logs at debug level (see sd_boot), and one
# journalctl follows its lines about sluiced.service into $jlog for the
# whole run (a journalctl per look costs seconds under TCG).
jlog=$work/systemd-sluiced.log
jfollow() {
	: >"$jlog"
	sd journalctl -f -n all -q -o cat -u sluiced _PID=1 >"$jlog" 2>&1 &
}
# jcursor: where the log is now (its number of lines)
jcursor() {
	local -a a
	mapfile -t a <"$jlog"
	echo "${#a[@]}"
}
# sd_log CURSOR: systemd's lines about sluiced.service since CURSOR:
# notifications as "notify PID: KEY=VALUE, ..." (WATCHDOG=1 left out), job
# messages ("Started sluiced.service - ...") as they are, the rest left out
sd_log() {
	local -a a
	local l re='^sluiced\.service: Got notification message from PID ([0-9]+) \((.*)\)$'
	mapfile -t -s "$1" a <"$jlog"
	for l in ${a[@]+"${a[@]}"}; do
		case $l in
		*'WATCHDOG=1)') ;;
		'sluiced.service: '*)
			if [[ $l =~ $re ]]; then
				echo "notify ${BASH_REMATCH[1]}: ${BASH_REMATCH[2]}"
			fi
			;;
		*) echo "$l" ;;
		esac
	done
}
# wait_log CURSOR SECONDS WHAT REGEX...: until sd_log has lines matching
# each (extended) REGEX, in this order
wait_log() {
	local c=$1 secs=$2 what=$3 i k l out=''
	shift 3
	local -a re=("$@")
	for ((i = 0; i < secs * 5; i++)); do
		out=$(sd_log "$c")
		k=0
		while IFS= read -r l; do
			if [ "$k" -lt ${#re[@]} ] && [[ $l =~ ${re[k]} ]]; then
				k=$((k + 1))
			fi
		done <<<"$out"
		[ "$k" = ${#re[@]} ] && return 0
		sleep 0.2
	done
	echo "--- systemd saw, since the step began:" >&2
	echo "$out" >&2
	sd_fail "$what"
}

sd_boot() {
	local i st=''
	# shellcheck disable=SC2094 # $console: the file PID 1 binds, not read
	(
		echo "$BASHPID" >"$cg/$cgname/cgroup.procs"
		exec unshare --pid --fork --kill-child --mount --uts --ipc --net \
			--cgroup bash "$self" --pid1 "$root" "$console"
	) >>"$console" 2>&1 &
	launcher=$!
	# $launcher is unshare; its child, PID 1 inside, becomes systemd
	for ((i = 0; i < 100; i++)); do
		sd_pid=$(pgrep -P "$launcher" || true)
		[ -n "$sd_pid" ] && [ "$(cat "/proc/$sd_pid/comm" 2>/dev/null)" = systemd ] && break
		sd_pid=''
		kill -0 "$launcher" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$sd_pid" ]; then
		cat "$console" >&2
		fail "systemd did not start in the container"
	fi
	mark "systemd runs"
	# its private socket first (systemctl talks to it), then
	# is-system-running --wait returns once the boot is over
	for ((i = 0; i < SD_TIMEOUT * 10; i++)); do
		sd test -S /run/systemd/private && break
		kill -0 "$sd_pid" 2>/dev/null || break
		sleep 0.1
	done
	st=$(sd timeout "$SD_TIMEOUT" systemctl is-system-running --wait 2>/dev/null) || true
	case $st in
	running) ;;
	degraded)
		echo "# degraded boot of the container; failed units:"
		sctl --failed --plain --no-legend | sed 's/^/#   /'
		;;
	*)
		cat "$console" >&2
		sd_fail "the container's systemd did not finish booting: '$st'"
		;;
	esac
	# from now on systemd logs each notification it gets (debug level)
	sctl log-level debug || sd_fail "systemctl log-level debug failed"
	jfollow
	ok "systemd $(sd systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p') booted as PID 1 of the container ($st, $(($(now_ms) - t0)) ms)"
}

# ---- the checks -----------------------------------------------------------------
gen='' pid1='' reloads=''

# serving_ok N: the unit runs, StatusText says it serves N workloads of the
# current generation (sets gen), the table is in place with --steer
serving_ok() {
	local st want
	props
	[ "${P[ActiveState]}/${P[SubState]}" = active/running ] || sd_fail "$(show)"
	st=$(status_json) || sd_fail "the admin socket does not answer"
	gen=$(json_val "$st" config_generation) || sd_fail "no config_generation: $st"
	reloads=$(json_val "$st" config_reloads) || sd_fail "no config_reloads: $st"
	want="serving $1 workload$([ "$1" = 1 ] || echo s), config $gen"
	[ "${P[StatusText]}" = "$want" ] || sd_fail "StatusText: $(show), want '$want'"
	if [ "$steer" = 1 ]; then
		has_table || sd_fail "active, but no table inet sluice (the unit runs --steer)"
	fi
}

check_start() {
	local t0 c
	t0=$(now_ms)
	c=$(jcursor)
	sctl start sluiced || sd_fail "systemctl start sluiced failed"
	serving_ok 1
	pid1=${P[MainPID]}
	[ "$pid1" -gt 0 ] || sd_fail "no MainPID: $(show)"
	# Type=notify: the job ended ("Started") only after READY=1
	wait_log "$c" 10 "no READY=1 with the serving STATUS from $pid1 before 'Started'" \
		"^notify $pid1: READY=1, STATUS=serving 1 workload, config $gen\$" \
		"^Started sluiced.service "
	ok "start: READY=1 then 'Started', active (running), StatusText 'serving 1 workload, config $gen'$([ "$steer" = 1 ] && echo ', table inet sluice in place') ($(($(now_ms) - t0)) ms)"
}

check_reload() {
	local t0 c gen1=$gen reloads1=$reloads
	t0=$(now_ms)
	c=$(jcursor)
	# The change may be swapped in by the directory watch before the
	# SIGHUP arrives; either way, one swap, and the READY=1 that ends the
	# SIGHUP's reload carries the new generation.
	we pod12 198.18.1.12 other >>"$cfg/workloads.yaml"
	sctl reload sluiced || sd_fail "systemctl reload sluiced failed"
	wait_log "$c" 30 "no RELOADING=1, then READY=1 with 'serving 2 workloads' from $pid1" \
		"^Reloading sluiced.service " \
		"^notify $pid1: RELOADING=1, MONOTONIC_USEC=[0-9]+, STATUS=reloading " \
		"^notify $pid1: READY=1, STATUS=serving 2 workloads, config [0-9a-f]+\$"
	serving_ok 2
	[ "${P[MainPID]}" = "$pid1" ] || sd_fail "the reload changed MainPID: $(show)"
	[ "$gen" != "$gen1" ] || sd_fail "the reload did not swap the configuration (generation $gen1)"
	[ "$reloads" = $((reloads1 + 1)) ] ||
		sd_fail "config_reloads $reloads1 -> $reloads over one reload"
	ok "reload: RELOADING=1 then READY=1, same MainPID, StatusText 'serving 2 workloads, config $gen', config_reloads $reloads1 -> $reloads ($(($(now_ms) - t0)) ms)"
}

# Checks across `systemctl restart` go in these two hooks: _begin runs just
# before the restart (start a client, a flow, note the table's handle...),
# _end once the unit is active again (the client saw no refusal, the flow
# lives, the table was never gone...).
#
# Here: a client connects to the inbound port every 20 ms throughout and
# none may be refused (sluiced then resets these loopback connections, as
# it does any without a handoff entry: reset is accepted, refused is not) (the listening sockets wait in systemd's fd store,
# FDSTORE=1, while no sluiced runs), and the listening sockets after are the
# very ones before (same inodes).
# (paths inside the container: its root is not the host's /tmp)
probe_pid='' probe_out=/run/sl-probe.out probe_stop=/run/sl-probe.stop
listen_inodes() {
	sd ss -Hltne '( sport = :15001 or sport = :15008 or sport = :15006 )' |
		grep -o 'ino:[0-9]*' | sort | tr '\n' ' '
}
probe_begin() {
	sd rm -f "$probe_stop" "$probe_out"
	inodes_before=$(listen_inodes)
	[ -n "$inodes_before" ] || sd_fail "no listening sockets before the probe"
	sd python3 -c '
import errno, os, socket, sys, time
stop, out = sys.argv[1], sys.argv[2]
ok = refused = other = 0
why = {}
while not os.path.exists(stop):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", 15008))
        ok += 1
    except ConnectionRefusedError:
        refused += 1
    except ConnectionResetError:
        # accepted, then reset by sluiced: a loopback connection with no
        # handoff entry is refused by design (PROTOCOL.md); a SYN that
        # finds no listener gives ECONNREFUSED instead
        ok += 1
    except OSError as e:
        other += 1
        k = type(e).__name__ + ":" + str(e.errno)
        why[k] = why.get(k, 0) + 1
    finally:
        s.close()
    time.sleep(0.02)
open(out, "w").write(f"{ok} {refused} {other} {why}\n")
' "$probe_stop" "$probe_out" &
	probe_pid=$!
	sleep 0.3
}
# probe_end WHAT: the probe's verdict
probe_end() {
	local ok refused other why line
	sd touch "$probe_stop"
	wait "$probe_pid" || sd_fail "$1: the probe client failed"
	# (no process substitution: the VM's /dev has no /dev/fd)
	line=$(sd cat "$probe_out")
	read -r ok refused other why <<<"$line"
	[ "$refused" = 0 ] && [ "$other" = 0 ] ||
		sd_fail "$1: $refused connections refused, $other failed ($ok connected): $why"
	[ "$ok" -ge 5 ] || sd_fail "$1: the probe connected only $ok times"
	[ "$(listen_inodes)" = "$inodes_before" ] ||
		sd_fail "$1: the listening sockets changed: '$inodes_before' -> '$(listen_inodes)'"
	probe_result="$ok connections during it, none refused, the same listening sockets"
}
restart_probe_begin() {
	probe_begin
}
restart_probe_end() {
	local n
	probe_end restart
	props
	n=$(sctl show -p NFileDescriptorStore --value sluiced)
	[ "$n" -ge 7 ] ||
		sd_fail "restart: $n fds in systemd's fd store, want the listening sockets (>= 7)"
	probe_result+=", $n fds in systemd's fd store"
}

check_restart() {
	local t0 c pid2
	t0=$(now_ms)
	c=$(jcursor)
	restart_probe_begin
	sctl restart sluiced || sd_fail "systemctl restart sluiced failed"
	serving_ok 2
	pid2=${P[MainPID]}
	if [ "$pid2" -le 0 ] || [ "$pid2" = "$pid1" ]; then
		sd_fail "restart kept MainPID $pid1: $(show)"
	fi
	sd kill -0 "$pid1" 2>/dev/null &&
		sd_fail "the old sluiced ($pid1) still runs after the restart"
	wait_log "$c" 10 "no STOPPING=1 from $pid1, then READY=1 from $pid2 before 'Started'" \
		"^notify $pid1: STOPPING=1, STATUS=draining " \
		"^notify $pid2: READY=1, STATUS=serving 2 workloads, config $gen\$" \
		"^Started sluiced.service "
	restart_probe_end
	ok "restart: STOPPING=1 from MainPID $pid1, READY=1 from $pid2, active (running), serving$([ "$steer" = 1 ] && echo ', table in place'); $probe_result ($(($(now_ms) - t0)) ms)"
	pid1=$pid2
}

# `sluice upgrade` (the Debian postinst's way): no restart job, the old
# MainPID names the new one (MAINPID=), which sends READY=1 and then feeds
# the watchdog itself; the old process exits; nothing refused meanwhile
check_upgrade() {
	local t0 c pid2 out i
	t0=$(now_ms)
	c=$(jcursor)
	probe_begin
	out=$(sd timeout 150 "$sluice" upgrade) || sd_fail "sluice upgrade failed: $out"
	pid2=$(sed -n 's/.* handed over to pid \([0-9]*\)$/\1/p' <<<"$out")
	[ -n "$pid2" ] && [ "$pid2" != "$pid1" ] || sd_fail "sluice upgrade said: $out"
	wait_log "$c" 20 "no MAINPID=$pid2 from $pid1, then READY=1 from $pid2" \
		"^notify $pid1: MAINPID=$pid2, STATUS=handed over to pid $pid2\$" \
		"^notify $pid2: READY=1, STATUS=serving 2 workloads, config [0-9a-f]+\$"
	probe_end upgrade
	serving_ok 2
	[ "${P[MainPID]}" = "$pid2" ] || sd_fail "after the upgrade: $(show), want MainPID $pid2"
	if sd_log "$c" | grep -q '^Stopping sluiced.service \|^Started sluiced.service '; then
		sd_fail "the upgrade went through a stop or start job: $(sd_log "$c")"
	fi
	for ((i = 0; i < 100; i++)); do
		sd kill -0 "$pid1" 2>/dev/null || break
		sleep 0.1
	done
	sd kill -0 "$pid1" 2>/dev/null && sd_fail "the old sluiced ($pid1) still runs 10 s after the upgrade"
	# the watchdog (WatchdogSec, fed every half period) is the new one's
	wd=$(sctl show -p WatchdogUSec --value sluiced)
	for ((i = 0; i < 250; i++)); do
		grep -q "Got notification message from PID $pid2 (WATCHDOG=1)" "$jlog" && break
		sleep 0.2
	done
	grep -q "Got notification message from PID $pid2 (WATCHDOG=1)" "$jlog" ||
		sd_fail "no WATCHDOG=1 from the new MainPID $pid2 within 50 s (WatchdogUSec $wd)"
	ok "upgrade: MAINPID=$pid2 from $pid1, READY=1 and WATCHDOG=1 from $pid2, no stop or start job, $pid1 gone; $probe_result ($(($(now_ms) - t0)) ms)"
	pid1=$pid2
}

check_stop() {
	local t0 c text
	t0=$(now_ms)
	c=$(jcursor)
	sctl stop sluiced || sd_fail "systemctl stop sluiced failed"
	props
	[ "${P[ActiveState]}/${P[SubState]}" = inactive/dead ] ||
		sd_fail "after stop: $(show)"
	[ "${P[Result]}" = success ] || sd_fail "stop: $(show)"
	# exited (1), status 0: a clean exit, not killed by SIGKILL or a signal
	[ "${P[ExecMainCode]}/${P[ExecMainStatus]}" = 1/0 ] ||
		sd_fail "sluiced did not exit 0 on stop: $(show)"
	text=${P[StatusText]}
	wait_log "$c" 10 "no STOPPING=1 from $pid1 between 'Stopping' and 'Stopped'" \
		"^Stopping sluiced.service " \
		"^notify $pid1: STOPPING=1, STATUS=draining " \
		"^Stopped sluiced.service "
	ok "stop: STOPPING=1 ('$text'), inactive (dead), exit 0 ($(($(now_ms) - t0)) ms)"
	if [ "$steer" = 1 ]; then
		# the unit keeps the table at stop (--keep-table-on-stop): pod
		# traffic fails closed; --remove-steering is what removes it
		has_table || sd_fail "after stop: the table is gone (the unit keeps it)"
		sd "$sbin_sluiced" --remove-steering >/dev/null ||
			sd_fail "sluiced --remove-steering failed"
		has_table && sd_fail "sluiced --remove-steering left the table"
		ok "after stop: the table stays (fail closed) until sluiced --remove-steering"
	fi
}

t0=$(now_ms)
sd_boot
check_start
check_reload
check_restart
check_upgrade
check_stop
echo "# $me: $(($(now_ms) - t_start)) ms in all"
if [ "${SL_SD_PROFILE:-}" = 1 ]; then
	sd systemd-analyze --no-pager || true
	sd systemd-analyze blame --no-pager | head -30 || true
	sd systemd-analyze critical-chain --no-pager || true
fi
