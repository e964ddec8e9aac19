#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# AuthorizationPolicy at L4 on the inbound side (issue 6), two nodes
# (tests/netns/lib).  Clients on node1: pod11 (namespace default, service
# account client-a) and pod12 (namespace team-x, service account client-b);
# the server pod21 on node2 (app: web) answers on 7010 and 7011 and logs
# every connection it accepts (a denied flow must never reach it); pod22
# (team-x, client-c) on node2 is a same-node client (loopback handoff).
#  1. no policy: both clients allowed
#  2. ALLOW from principal client-a: A allowed, B denied (authz_denied
#     counted on node2, the server saw nothing, one log line with both
#     identities and the port)
#  3. DENY from namespace team-x wins over an ALLOW that also matches B
#  3b. DENY from ipBlocks pod22 (same node) and pod11: both denied, pod12
#     allowed (the source address is the pod's, also via loopback handoff)
#  4. ALLOW to port 7010 only: 7010 passes, 7011 is denied
#  5. the policy file changed + SIGHUP: the next flow gets the new decision
#
# usage: authz.sh SLUICED SLUICE NFT_TOOL SL_TCP
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
p11=$(tp_pod_ip pod11) p12=$(tp_pod_ip pod12) p21=$(tp_pod_ip pod21)
p22=$(tp_pod_ip pod22)

mkcfg() { # dir node
	tm_node_yaml "$1" "$2"
	{
		tm_we_sa pod11 default client-a "$p11" node-a "app: client"
		tm_we_sa pod12 team-x client-b "$p12" node-a "app: client"
		tm_we_sa pod21 default server "$p21" node-b "app: web"
		tm_we_sa pod22 team-x client-c "$p22" node-b "app: client"
	} >"$1/workloads.yaml"
}

# policy FILE-CONTENT: replace node2's policy file, wait for it
policy() { tm_policy "$1" b; }

mkcfg "$TM_CFG_A" node-a
mkcfg "$TM_CFG_B" node-b
"$SLUICED" --config "$TM_CFG_B" --node node-b --check >/dev/null ||
	tp_fail "sluiced --check rejects the test config"

tp_exec node1 "$NFT_TOOL" apply "$p11" "$p12"
tm_echo_server
for port in 7010 7011; do
	tm_serve pod21 $port
done
tm_start_b
tm_start_a
for ((i = 0; i < 50; i++)); do
	tp_exec node2 nft list set inet sluice pods4 2>/dev/null | grep -q "$p21" && break
	sleep 0.1
done

# expect POD PORT allow|deny WHAT
expect() {
	local pod=$1 port=$2 want=$3 what=$4 l denied0 seen0 denied1 seen1
	denied0=$(tm_stat "$TM_SOCK_B" authz_denied)
	seen0=$(wc -l <"$TM_SEEN")
	l=$(tm_line "$pod" "$p21" "$port" 2>/dev/null) || l=FAIL
	# the server logs before it answers; a denied flow: give it time to
	# (wrongly) show up
	[ "$want" = allow ] || sleep 0.5
	denied1=$(tm_stat "$TM_SOCK_B" authz_denied)
	seen1=$(wc -l <"$TM_SEEN")
	if [ "$want" = allow ]; then
		[ "$l" = "hello-$port" ] && [ "$seen1" = $((seen0 + 1)) ] &&
			[ "$denied1" = "$denied0" ] || {
			tm_dump_logs
			tp_fail "$what: $pod -> :$port got '$l' (server saw $((seen1 - seen0)), denied $((denied1 - denied0))), expected allowed"
		}
	else
		[ "$l" = FAIL ] && [ "$seen1" = "$seen0" ] &&
			[ "$denied1" = $((denied0 + 1)) ] || {
			tm_dump_logs
			tp_fail "$what: $pod -> :$port got '$l' (server saw $((seen1 - seen0)), denied $((denied1 - denied0))), expected denied"
		}
	fi
}

A=cluster.local/ns/default/sa/client-a
B=cluster.local/ns/team-x/sa/client-b

# ---- 1. no policy ----------------------------------------------------------------------
expect pod11 7010 allow "no policy"
expect pod12 7010 allow "no policy"
expect pod22 7010 allow "no policy, same node"
[ "$(tm_stat "$TM_SOCK_B" authz_denied)" = 0 ] || tp_fail "authz_denied without a policy"
ok "no policy: client-a, client-b and client-c (same node) allowed"

# ---- 2. ALLOW principal A --------------------------------------------------------------
policy "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-allow, namespace: default}
spec:
  selector:
    matchLabels: {app: web}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: [\"$A\"]"
expect pod11 7010 allow "ALLOW principal A"
expect pod12 7010 deny "ALLOW principal A"
# same node (loopback handoff on node2): the verified peer identity counts
expect pod22 7010 deny "ALLOW principal A, same node"
grep -q "denied by AuthorizationPolicy: spiffe://$B -> spiffe://cluster.local/ns/default/sa/server port 7010" \
	"$TP_DIR/sluiced-b.log" || { tm_dump_logs; tp_fail "no log line for the denied flow"; }
ok "ALLOW principal client-a: client-a allowed, client-b and client-c (same node) denied, counted and logged, never reached the pod"

# ---- 3. DENY namespace wins ------------------------------------------------------------
policy "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-allow, namespace: default}
spec:
  selector:
    matchLabels: {app: web}
  action: ALLOW
  rules:
  - from:
    - source:
        namespaces: [default, team-x]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-deny, namespace: default}
spec:
  selector:
    matchLabels: {app: web}
  action: DENY
  rules:
  - from:
    - source:
        namespaces: [team-x]"
expect pod11 7010 allow "DENY team-x + ALLOW both"
expect pod12 7010 deny "DENY team-x + ALLOW both"
ok "DENY namespace team-x wins over an ALLOW that matches too"

# ---- 3b. ipBlocks: the source pod address, also for a same-node flow ----------------
policy "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-deny, namespace: default}
spec:
  selector:
    matchLabels: {app: web}
  action: DENY
  rules:
  - from:
    - source:
        ipBlocks: [\"$p22/32\", \"$p11/32\"]"
expect pod22 7010 deny "DENY ipBlocks, same node"
expect pod11 7010 deny "DENY ipBlocks"
expect pod12 7010 allow "DENY ipBlocks"
ok "DENY ipBlocks: matches the source pod address (remote and same node), others pass"

# ---- 4. ALLOW on ports -----------------------------------------------------------------
policy "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-allow, namespace: default}
spec:
  selector:
    matchLabels: {app: web}
  action: ALLOW
  rules:
  - to:
    - operation:
        ports: [\"7010\"]"
expect pod11 7010 allow "ALLOW port 7010"
expect pod11 7011 deny "ALLOW port 7010"
expect pod12 7010 allow "ALLOW port 7010"
ok "ALLOW port 7010: 7010 allowed, 7011 denied"

# ---- 5. reload -------------------------------------------------------------------------
policy "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-allow, namespace: default}
spec:
  selector:
    matchLabels: {app: web}
  action: ALLOW
  rules:
  - to:
    - operation:
        ports: [\"7011\"]"
expect pod11 7011 allow "reloaded: ALLOW port 7011"
expect pod11 7010 deny "reloaded: ALLOW port 7011"
policy ""
expect pod11 7010 allow "policy removed"
expect pod12 7011 allow "policy removed"
expect pod22 7011 allow "policy removed, same node"
ok "policy file changed + SIGHUP: the next flows follow the new policy"

tm_stop
echo "PASS"
