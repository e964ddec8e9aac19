#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Pod watcher end to end: nft-tool applies the table on node1 and runs
# nft/podwatch.c, which must
#  - report the existing pods (initial dump: /32 and /128 via veths),
#  - report a pod created later (new veth + host routes) and add it to the
#    table's sets, and remove it again when its routes or its veth go away,
#  - ignore host routes that are not via a veth and routes with a gateway.
# usage: nft-podwatch.sh NFT_TOOL
set -euo pipefail
# never "cmd | grep -q": grep exits early, cmd gets SIGPIPE and pipefail
# turns a match into a failure; grep >/dev/null reads everything
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"

tool=${1:?nft-tool path}
T=slwatch$$

tp_require_root
tp_setup

ok() { echo "ok - $*"; }
n1() { tp_exec node1 "$@"; }
log=$TP_DIR/watch.log

wait_line() { # regex [seconds]
	local i
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		grep -qE "$1" "$log" && return 0
		sleep 0.05
	done
	echo "--- watch log:" >&2
	cat "$log" >&2
	tp_fail "no line matching '$1'"
}
in_set() { n1 nft list set inet "$T" "$1" | grep -w "$2" >/dev/null; }
wait_set() { # set addr present(1)/absent(0)
	local i
	for ((i = 0; i < 100; i++)); do
		if in_set "$1" "$2"; then [ "$3" = 1 ] && return 0; else [ "$3" = 0 ] && return 0; fi
		sleep 0.05
	done
	tp_fail "set $1: $2 should be $([ "$3" = 1 ] && echo present || echo absent)"
}

# table without any pod; the watcher must fill it
tp_bg node1 "$log" "$tool" -R -t "$T" apply + watch 60 "$TP_DIR/stop"
watch_pid=$TP_BG_PID
wait_line '^watching$'
for ip in 198.18.1.11 198.18.1.12 fd00:5a1c:1::11 fd00:5a1c:1::12; do
	grep -qE "^\+ $ip [0-9]+$" "$log" || tp_fail "initial dump missed $ip"
done
[ "$(grep -c '^[+-]' "$log")" = 4 ] || { cat "$log" >&2; tp_fail "initial dump: want exactly 4 pods"; }
wait_set pods4 198.18.1.11 1
wait_set pods6 fd00:5a1c:1::12 1
ok "initial dump reports the existing pods and fills the sets"

# noise: a host route via a non-veth device (lo), a /32 with a gateway
n1 ip route add 198.18.1.50/32 dev lo
n1 ip route add 198.18.1.51/32 via 198.18.1.11 dev veth-pod11 onlink

# a new pod appears
tp_add_pod 1 pod13 13
idx=$(n1 cat /sys/class/net/veth-pod13/ifindex)
wait_line "^\+ 198\.18\.1\.13 $idx$"
wait_line "^\+ fd00:5a1c:1::13 $idx$"
wait_set pods4 198.18.1.13 1
wait_set pods6 fd00:5a1c:1::13 1
grep -qE '198\.18\.1\.5[01] ' "$log" && tp_fail "non-pod route reported"
ok "a new pod (veth + /32 + /128) is reported and added to the sets"

# its IPv4 route is deleted while the veth stays
n1 ip route del 198.18.1.13/32
wait_line "^- 198\.18\.1\.13 $idx$"
wait_set pods4 198.18.1.13 0
in_set pods6 fd00:5a1c:1::13 || tp_fail "v6 address of pod13 vanished too early"
ok "route removal is reported and the set loses the pod"

# pod12 goes away with its veth: IPv4 host routes disappear without an
# RTM_DELROUTE; the watcher must notice through the link event
idx12=$(n1 cat /sys/class/net/veth-pod12/ifindex)
tp_del_pod pod12
wait_line "^- 198\.18\.1\.12 $idx12$"
wait_line "^- fd00:5a1c:1::12 $idx12$"
wait_set pods4 198.18.1.12 0
wait_set pods6 fd00:5a1c:1::12 0
in_set pods4 198.18.1.11 || tp_fail "pod11 lost"
ok "deleting a pod's veth removes it (v4 via link event, v6 via route event)"

# each change exactly once
[ "$(grep -c '^+ 198.18.1.13 ' "$log")" = 1 ] || tp_fail "duplicate add report"
[ "$(grep -c '^- 198.18.1.12 ' "$log")" = 1 ] || tp_fail "duplicate remove report"
ok "every change is reported once"

# the watcher stops cleanly (exit status 0: no ASan/LSan report)
touch "$TP_DIR/stop"
rc=0
wait "$watch_pid" || rc=$?
[ $rc = 0 ] || { cat "$log" >&2; tp_fail "watcher exited with $rc"; }
ok "watcher exits cleanly"
echo "PASS"
