#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Flow lifetime settings end to end (issue 5), two nodes (tests/netns/lib):
#  1. DestinationRule connectionPool.tcp.maxConnectionDuration 2s on
#     service "short": a flow to it that stays open (echo server, client
#     never closes) is reset by sluiced on its own, long before the 60 s
#     the client waits, counted (relay_max_duration) and logged with
#     response flag DT; flows to a destination without it (service "long",
#     a pod address) stay up
#  2. tcpKeepalive {probes, time: 11s, interval} on "long": sluiced's
#     upstream (mesh-side) socket has SO_KEEPALIVE with that idle time (ss
#     shows timer:(keepalive,<11sec,...)); a flow without it has none
#  3. the default idle timeout is 1 h (logged at start); --idle-timeout 0
#     turns it off
#  4. after pod22 leaves the config, two reloads remove the endpoint health
#     entries nobody uses (status lb_endpoints, lb_endpoints_collected)
#
# usage: tm-duration.sh SLUICED SLUICE NFT_TOOL SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"
# shellcheck source=lib/tm.sh
. "$here/lib/tm.sh"

SLUICED=${1:?sluiced path}
SLUICE=${2:?sluice path}
NFT_TOOL=${3:?nft-tool path}
SL_TCP=${4:?sl-tcp path}

tm_init
p11=$(tp_pod_ip pod11) p21=$(tp_pod_ip pod21) p22=$(tp_pod_ip pod22)
vip_short=198.19.0.12 vip_long=198.19.0.13

mkcfg() { # dir node
	tm_node_yaml "$1" "$2"
	{
		tm_we pod11 "$p11" node-a "app: client"
		tm_we pod21 "$p21" node-b "app: short"
		tm_we pod22 "$p22" node-b "app: long"
		tm_svc short "$vip_short" 80 7000 "app: short"
		tm_svc long "$vip_long" 80 7003 "app: long"
	} >"$1/workloads.yaml"
	cat >"$1/traffic.yaml" <<EOT
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: short, namespace: default}
spec:
  host: short
  trafficPolicy:
    connectionPool:
      tcp: {maxConnectionDuration: 2s}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: long, namespace: default}
spec:
  host: long
  trafficPolicy:
    portLevelSettings:
    - port: {number: 80}
      connectionPool:
        tcp:
          tcpKeepalive: {probes: 4, time: 11s, interval: 3s}
EOT
}
mkcfg "$TM_CFG_A" node-a
mkcfg "$TM_CFG_B" node-b
"$SLUICED" --config "$TM_CFG_A" --node node-a --check >/dev/null ||
	tp_fail "sluiced --check rejects the test config"

tp_exec node1 "$NFT_TOOL" apply "$p11"
tp_bg pod21 "$TP_DIR/pod21.log" "$SL_TCP" serve 7000 echo
tp_bg pod22 "$TP_DIR/pod22.log" "$SL_TCP" serve 7003 echo
tp_wait_port pod21 7000
tp_wait_port pod22 7003
tm_start_b --idle-timeout 0
tm_start_a
for ((i = 0; i < 50; i++)); do
	tp_exec node2 nft list set inet sluice pods4 2>/dev/null | grep -q "$p22" && break
	sleep 0.1
done

# ---- 3. idle timeout default ------------------------------------------------------
grep -q "idle timeout 3600000 ms" "$TP_DIR/sluiced-a.log" ||
	{ tm_dump_logs; tp_fail "node-a does not report the 1 h default idle timeout"; }
grep -q "idle timeout none" "$TP_DIR/sluiced-b.log" ||
	{ tm_dump_logs; tp_fail "node-b (--idle-timeout 0) does not report no idle timeout"; }
ok "idle timeout: 1 h by default, none with --idle-timeout 0"

# ---- 1. maxConnectionDuration -----------------------------------------------------
d0=$(tm_stat "$TM_SOCK_A" relay_max_duration)
# two flows that never close by themselves: to "long" and to pod21 directly
# (not through the function: $! must be timeout(1) itself)
ip netns exec "$(tp_ns pod11)" timeout 60 "$SL_TCP" rst-check "$vip_long" 80 \
	>"$TP_DIR/long.out" 2>&1 &
long_pid=$!
ip netns exec "$(tp_ns pod11)" timeout 60 "$SL_TCP" rst-check "$p21" 7000 \
	>"$TP_DIR/direct.out" 2>&1 &
direct_pid=$!
for ((i = 0; i < 100; i++)); do
	[ "$(tp_exec pod22 ss -Htn state established "sport = :7003" | wc -l)" -ge 1 ] &&
		[ "$(tp_exec pod21 ss -Htn state established "sport = :7000" | wc -l)" -ge 1 ] &&
		break
	sleep 0.1
done
[ "$(tp_exec pod22 ss -Htn state established "sport = :7003" | wc -l)" -ge 1 ] ||
	{ tm_dump_logs; tp_fail "the flow to 'long' did not reach pod22"; }
# the flow to "short": reset by sluiced (sl-tcp exits 0 only on ECONNRESET,
# 1 on a clean EOF; timeout(1) says 124 if nothing happens within 60 s)
rc=0
out=$(tp_exec pod11 timeout 60 "$SL_TCP" rst-check "$vip_short" 80 2>&1) || rc=$?
[ $rc = 0 ] && [ "$out" = reset ] || {
	echo "$out"; tm_dump_logs
	tp_fail "the flow to 'short' was not reset by maxConnectionDuration (rc $rc)"
}
tm_expect "$TM_SOCK_A" relay_max_duration $((d0 + 1)) "maxConnectionDuration"
grep -q '"end":"max_duration","response_flags":"DT"' "$TP_DIR/sluiced-a.log" ||
	{ tm_dump_logs; tp_fail "no access log line with end max_duration / DT"; }
# the others are still up
kill -0 "$long_pid" 2>/dev/null ||
	{ cat "$TP_DIR/long.out"; tm_dump_logs; tp_fail "the flow to 'long' ended"; }
kill -0 "$direct_pid" 2>/dev/null ||
	{ cat "$TP_DIR/direct.out"; tm_dump_logs; tp_fail "the flow to pod21 ended"; }
ok "maxConnectionDuration 2s: the flow was reset and counted (DT); flows without it continue"

# ---- 2. tcpKeepalive ---------------------------------------------------------------
ss_long=$(tp_exec node1 ss -Htno state established "dst $p22 and dport = :15008")
ss_direct=$(tp_exec node1 ss -Htno state established "dst $p21 and dport = :15008")
note "upstream to long: $ss_long"
note "upstream to pod21: $ss_direct"
[ -n "$ss_long" ] && [ -n "$ss_direct" ] ||
	{ tp_exec node1 ss -tno; tp_fail "sluiced's upstream sockets not found"; }
# the kernel default keepalive time is 2 h: under a minute left means
# TCP_KEEPIDLE 11 s was applied
# (ss prints e.g. "keepalive,8.912ms" or "keepalive,8sec", "1min59sec"
# for the default)
echo "$ss_long" | grep -Eq 'timer:\(keepalive,[0-9.]+(ms|sec),' ||
	tp_fail "no keepalive timer (< 1 min) on the upstream socket of 'long'"
echo "$ss_direct" | grep -q 'keepalive' &&
	tp_fail "keepalive on the upstream socket of a destination without tcpKeepalive"
ok "tcpKeepalive: SO_KEEPALIVE with an 11 s idle time on the upstream socket, none without it"

kill "$long_pid" "$direct_pid" 2>/dev/null || true
wait "$long_pid" "$direct_pid" 2>/dev/null || true

# ---- 4. health entries of endpoints gone from the config ------------------------
for ((i = 0; i < 100; i++)); do
	[ "$(tm_stat "$TM_SOCK_A" flows_active)" = 0 ] && break
	sleep 0.1
done
e0=$(tm_stat "$TM_SOCK_A" lb_endpoints)
[ "$e0" -ge 2 ] || { tm_admin "$TM_SOCK_A" status; tp_fail "expected >= 2 endpoint entries, got $e0"; }
reload_to() { # file content: write it, wait for the new generation
	local gen i
	gen=$(tm_stat "$TM_SOCK_A" config_generation)
	printf '%s\n' "$2" >"$TM_CFG_A/$1"
	for ((i = 0; i < 100; i++)); do
		[ "$(tm_stat "$TM_SOCK_A" config_generation)" != "$gen" ] && return 0
		sleep 0.1
	done
	tm_dump_logs; tp_fail "no reload after writing $1"
}
# pod22 leaves the config ("long" has no endpoint left); the first swap
# only marks the entries unused, the second removes them
{
	tm_we pod11 "$p11" node-a "app: client"
	tm_we pod21 "$p21" node-b "app: short"
	tm_svc short "$vip_short" 80 7000 "app: short"
	tm_svc long "$vip_long" 80 7003 "app: long"
} >"$TP_DIR/wl.yaml"
reload_to workloads.yaml "$(cat "$TP_DIR/wl.yaml")"
reload_to extra.yaml "# second reload"
e1=$(tm_stat "$TM_SOCK_A" lb_endpoints)
c1=$(tm_stat "$TM_SOCK_A" lb_endpoints_collected)
[ "$e1" -lt "$e0" ] && [ "$c1" -ge 1 ] ||
	{ tm_admin "$TM_SOCK_A" status; tp_fail "endpoint entries not collected ($e0 -> $e1, collected $c1)"; }
# the service still in the config still works (its entry is re-created)
tp_exec pod11 timeout 10 "$SL_TCP" echo-check "$vip_short" 80 1000 >/dev/null ||
	{ tm_dump_logs; tp_fail "a flow to 'short' failed after the GC"; }
ok "health table: $((e0 - e1)) endpoint entries collected after the endpoints left the config"

tm_stop
echo "PASS"
