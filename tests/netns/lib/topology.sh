# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034 # TP_* are used by the sourcing scripts
#
# topology.sh - two "nodes" with two "pods" each, all network namespaces.
# Source it from a bash test (set -euo pipefail is fine), then call tp_setup.
#
#   node1 ==(link "nl0": 198.18.0.1/24 fd00:5a1c::1/64)==
#           (198.18.0.2/24 fd00:5a1c::2/64)== node2
#   pod11 198.18.1.11 fd00:5a1c:1::11   pod21 198.18.2.11 fd00:5a1c:2::11
#   pod12 198.18.1.12 fd00:5a1c:1::12   pod22 198.18.2.12 fd00:5a1c:2::12
#
# Routing is Calico-like: each pod has a veth "eth0" with its /32 and /128,
# "169.254.1.1 dev eth0 scope link" + "default via 169.254.1.1" (and
# fd00:5a1c:N::1 for IPv6).  The node end of the veth is "veth-<pod>" and
# carries 169.254.1.1/32 and fd00:5a1c:N::1/128 (REDIRECT needs an address
# on the incoming interface); the node has "<pod ip>/32 dev veth-<pod>" and
# "/128" host routes - the routes nft/podwatch.c learns pods from.  Each
# node routes the other node's 198.18.N.0/24 and fd00:5a1c:N::/64 over nl0;
# forwarding is on, rp_filter off, DAD off.  No route leaves the namespaces.
#
# Names: logical names node1 node2 pod11 pod12 pod21 pod22 are accepted by
# every helper; the namespace is "$TP_PREFIX-<name>" (unique per run:
# PID + random), see tp_ns.
#
# Functions:
#   tp_require_root            exit 77 (SKIP) unless root with netns + nft,
#                              or exit 1 when SL_NO_SKIP=1
#   tp_setup                   build everything; installs an EXIT/INT/TERM
#                              trap running tp_teardown
#   tp_teardown                kill background processes, run tp_on_exit
#                              commands, delete the namespaces (idempotent)
#   tp_on_exit 'CMD'           run CMD (eval) at teardown
#   tp_ns NAME                 namespace name of node1/pod21/...
#   tp_exec NAME CMD...        run CMD inside the namespace
#   tp_pod_ip POD [6]          198.18.N.1X, or fd00:5a1c:N::1X with "6"
#   tp_add_pod NODE POD IDX    create pod "POD" on NODE (1|2) with address
#                              198.18.NODE.IDX / fd00:5a1c:NODE::IDX
#   tp_del_pod POD             delete a pod namespace (its veth and routes go)
#   tp_bg NAME LOG CMD...      start CMD in the namespace in the background,
#                              stdout+stderr to LOG; sets TP_BG_PID; killed
#                              at teardown
#   tp_wait_port NAME PORT [SECONDS]  wait until TCP PORT listens (default 5 s)
#   tp_connect NAME IP PORT [SECONDS] connect, print the first line received
#                              (bash /dev/tcp; fails on timeout/refusal)
#   tp_fail MSG / tp_skip MSG  print and exit 1 / 77
# Variables: TP_PREFIX, TP_DIR (scratch dir removed at teardown),
#   TP_NODE1 TP_NODE2 TP_POD11 TP_POD12 TP_POD21 TP_POD22 (namespace names).

TP_PREFIX=${TP_PREFIX:-sl$$x$RANDOM}
TP_NODE1=$TP_PREFIX-node1
TP_NODE2=$TP_PREFIX-node2
TP_POD11=$TP_PREFIX-pod11
TP_POD12=$TP_PREFIX-pod12
TP_POD21=$TP_PREFIX-pod21
TP_POD22=$TP_PREFIX-pod22
TP_DIR=
TP_BG_PID=
_tp_pids=()
_tp_exit_cmds=()
_tp_torn_down=0

tp_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

tp_skip() {
	if [ "${SL_NO_SKIP:-0}" = 1 ]; then
		echo "FAIL (SL_NO_SKIP=1, would skip): $*" >&2
		exit 1
	fi
	echo "SKIP: $*" >&2
	exit 77
}

tp_require_root() {
	[ "$(id -u)" = 0 ] || tp_skip "needs root for network namespaces"
	command -v ip >/dev/null || tp_skip "ip(8) not installed"
	command -v nft >/dev/null || tp_skip "nft(8) not installed"
	local probe=$TP_PREFIX-probe
	ip netns add "$probe" 2>/dev/null || tp_skip "cannot create a network namespace"
	ip netns del "$probe"
}

tp_ns() {
	case $1 in
	"$TP_PREFIX"-*) echo "$1" ;;
	*) echo "$TP_PREFIX-$1" ;;
	esac
}

tp_exec() {
	local ns
	ns=$(tp_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

tp_on_exit() {
	_tp_exit_cmds+=("$1")
}

# tp_pod_ip POD [6]: pod names are pod<node><index>, address .1<index>
tp_pod_ip() {
	local name=${1#"$TP_PREFIX"-} node idx
	name=${name#pod}
	node=${name:0:1}
	idx=${name:1}
	case $node$idx in
	*[!0-9]* | "") tp_fail "tp_pod_ip: not a pod name: $1" ;;
	esac
	if [ "${2:-4}" = 6 ]; then
		echo "fd00:5a1c:$node::1$idx"
	else
		echo "198.18.$node.1$idx"
	fi
}

_tp_new_ns() {
	ip netns add "$1"
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip -n "$1" link set lo up
}

# tp_add_pod NODE POD IDX: host octet/suffix is 1<IDX> by convention of
# tp_pod_ip, but any IDX works: addresses are 198.18.NODE.IDX
tp_add_pod() {
	local node=$1 pod=$2 idx=$3
	local nns pns v4 v6 gw6
	nns=$(tp_ns "node$node")
	pns=$(tp_ns "$pod")
	v4=198.18.$node.$idx
	v6=fd00:5a1c:$node::$idx
	gw6=fd00:5a1c:$node::1
	_tp_new_ns "$pns"
	ip link add name "veth-$pod" netns "$nns" type veth peer name eth0 netns "$pns"
	ip -n "$pns" link set eth0 up
	ip -n "$pns" addr add "$v4/32" dev eth0
	ip -n "$pns" -6 addr add "$v6/128" dev eth0 nodad
	ip -n "$pns" route add 169.254.1.1 dev eth0 scope link
	ip -n "$pns" route add default via 169.254.1.1 dev eth0
	ip -n "$pns" -6 route add "$gw6/128" dev eth0
	ip -n "$pns" -6 route add default via "$gw6" dev eth0
	ip -n "$nns" link set "veth-$pod" up
	ip -n "$nns" addr add 169.254.1.1/32 dev "veth-$pod"
	ip -n "$nns" -6 addr add "$gw6/128" dev "veth-$pod" nodad
	ip -n "$nns" route add "$v4/32" dev "veth-$pod"
	ip -n "$nns" -6 route add "$v6/128" dev "veth-$pod"
}

tp_del_pod() {
	ip netns del "$(tp_ns "$1")"
}

tp_setup() {
	local n
	trap tp_teardown EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	TP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/$TP_PREFIX.XXXXXX")
	for n in 1 2; do
		_tp_new_ns "$(tp_ns "node$n")"
		ip netns exec "$(tp_ns "node$n")" sysctl -qw net.ipv4.ip_forward=1 \
			net.ipv6.conf.all.forwarding=1
	done
	ip link add name nl0 netns "$TP_NODE1" type veth peer name nl0 netns "$TP_NODE2"
	for n in 1 2; do
		local ns peer=$((3 - n))
		ns=$(tp_ns "node$n")
		ip -n "$ns" link set nl0 up
		ip -n "$ns" addr add "198.18.0.$n/24" dev nl0
		ip -n "$ns" -6 addr add "fd00:5a1c::$n/64" dev nl0 nodad
		ip -n "$ns" route add "198.18.$peer.0/24" via "198.18.0.$peer" dev nl0
		ip -n "$ns" -6 route add "fd00:5a1c:$peer::/64" via "fd00:5a1c::$peer" dev nl0
		tp_add_pod "$n" "pod${n}1" 11
		tp_add_pod "$n" "pod${n}2" 12
	done
}

tp_teardown() {
	local rc=$? pid ns c
	[ "$_tp_torn_down" = 1 ] && return 0
	_tp_torn_down=1
	for pid in "${_tp_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${_tp_pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	for c in "${_tp_exit_cmds[@]}"; do
		eval "$c" || true
	done
	for ns in $(ip netns list | awk '{print $1}'); do
		case $ns in
		"$TP_PREFIX"-*) ip netns del "$ns" 2>/dev/null || true ;;
		esac
	done
	[ -n "$TP_DIR" ] && rm -rf "$TP_DIR"
	return "$rc"
}

tp_bg() {
	local ns log=$2
	ns=$(tp_ns "$1")
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	TP_BG_PID=$!
	_tp_pids+=("$TP_BG_PID")
}

tp_wait_port() {
	local ns port=$2 secs=${3:-5} i
	ns=$(tp_ns "$1")
	for ((i = 0; i < secs * 20; i++)); do
		if [ -n "$(ip netns exec "$ns" ss -Hltn "sport = :$port")" ]; then
			return 0
		fi
		sleep 0.05
	done
	echo "tp_wait_port: nothing listens on $1:$port after ${secs}s" >&2
	return 1
}

tp_connect() {
	local ns ip=$2 port=$3 secs=${4:-3}
	ns=$(tp_ns "$1")
	timeout "$secs" ip netns exec "$ns" bash -c \
		'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r line <&3 && echo "$line"' \
		"$ip" "$port"
}
