#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# No data held back in the relay (issue 8: open-loop latency).  Two nodes,
# one sluiced per node with userspace TLS (--ktls off), pod11 -> pod21:
#
#  1. strict request/response: each message is sent only after the echo of
#     the previous one came back, for 1 B, 64 B, 1 KiB, 4000 B, 16 KiB and
#     20000 B (more than one TLS record) messages, IPv4 and IPv6.  A relay
#     that keeps data until more arrives (a buffer waiting to fill, a record
#     not pumped, a recv not re-armed) never answers: the client gives up
#     after 20 s per message and the test fails.  No timing is asserted.
#  2. every connected TCP socket of both sluiceds (pod side and mesh side,
#     accepted and dialled) has TCP_NODELAY: Nagle held a small reply until
#     the previous one was acknowledged, i.e. until the next request came
#     (sl-tcp nodelay-check, pidfd_getfd).
#  3. node2's sluiced busy-polls (--busy-poll 200us, loop.h), node1's does
#     not: the same exchanges pass through both loops, node2's status counts
#     windows that found work (hits) and node1's none; a window over 1 ms is
#     refused with an error naming the option.
#  4. the client speaks first, so node1 found its first bytes waiting when
#     the handshake was done and sent them in the preamble's record
#     (stats preamble_early_data); every exchange above checks they arrive
#     once and in order.
#
# usage: relay-nodelay.sh SLUICED SLUICE NFT_TOOL SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"

sluiced=${1:?sluiced path}
sluice=${2:?sluice path}
nft_tool=${3:?nft-tool path}
sltcp=${4:?sl-tcp path}

tp_require_root
tp_setup

ok() { echo "ok - $*"; }

p11=$(tp_pod_ip pod11) p21=$(tp_pod_ip pod21)
p11_6=$(tp_pod_ip pod11 6) p21_6=$(tp_pod_ip pod21 6)
td=cluster.local
ca=$TP_DIR/ca
"$sluice" ca init "$ca" --trust-domain "$td" >/dev/null

mkconfig() { # dir node
	mkdir -p "$1"
	cat >"$1/node.yaml" <<EOC
apiVersion: sluice.io/v1alpha1
kind: Node
metadata:
  name: $2
spec:
  trustDomain: $td
  caDir: $ca
EOC
	: >"$1/workloads.yaml"
	local pod addr sa node
	for pod in pod11 pod21 pod11-v6 pod21-v6; do
		case $pod in
		pod11) addr=$p11 sa=client node=node-a ;;
		pod21) addr=$p21 sa=echo node=node-b ;;
		pod11-v6) addr=$p11_6 sa=client node=node-a ;;
		pod21-v6) addr=$p21_6 sa=echo node=node-b ;;
		esac
		cat >>"$1/workloads.yaml" <<EOC
---
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: $pod
  namespace: default
spec:
  address: $addr
  serviceAccount: $sa
  labels:
    app: $pod
    kubernetes.io/hostname: $node
EOC
	done
}
mkconfig "$TP_DIR/cfg-a" node-a
mkconfig "$TP_DIR/cfg-b" node-b

tp_exec node1 "$nft_tool" apply "$p11" "$p11_6"
tp_exec node2 "$nft_tool" apply "$p21" "$p21_6"
tp_bg pod21 "$TP_DIR/echo.log" "$sltcp" serve 7000 echo
tp_wait_port pod21 7000

rc=0
"$sluiced" --config "$TP_DIR/cfg-a" --busy-poll 5ms >"$TP_DIR/bp.err" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q -- "--busy-poll: '5ms'" "$TP_DIR/bp.err" ||
	tp_fail "--busy-poll 5ms: exit $rc, $(cat "$TP_DIR/bp.err")"
ok "--busy-poll over 1 ms is refused, naming the option"

tp_bg node1 "$TP_DIR/sluiced-a.log" "$sluiced" --config "$TP_DIR/cfg-a" \
	--node node-a --workers 1 --admin-socket "$TP_DIR/a.sock" --ktls off \
	--grace 1s --log-level info
pid_a=$TP_BG_PID
tp_bg node2 "$TP_DIR/sluiced-b.log" "$sluiced" --config "$TP_DIR/cfg-b" \
	--node node-b --workers 1 --admin-socket "$TP_DIR/b.sock" --ktls off \
	--grace 1s --log-level info --busy-poll 200us
pid_b=$TP_BG_PID
dump_logs() {
	echo "--- sluiced-a"; tail -30 "$TP_DIR/sluiced-a.log"
	echo "--- sluiced-b"; tail -30 "$TP_DIR/sluiced-b.log"
}
tp_wait_port node1 15001 || { dump_logs; tp_fail "sluiced on node1 did not start"; }
tp_wait_port node2 15008 || { dump_logs; tp_fail "sluiced on node2 did not start"; }

sizes=1,64,1024,4000,16384,20000
for dst in "$p21" "$p21_6"; do
	out=$TP_DIR/pingpong-$dst.out
	# HOLD 30: the flow stays open for the socket check below
	tp_bg pod11 "$out" "$sltcp" pingpong-check "$dst" 7000 50 "$sizes" 30
	pp=$TP_BG_PID
	for ((i = 0; i < 600; i++)); do
		grep -qs "pingpong ok" "$out" && break
		kill -0 "$pp" 2>/dev/null || break
		sleep 0.1
	done
	grep -qs "pingpong ok" "$out" || {
		cat "$out"; dump_logs
		tp_fail "request/response through sluice to $dst: $(cat "$out")"
	}
	ok "request/response to $dst, sizes $sizes: every message answered"
	# the flow is open: 2 sockets per node (pod side, mesh side)
	for pid in $pid_a $pid_b; do
		r=$("$sltcp" nodelay-check "$pid" 2) ||
			{ dump_logs; tp_fail "sluiced pid $pid: $r"; }
		echo "# $r"
	done
	ok "every connected TCP socket of both sluiceds has TCP_NODELAY ($dst)"
	kill "$pp" 2>/dev/null || true
	wait "$pp" 2>/dev/null || true
done

busy_poll() { # sock: the status's busy_poll object
	echo status | socat -t 5 - "UNIX-CONNECT:$1" | grep -o '"busy_poll":{[^}]*}'
}
bp_a=$(busy_poll "$TP_DIR/a.sock") || tp_fail "node1: no busy_poll in status"
bp_b=$(busy_poll "$TP_DIR/b.sock") || tp_fail "node2: no busy_poll in status"
echo "# node1 $bp_a"
echo "# node2 $bp_b"
hits_b=$(echo "$bp_b" | grep -o '"hits":[0-9]*' | cut -d: -f2)
[[ "$bp_b" == *'"window_us":200,'* ]] && [ "${hits_b:-0}" -gt 0 ] ||
	tp_fail "node2 (--busy-poll 200us) found no work while polling: $bp_b"
[ "$bp_a" = '"busy_poll":{"window_us":0,"hits":0,"misses":0}' ] ||
	tp_fail "node1 (busy polling off) polled: $bp_a"
ok "node2 busy-polled ($hits_b windows found work), node1 did not"

early=$(echo stats | socat -t 5 - "UNIX-CONNECT:$TP_DIR/a.sock" |
	grep -o '"preamble_early_data":[0-9]*' | cut -d: -f2)
[ "${early:-0}" -ge 1 ] ||
	tp_fail "node1 never sent pod bytes with the preamble (preamble_early_data ${early:-missing})"
ok "node1 sent the first pod bytes with the preamble ($early flows)"

kill -TERM "$pid_a" "$pid_b"
rc=0
wait "$pid_a" || rc=$?
[ $rc = 0 ] || { dump_logs; tp_fail "sluiced on node1 exited with $rc"; }
wait "$pid_b" || rc=$?
[ $rc = 0 ] || { dump_logs; tp_fail "sluiced on node2 exited with $rc"; }
ok "both daemons stopped cleanly"
