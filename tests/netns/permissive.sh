#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# PeerAuthentication PERMISSIVE / DISABLE end to end (issues 4 and 6), two
# nodes (tests/netns/lib), both running sluiced --steer.  Servers: pod21
# (app: web) answers on 7010 and 7011, pod22 (app: db) on 7020; each logs
# the connections it accepts.  The plaintext client is node1's own
# namespace (198.18.0.1: not a pod, not steered, outside the mesh); the
# mesh client is pod11 (service account client-a).
#  1. no PeerAuthentication: STRICT by default: plaintext to pod21 is
#     dropped by the steering table (plain_strict_drop), mTLS works
#  2. reload to a port-level PERMISSIVE 7010 (no restart): pod21 enters
#     the permissive set in place; plaintext to 7010 works (through 15006,
#     plaintext_inbound), plaintext to 7011 is refused by 15006
#     (plaintext_refused, sluice_plaintext_refused_total), mTLS from pod11
#     to 7010 still goes through 15008
#  3. AuthorizationPolicy: ALLOW by principals refuses plaintext (no
#     identity), still admits mTLS from that principal; ALLOW by ipBlocks
#     admits the plaintext client
#  4. DISABLE on pod22: pod11 -> pod22 goes in plaintext (plaintext_outbound
#     on node1, plaintext_inbound on node2, no handshake, the payload seen
#     by tcpdump on the node link) and works
#  5. DestinationRule tls DISABLE: plaintext to a PERMISSIVE port works, to
#     a STRICT port of the same pod it is refused by node2's 15006
#  5b. DISABLE to a pod of the same node: direct plaintext, the
#     AuthorizationPolicy (ipBlocks = the source pod, principals) applied
#     by the outbound side
#  6. sluice workloads shows each workload's mTLS mode
#
# usage: permissive.sh SLUICED SLUICE NFT_TOOL SL_TCP
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
command -v curl >/dev/null || tp_skip "curl not installed"
command -v tcpdump >/dev/null || tp_skip "tcpdump not installed"
p11=$(tp_pod_ip pod11) p12=$(tp_pod_ip pod12) p21=$(tp_pod_ip pod21)
p22=$(tp_pod_ip pod22) p21_6=$(tp_pod_ip pod21 6)
node1_ip=198.18.0.1

mkcfg() { # dir node
	tm_node_yaml "$1" "$2"
	{
		tm_we_sa pod11 default client-a "$p11" node-a "app: client"
		tm_we_sa pod12 default client-b "$p12" node-a "app: client"
		tm_we_sa pod21 default server "$p21" node-b "app: web"
		tm_we_sa pod21-v6 default server "$p21_6" node-b "app: web"
		tm_we_sa pod22 default db "$p22" node-b "app: db"
	} >"$1/workloads.yaml"
}

# policy FILE-CONTENT: the same policy file on both nodes, wait for both
policy() { tm_policy "$1" "a b"; }

set_has() { # node set addr
	local s
	s=$(tp_exec "$1" nft list set inet sluice "$2" 2>/dev/null) || return 1
	[[ $s == *" $3"[,\ ]* ]]
}
wait_set() { # node set addr present(1)|absent(0) what
	local i
	for ((i = 0; i < 80; i++)); do
		if set_has "$1" "$2" "$3"; then
			[ "$4" = 1 ] && return 0
		else
			[ "$4" = 0 ] && return 0
		fi
		sleep 0.1
	done
	tp_exec "$1" nft list table inet sluice || true
	tm_dump_logs
	tp_fail "$5"
}
nft_counter() { # node name: packets
	tp_exec "$1" nft list counter inet sluice "$2" |
		grep -o 'packets [0-9]*' | cut -d' ' -f2
}

mkcfg "$TM_CFG_A" node-a
mkcfg "$TM_CFG_B" node-b
"$SLUICED" --config "$TM_CFG_B" --node node-b --check >/dev/null ||
	tp_fail "sluiced --check rejects the test config"

tm_echo_server
tm_serve pod21 7010
tm_serve pod21 7010 6
tm_serve pod21 7011
tm_serve pod22 7020
tm_start_b
tm_start_a --steer
wait_set node1 pods4 "$p11" 1 "node1: $p11 not steered"
wait_set node2 pods4 "$p21" 1 "node2: $p21 not steered"
tp_wait_port node2 15006 || { tm_dump_logs; tp_fail "no plaintext listener on node2:15006"; }

# expect FROM IP PORT allow|deny WHAT [REPLY]: a line back (default
# hello-PORT) and the server saw the connection, or nothing at all
expect() {
	local from=$1 ip=$2 port=$3 want=$4 what=$5 reply=${6:-hello-$3} l seen0 seen1
	seen0=$(wc -l <"$TM_SEEN")
	l=$(tm_line "$from" "$ip" "$port" 2>/dev/null) || l=FAIL
	[ "$want" = allow ] || sleep 0.5
	seen1=$(wc -l <"$TM_SEEN")
	if [ "$want" = allow ]; then
		[ "$l" = "$reply" ] && [ "$seen1" = $((seen0 + 1)) ] || {
			tm_dump_logs
			tp_fail "$what: $from -> $ip:$port got '$l' (server saw $((seen1 - seen0))), expected it to pass"
		}
	else
		[ "$l" = FAIL ] && [ "$seen1" = "$seen0" ] || {
			tm_dump_logs
			tp_fail "$what: $from -> $ip:$port got '$l' (server saw $((seen1 - seen0))), expected it refused"
		}
	fi
}
# the last server log line's peer address
last_peer() { tail -1 "$TM_SEEN" | cut -d' ' -f1; }

A=cluster.local/ns/default/sa/client-a

# ---- 1. STRICT by default --------------------------------------------------------------
drop0=$(nft_counter node2 plain_strict_drop)
expect node1 "$p21" 7010 deny "no PeerAuthentication (STRICT)"
drop1=$(nft_counter node2 plain_strict_drop)
[ "$drop1" -gt "$drop0" ] || tp_fail "STRICT: plain_strict_drop did not count ($drop0 -> $drop1)"
! set_has node2 permissive4 "$p21" || tp_fail "STRICT pod $p21 in the permissive set"
[ "$(tm_stat "$TM_SOCK_B" plaintext_inbound)" = 0 ] || tp_fail "plaintext relayed while STRICT"
expect pod11 "$p21" 7010 allow "mTLS, STRICT"
ok "no PeerAuthentication: STRICT, plaintext dropped by the table, mTLS works"

# ---- 2. port-level PERMISSIVE, by reload --------------------------------------------------
PA_WEB="apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web, namespace: default}
spec:
  selector:
    matchLabels: {app: web}
  portLevelMtls:
    7010: {mode: PERMISSIVE}"
policy "$PA_WEB"
wait_set node2 permissive4 "$p21" 1 "reload: $p21 not in the permissive set"
grep -q "steering updated in place" "$TP_DIR/sluiced-b.log" ||
	{ tm_dump_logs; tp_fail "reload: the sets were not updated in place"; }
pin0=$(tm_stat "$TM_SOCK_B" plaintext_inbound)
expect node1 "$p21" 7010 allow "port-level PERMISSIVE 7010"
[ "$(tm_stat "$TM_SOCK_B" plaintext_inbound)" = $((pin0 + 1)) ] ||
	{ tm_dump_logs; tp_fail "plaintext to 7010 did not go through 15006"; }
wait_set node2 permissive6 "$p21_6" 1 "reload: $p21_6 not in permissive6"
expect node1 "$p21_6" 7010 allow "port-level PERMISSIVE 7010, IPv6"
[ "$(tm_stat "$TM_SOCK_B" plaintext_inbound)" = $((pin0 + 2)) ] ||
	{ tm_dump_logs; tp_fail "IPv6 plaintext to 7010 did not go through 15006"; }
refused0=$(tm_stat "$TM_SOCK_B" plaintext_refused)
expect node1 "$p21" 7011 deny "port 7011 stays STRICT"
[ "$(tm_stat "$TM_SOCK_B" plaintext_refused)" = $((refused0 + 1)) ] ||
	{ tm_dump_logs; tp_fail "plaintext to 7011 was not refused by 15006"; }
grep -q "plaintext refused: default/pod21 port 7011 is STRICT" "$TP_DIR/sluiced-b.log" ||
	{ tm_dump_logs; tp_fail "no log line for the refused plaintext"; }
m=$(tp_exec node2 curl -sf --max-time 5 http://127.0.0.1:15020/metrics) ||
	tp_fail "node2: /metrics unreachable"
m=$(grep '^sluice_plaintext_refused_total ' <<<"$m" || true)
[ "${m#* }" -ge 1 ] 2>/dev/null || tp_fail "metric sluice_plaintext_refused_total: '$m'"
hs0=$(tm_stat "$TM_SOCK_B" handshakes_ok)
in0=$(tm_stat "$TM_SOCK_B" inbound_opened)
pin0=$(tm_stat "$TM_SOCK_B" plaintext_inbound)
expect pod11 "$p21" 7010 allow "mTLS to a PERMISSIVE port"
[ "$(tm_stat "$TM_SOCK_B" handshakes_ok)" -gt "$hs0" ] &&
	[ "$(tm_stat "$TM_SOCK_B" inbound_opened)" -gt "$in0" ] &&
	[ "$(tm_stat "$TM_SOCK_B" plaintext_inbound)" = "$pin0" ] ||
	{ tm_dump_logs; tp_fail "mTLS to a PERMISSIVE pod did not go through 15008"; }
ok "reload to port-level PERMISSIVE: 7010 plaintext via 15006 (IPv4, IPv6), 7011 refused and counted, mTLS via 15008"

# allow_web SOURCE: PeerAuthentication $PA_WEB plus an ALLOW policy for
# app=web whose one rule has this source (YAML, e.g. principals: ["..."])
allow_web() {
	policy "$PA_WEB
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-allow, namespace: default}
spec:
  selector:
    matchLabels: {app: web}
  action: ALLOW
  rules:
  - from:
    - source:
        $1"
}

# ---- 3. AuthorizationPolicy and plaintext ------------------------------------------------
allow_web "principals: [\"$A\"]"
d0=$(tm_stat "$TM_SOCK_B" authz_denied)
expect node1 "$p21" 7010 deny "ALLOW principals, plaintext"
[ "$(tm_stat "$TM_SOCK_B" authz_denied)" = $((d0 + 1)) ] ||
	{ tm_dump_logs; tp_fail "plaintext under ALLOW principals: authz_denied not counted"; }
expect pod11 "$p21" 7010 allow "ALLOW principals, mTLS from the principal"
allow_web "ipBlocks: [\"$node1_ip/32\"]"
expect node1 "$p21" 7010 allow "ALLOW ipBlocks, plaintext"
ok "AuthorizationPolicy: ALLOW principals refuses plaintext, ALLOW ipBlocks admits it"

# ---- 4. DISABLE: the mesh flow goes in plaintext -------------------------------------------
PA_DB="apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: db, namespace: default}
spec:
  selector:
    matchLabels: {app: db}
  mtls: {mode: DISABLE}"
policy "$PA_WEB
---
$PA_DB"
wait_set node2 permissive4 "$p22" 1 "DISABLE: $p22 not in the permissive set"
tp_bg node2 "$TP_DIR/tcpdump.txt" tcpdump -i nl0 -n -l -A --immediate-mode \
	"tcp port 7020"
dump_pid=$TP_BG_PID
for ((i = 0; i < 50; i++)); do
	grep -q "listening on" "$TP_DIR/tcpdump.txt" 2>/dev/null && break
	sleep 0.1
done
out0=$(tm_stat "$TM_SOCK_A" plaintext_outbound)
hsa0=$(tm_stat "$TM_SOCK_A" handshakes_ok)
pin0=$(tm_stat "$TM_SOCK_B" plaintext_inbound)
expect pod11 "$p22" 7020 allow "DISABLE"
[ "$(tm_stat "$TM_SOCK_A" plaintext_outbound)" = $((out0 + 1)) ] &&
	[ "$(tm_stat "$TM_SOCK_B" plaintext_inbound)" = $((pin0 + 1)) ] &&
	[ "$(tm_stat "$TM_SOCK_A" handshakes_ok)" = "$hsa0" ] ||
	{ tm_dump_logs; tp_fail "DISABLE: the flow did not go in plaintext through both sluiceds"; }
for ((i = 0; i < 30; i++)); do
	grep -q "hello-7020" "$TP_DIR/tcpdump.txt" && break
	sleep 0.1
done
kill "$dump_pid" 2>/dev/null || true
grep -q "hello-7020" "$TP_DIR/tcpdump.txt" ||
	{ cat "$TP_DIR/tcpdump.txt"; tp_fail "DISABLE: payload not seen in clear on the node link"; }
# the series is written when the flow ends: wait for it
for ((i = 0; i < 50; i++)); do
	m=$(tp_exec node2 curl -sf --max-time 5 http://127.0.0.1:15020/metrics) ||
		tp_fail "node2: /metrics unreachable"
	grep -q '^istio_tcp_connections_opened_total{reporter="destination",.*destination_workload="pod22",.*connection_security_policy="none"' <<<"$m" &&
		break
	sleep 0.1
done
grep -q '^istio_tcp_connections_opened_total{reporter="destination",.*destination_workload="pod22",.*connection_security_policy="none"' <<<"$m" ||
	{ grep '^istio_tcp_connections_opened' <<<"$m"; tp_fail "DISABLE: no connection_security_policy=\"none\" series for pod22"; }
ok "DISABLE: pod11 -> pod22 in plaintext (counters, payload on the wire, metrics), works"

# an open plaintext flow is counted as mode="plain" in the sluice_flows
# gauge on both nodes (outbound_plain.c, plain_inbound.c), not as userspace
flows_gauge() { # node mode
	tp_exec "$1" curl -sf --max-time 5 http://127.0.0.1:15020/metrics |
		sed -n "s/^sluice_flows{mode=\"$2\"} //p"
}
tp_bg pod22 "$TP_DIR/pod22-7021.log" socat TCP-LISTEN:7021,reuseaddr SYSTEM:"sleep 15"
tp_wait_port pod22 7021
tp_bg pod11 "$TP_DIR/hold-plain.log" socat -t 15 EXEC:"sleep 15" TCP:"$p22":7021
hold_plain=$TP_BG_PID
gauges=
for ((i = 0; i < 50; i++)); do
	gauges="node1 plain=$(flows_gauge node1 plain) userspace=$(flows_gauge node1 userspace)"
	gauges+=" node2 plain=$(flows_gauge node2 plain) userspace=$(flows_gauge node2 userspace)"
	[ "$gauges" = "node1 plain=1 userspace=0 node2 plain=1 userspace=0" ] && break
	sleep 0.1
done
[ "$gauges" = "node1 plain=1 userspace=0 node2 plain=1 userspace=0" ] ||
	{ tm_dump_logs; tp_fail "open DISABLE flow: sluice_flows gauges: $gauges"; }
kill "$hold_plain" 2>/dev/null || true
for ((i = 0; i < 100; i++)); do
	gauges="$(flows_gauge node1 plain) $(flows_gauge node2 plain)"
	[ "$gauges" = "0 0" ] && break
	sleep 0.1
done
[ "$gauges" = "0 0" ] || tp_fail "closed DISABLE flow: sluice_flows{mode=\"plain\"} still $gauges"
ok "an open plaintext flow is sluice_flows{mode=\"plain\"} on both nodes, and leaves it when it ends"

# ---- 5. DestinationRule tls DISABLE -----------------------------------------------------------
dr() { # name host
	cat <<EOT
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: $1, namespace: default}
spec:
  host: $2
  trafficPolicy:
    tls: {mode: DISABLE}
EOT
}
policy "$PA_WEB
$(tm_svc web-ok 198.19.0.21 80 7010 "app: web")
$(tm_svc web-strict 198.19.0.22 80 7011 "app: web")
$(dr web-ok web-ok.default.svc.cluster.local)
$(dr web-strict web-strict.default.svc.cluster.local)"
out0=$(tm_stat "$TM_SOCK_A" plaintext_outbound)
hsa0=$(tm_stat "$TM_SOCK_A" handshakes_ok)
pin0=$(tm_stat "$TM_SOCK_B" plaintext_inbound)
expect pod11 198.19.0.21 80 allow "DestinationRule tls DISABLE to PERMISSIVE 7010" hello-7010
[ "$(tm_stat "$TM_SOCK_A" plaintext_outbound)" = $((out0 + 1)) ] &&
	[ "$(tm_stat "$TM_SOCK_B" plaintext_inbound)" = $((pin0 + 1)) ] &&
	[ "$(tm_stat "$TM_SOCK_A" handshakes_ok)" = "$hsa0" ] ||
	{ tm_dump_logs; tp_fail "DR DISABLE: the flow did not go in plaintext"; }
refused0=$(tm_stat "$TM_SOCK_B" plaintext_refused)
expect pod11 198.19.0.22 80 deny "DestinationRule tls DISABLE to STRICT 7011"
[ "$(tm_stat "$TM_SOCK_B" plaintext_refused)" = $((refused0 + 1)) ] ||
	{ tm_dump_logs; tp_fail "DR DISABLE: plaintext to the STRICT port 7011 not refused by 15006"; }
ok "DestinationRule tls DISABLE: plaintext to the endpoint, refused at a STRICT port"

# ---- 5b. DISABLE on the same node: checked on the outbound side --------------------------------
PA_CLIENT="apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: client, namespace: default}
spec:
  selector:
    matchLabels: {app: client}
  mtls: {mode: DISABLE}"
ap_client() { # source block
	cat <<EOT
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: client-allow, namespace: default}
spec:
  selector:
    matchLabels: {app: client}
  action: ALLOW
  rules:
  - from:
    - source:
        $1
EOT
}
tm_serve pod11 7030
policy "$PA_CLIENT
$(ap_client "ipBlocks: [\"$p12/32\"]")"
out0=$(tm_stat "$TM_SOCK_A" plaintext_outbound)
hsa0=$(tm_stat "$TM_SOCK_A" handshakes_ok)
expect pod12 "$p11" 7030 allow "DISABLE, same node, ALLOW ipBlocks of the source pod"
[ "$(tm_stat "$TM_SOCK_A" plaintext_outbound)" = $((out0 + 1)) ] &&
	[ "$(tm_stat "$TM_SOCK_A" handshakes_ok)" = "$hsa0" ] ||
	{ tm_dump_logs; tp_fail "same-node DISABLE: not in plaintext"; }
policy "$PA_CLIENT
$(ap_client "principals: [\"$A\"]")"
d0=$(tm_stat "$TM_SOCK_A" authz_denied)
expect pod12 "$p11" 7030 deny "DISABLE, same node, ALLOW principals"
[ "$(tm_stat "$TM_SOCK_A" authz_denied)" = $((d0 + 1)) ] ||
	{ tm_dump_logs; tp_fail "same-node DISABLE: AuthorizationPolicy not applied on the outbound side"; }
ok "DISABLE on the same node: direct plaintext, AuthorizationPolicy applied by the outbound side"

# ---- 6. sluice workloads shows the mode -----------------------------------------------------
policy "$PA_WEB
---
$PA_DB"
w=$("$SLUICE" --socket "$TM_SOCK_B" workloads 2>&1) || { echo "$w"; tp_fail "sluice workloads failed"; }
grep -q "pod22 .*  DISABLE$" <<<"$w" &&
	grep -q "pod21 .*  STRICT 7010:PERMISSIVE$" <<<"$w" &&
	grep -q "pod11 .*  STRICT$" <<<"$w" ||
	{ echo "$w"; tp_fail "sluice workloads lacks the mTLS modes"; }
ok "sluice workloads shows the mTLS modes"

tm_stop
echo "PASS"
