#!/bin/sh
# The hardened systemd unit stays valid and hardened: systemd-analyze verify
# finds no error (and, given the built man pages, that every man: page of
# its Documentation= exists); systemd-analyze security fails no check but
# those listed below with their reasons (losing any hardening line fails),
# and the exposure stays at or below 2.1, what the unit reaches.
# It is a Type=notify unit (docs/sluiced.8.md, "systemd"): NotifyAccess=main,
# a WatchdogSec sluiced can feed (>= 4 s: each feed needs a new heartbeat
# from every worker, one a second), and an ExecStart binary that speaks
# sd_notify.
# usage: test-unit.sh UNIT-FILE [MAN-PAGE...]
#   MAN-PAGE: the built pages (docs/meson.build); without them (no lowdown)
#   verify does not look for the Documentation= pages (--man=no)
set -eu
unit=${1:?unit file}
shift
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze not installed" >&2
	exit 77
fi
man=--man=no
if [ $# -gt 0 ]; then
	# a man(1) tree of the build's pages, where verify runs man
	mp=$(mktemp -d)
	trap 'rm -rf "$mp"' EXIT
	for page in "$@"; do
		sec=${page##*.}
		mkdir -p "$mp/man$sec"
		ln -s "$(cd "$(dirname "$page")" && pwd)/$(basename "$page")" "$mp/man$sec/"
	done
	export MANPATH=$mp
	man=--man=yes
	for d in $(sed -n 's/^Documentation=//p' "$unit"); do
		case $d in man:*) echo "Documentation= $d" ;; esac
	done
else
	echo "no man pages built: Documentation= man: pages not checked"
fi
out=$(systemd-analyze verify "$man" "$unit" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
	echo "systemd-analyze verify complained:"; echo "$out"; exit 1
fi

# the notify protocol: the last assignment of a key wins, as in systemd
val() { sed -n "s/^$1=//p" "$unit" | tail -1; }
[ "$(val Type)" = notify ] || { echo "Type=$(val Type), want notify" >&2; exit 1; }
[ "$(val NotifyAccess)" = main ] ||
	{ echo "NotifyAccess=$(val NotifyAccess), want main" >&2; exit 1; }
wd=$(val WatchdogSec)
[ -n "$wd" ] || { echo "no WatchdogSec" >&2; exit 1; }
us=$(systemd-analyze timespan "$wd" | sed -n 's/^ *μs: *//p')
[ -n "$us" ] && [ "$us" -ge 4000000 ] ||
	{ echo "WatchdogSec=$wd ($us us): below 4 s a healthy sluiced may miss a feed" >&2; exit 1; }
bin=$(val ExecStart | cut -d' ' -f1)
[ -x "$bin" ] || { echo "ExecStart binary $bin not found" >&2; exit 1; }
grep -q sd_notify "$bin" ||
	{ echo "$bin does not call sd_notify: Type=notify would never start" >&2; exit 1; }
echo "Type=notify, NotifyAccess=main, WatchdogSec=$wd, $bin calls sd_notify"

# Each check systemd-analyze security fails is one this list accepts, with
# its reason; any other one failing is hardening lost (the score alone
# hides many: ProcSubset= or LockPersonality= move it by less than 0.1).
accepted='
SystemCallFilter=~@resources	setpriority(2): the handshake threads nice themselves (--handshake-nice)
RootDirectory=/RootImage=	sluiced runs in the host root: it steers the host
User=/DynamicUser=	root: the CA key, the state dir and the admin socket are root'"'"'s (another user is not done yet)
AmbientCapabilities=	CAP_NET_ADMIN and CAP_NET_RAW (below)
RestrictAddressFamilies=~AF_NETLINK	nftables, policy routes and the pod route watch
RestrictAddressFamilies=~AF_UNIX	the admin socket, sd_notify
RestrictAddressFamilies=~AF_(INET|INET6)	the mesh itself
CapabilityBoundingSet=~CAP_NET_ADMIN	nftables, policy routes, IP_TRANSPARENT
CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)	CAP_NET_RAW: IP_TRANSPARENT and SO_MARK
PrivateNetwork=	sluiced serves and steers the host network
PrivateUsers=	the capabilities must hold in the host user namespace
DeviceAllow=	char-rtc:r, which ProtectClock=yes itself adds
IPAddressDeny=	sluiced connects to every node and pod of the mesh
'
failed=$(systemd-analyze security --offline=true --json=short "$unit" | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if not c["set"] and c.get("exposure"):
        print(c["name"])
')
lost=
for name in $failed; do
	printf '%s\n' "$accepted" | cut -f1 | grep -qxF -- "$name" || lost="$lost $name"
done
if [ -n "$lost" ]; then
	echo "hardening lost (systemd-analyze security fails these):$lost" >&2
	exit 1
fi

# exposure in tenths, as --threshold takes it (2.1: 21)
max=21
rc=0
out=$(systemd-analyze security --offline=true --threshold=$max "$unit") || rc=$?
echo "$out" | tail -1
if [ "$rc" != 0 ]; then
	echo "the unit's exposure is above $((max / 10)).$((max % 10)): hardening was lost" >&2
	exit 1
fi
