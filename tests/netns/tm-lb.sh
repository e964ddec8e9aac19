#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Traffic management end to end (issue 5), two nodes (tests/netns/lib):
#  1. retries: service "echo" has a live endpoint (pod21) and a dead one
#     (pod23: a pod without a listener on 15008); with ROUND_ROBIN every
#     other flow tries the dead one first; no client sees a failure and
#     the retries are counted
#  2. outlier detection: two consecutive connect failures eject pod23 for
#     baseEjectionTime (3 s): no connect failure while it is out; it comes
#     back after the time and is ejected again, for twice as long (the
#     multiplier decays only after an interval, 30 s, without ejection)
#  3. circuit breaking: service "held" has maxConnections 2: with two
#     flows open a third is refused (counted lb_overflows); once they end,
#     flows go through again
#
# usage: tm-lb.sh SLUICED SLUICE NFT_TOOL SL_TCP
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
tp_add_pod 2 pod23 13
p23=198.18.2.13
vip_echo=198.19.0.10 vip_held=198.19.0.11

mkcfg() { # dir node with-pod23
	tm_node_yaml "$1" "$2"
	{
		tm_we pod11 "$p11" node-a "app: client"
		tm_we pod21 "$p21" node-b "app: echo"
		tm_we pod22 "$p22" node-b "app: held"
		[ "$3" = yes ] && tm_we pod23 "$p23" node-b "app: echo"
		tm_svc echo "$vip_echo" 80 7000 "app: echo"
		tm_svc held "$vip_held" 80 7003 "app: held"
	} >"$1/workloads.yaml"
	cat >"$1/traffic.yaml" <<EOT
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool:
      tcp: {connectTimeout: 2s}
    outlierDetection:
      consecutiveGatewayErrors: 2
      interval: 30s
      baseEjectionTime: 3s
      maxEjectionPercent: 50
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - route:
    - destination: {host: echo}
    retries: {attempts: 2, perTryTimeout: 2s}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: held, namespace: default}
spec:
  host: held
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 2}
EOT
}
# node-a knows pod23; node-b does not steer it (nothing answers on 15008)
mkcfg "$TM_CFG_A" node-a yes
mkcfg "$TM_CFG_B" node-b no
"$SLUICED" --config "$TM_CFG_A" --node node-a --check >/dev/null ||
	tp_fail "sluiced --check rejects the test config"

tp_exec node1 "$NFT_TOOL" apply "$p11"
tp_bg pod21 "$TP_DIR/pod21.log" "$SL_TCP" serve 7000 echo
tp_bg pod22 "$TP_DIR/pod22.log" "$SL_TCP" serve 7003 echo
tp_wait_port pod21 7000
tp_wait_port pod22 7003
tm_start_b
tm_start_a
for ((i = 0; i < 50; i++)); do
	tp_exec node2 nft list set inet sluice pods4 2>/dev/null | grep -q "$p22" && break
	sleep 0.1
done

echo_ok() { # what ip
	local out
	out=$(tp_exec pod11 timeout 20 "$SL_TCP" echo-check "$2" 80 2000 2>&1) || {
		echo "$out"; tm_dump_logs; tp_fail "$1"
	}
}

# ---- 1. retries ----------------------------------------------------------------
for ((i = 0; i < 10; i++)); do
	echo_ok "flow $i to the service with a dead endpoint" "$vip_echo"
done
tm_expect "$TM_SOCK_A" lb_retries 1 "retries"
tm_expect "$TM_SOCK_A" lb_connect_failures 2 "connect failures"
ok "retries: 10 flows, none failed, the dead endpoint was skipped ($(tm_stat "$TM_SOCK_A" lb_retries) retries)"

# ---- 2. ejection and return ------------------------------------------------------
tm_expect "$TM_SOCK_A" lb_ejections 1 "ejection"
grep -q "ejecting endpoint $p23:7000 for 3000 ms (ejection 1)" "$TP_DIR/sluiced-a.log" ||
	{ tm_dump_logs; tp_fail "no log of the first ejection"; }
# wait for the ejection to end, then make it fail twice again
sleep 3.2
f0=$(tm_stat "$TM_SOCK_A" lb_connect_failures)
for ((i = 0; i < 6; i++)); do
	echo_ok "flow $i after the ejection" "$vip_echo"
done
f1=$(tm_stat "$TM_SOCK_A" lb_connect_failures)
[ "$f1" -gt "$f0" ] || tp_fail "the ejected endpoint did not come back ($f0 -> $f1 failures)"
tm_expect "$TM_SOCK_A" lb_ejections 2 "second ejection"
grep -q "ejecting endpoint $p23:7000 for 6000 ms (ejection 2)" "$TP_DIR/sluiced-a.log" ||
	{ grep -E "ejecting|connect to" "$TP_DIR/sluiced-a.log"; tp_fail "the second ejection is not twice as long"; }
# while it is out, no flow tries it
f1=$(tm_stat "$TM_SOCK_A" lb_connect_failures)
for ((i = 0; i < 6; i++)); do
	echo_ok "flow $i during the second ejection" "$vip_echo"
done
f2=$(tm_stat "$TM_SOCK_A" lb_connect_failures)
[ "$f2" = "$f1" ] || tp_fail "an ejected endpoint was tried ($f1 -> $f2 failures)"
ok "outlier detection: ejected after 2 failures for 3 s, back after it, then 6 s; not tried while out"

# ---- 3. maxConnections -------------------------------------------------------------
o0=$(tm_stat "$TM_SOCK_A" lb_overflows)
holders=()
for i in 1 2; do
	# not through the tp_exec function: $! must be timeout(1) itself
	ip netns exec "$(tp_ns pod11)" timeout 30 bash -c \
		"exec 3<>/dev/tcp/$vip_held/80; echo hold >&3; sleep 30" &
	holders+=($!)
done
for ((i = 0; i < 50; i++)); do
	[ "$(tp_exec pod22 ss -Htn state established "sport = :7003" | wc -l)" -ge 2 ] && break
	sleep 0.1
done
[ "$(tp_exec pod22 ss -Htn state established "sport = :7003" | wc -l)" -ge 2 ] ||
	{ tm_dump_logs; tp_fail "the two holding flows did not reach pod22"; }
if tp_exec pod11 timeout 10 "$SL_TCP" echo-check "$vip_held" 80 100 >/dev/null 2>&1; then
	tp_fail "a third flow went through with maxConnections 2"
fi
tm_expect "$TM_SOCK_A" lb_overflows $((o0 + 1)) "circuit breaker"
kill "${holders[@]}" 2>/dev/null || true
wait "${holders[@]}" 2>/dev/null || true
ok=0
for ((i = 0; i < 30; i++)); do
	if tp_exec pod11 timeout 10 "$SL_TCP" echo-check "$vip_held" 80 100 >/dev/null 2>&1; then
		ok=1
		break
	fi
	sleep 0.2
done
[ $ok = 1 ] || {
	tm_admin "$TM_SOCK_A" status; tm_admin "$TM_SOCK_A" stats
	tp_exec pod22 ss -tn; tp_exec pod11 ss -tn; tp_exec node1 ss -tn
	grep -E "held|maxConn|7003" "$TP_DIR/sluiced-a.log" | tail -20
	tp_fail "flows are still refused after the holders ended"
}
ok "maxConnections 2: the third flow refused and counted; flows pass again after"

tm_stop
echo "PASS"
