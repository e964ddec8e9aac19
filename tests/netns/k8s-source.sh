#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The Kubernetes API as sluiced's configuration source (issue 28), end to
# end on two nodes (tests/netns/lib) with the stand-in API server
# (tests/k8s/apiserver.py) on node2's address.  The config directories hold
# only each node's Node: every pod, Service and policy comes from the API.
#  1. pods of the stand-in are meshed: pod21 (node-b) is steered on node2
#     and pod11 -> pod21 runs over mTLS with pod11's service account
#  2. a Service from the API (its clusterIP) routes to its pods
#  3. an AuthorizationPolicy applied on the API takes effect (DENY), and
#     its deletion too; a VirtualService sluice rejects is left out and
#     reported while the rest serves
#  4. a pod deleted on the API is un-meshed (gone from the steering set),
#     created again is meshed again, without restarting sluiced
#  5. a namespace without the ambient label is left alone
#  6. the API killed mid-traffic: a long flow keeps going, new flows too
#  7. a restart with the API down serves the saved view (--state-dir)
#  8. the node binding: node1, "compromised", issues pod12 a certificate of
#     the service account "server", which runs only on node-b: node2
#     refuses its flows (counted); once the API has a pod of "server" on
#     node-a, they pass
#
# usage: k8s-source.sh SLUICED SLUICE NFT_TOOL SL_TCP APISERVER
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"
# shellcheck source=lib/tm.sh
. "$here/lib/tm.sh"

tm_args "$@"
APISERVER=${5:?apiserver.py path}
command -v python3 >/dev/null || tp_skip "python3 not installed"
command -v curl >/dev/null || tp_skip "curl not installed"

tm_init
p11=$(tp_pod_ip pod11) p12=$(tp_pod_ip pod12) p21=$(tp_pod_ip pod21)
VIP=198.18.100.1
TOKEN=k8s-source-token
API_PORT=16443
CTL_PORT=16444
STATE_B=$TP_DIR/state-b

tm_node_yaml "$TM_CFG_A" node-a
tm_node_yaml "$TM_CFG_B" node-b

api_start() {
	tp_bg node2 "$TP_DIR/apiserver.log" python3 "$APISERVER" \
		--listen "198.18.0.2:$API_PORT" --control "127.0.0.1:$CTL_PORT" \
		--token "$TOKEN" --bookmark-interval 2
	API_PID=$TP_BG_PID
	tp_wait_port node2 $CTL_PORT 10 || tp_fail "the stand-in did not start"
}
# ctl PATH JSON: the stand-in's control port (on node2's loopback)
ctl() {
	tp_exec node2 curl -sS --fail-with-body -d "$2" \
		"http://127.0.0.1:$CTL_PORT$1" >/dev/null ||
		tp_fail "stand-in control $1 failed: $2"
}
put() { ctl /objects "$1"; }
pod() { # name ns node ip sa app [ready: True|False]
	put "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
	  \"metadata\":{\"name\":\"$1\",\"namespace\":\"$2\",\"labels\":{\"app\":\"$6\"}},
	  \"spec\":{\"nodeName\":\"$3\",\"serviceAccountName\":\"$5\",
	            \"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]},
	  \"status\":{\"phase\":\"Running\",\"podIP\":\"$4\",\"podIPs\":[{\"ip\":\"$4\"}],
	            \"conditions\":[{\"type\":\"Ready\",\"status\":\"${7:-True}\"}]}}"
}
kubeconfig() {
	cat >"$TP_DIR/kubeconfig" <<EOT
apiVersion: v1
kind: Config
current-context: t
contexts:
- name: t
  context: {cluster: standin, user: sluiced}
clusters:
- name: standin
  cluster: {server: "http://198.18.0.2:$API_PORT"}
users:
- name: sluiced
  user: {token: $TOKEN}
EOT
}
in_steer_set() { # ip: node2's nft set of steered pods has it
	local out i
	# a listing that meets sluiced's own transaction fails (the dump is
	# interrupted): ask again, never read a failure as "not there"
	for ((i = 0; i < 20; i++)); do
		out=$(tp_exec node2 nft list set inet sluice pods4 2>&1) && break
		sleep 0.05
	done
	grep -q "$1" <<<"$out"
}
wait_steered() { # ip yes|no what
	local i
	for ((i = 0; i < 100; i++)); do
		if in_steer_set "$1"; then
			[ "$2" = yes ] && return 0
		else
			[ "$2" = no ] && return 0
		fi
		sleep 0.1
	done
	tm_dump_logs
	tp_fail "$3: $1 steered on node2 should be '$2'"
}
k8s_field() { # sock key: from sluice status's kubernetes section
	tm_admin "$1" status | python3 -c 'import json, sys
v = json.load(sys.stdin)["kubernetes"][sys.argv[1]]
print(json.dumps(v))' "$2"
}
wait_gen_change() { # sock old-generation what
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(tm_stat "$1" config_generation)" != "$2" ] && return 0
		sleep 0.1
	done
	tm_dump_logs
	tp_fail "$3: the configuration did not change"
}

kubeconfig
api_start
put '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default","labels":{"istio.io/dataplane-mode":"ambient"}}}'
put '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"legacy"}}'
nodes() {
	put '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a"},"status":{"addresses":[{"type":"InternalIP","address":"198.18.0.1"},{"type":"Hostname","address":"node-a"}]}}'
	put '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-b"},"status":{"addresses":[{"type":"InternalIP","address":"198.18.0.2"}]}}'
}
nodes
pod pod11 default node-a "$p11" client-a client
pod pod21 default node-b "$p21" server web
pod pod12 legacy node-a "$p12" legacy client
put "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},
  \"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"$VIP\",\"clusterIPs\":[\"$VIP\"],
  \"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"tcp-echo\",\"port\":7010,\"protocol\":\"TCP\",\"targetPort\":7010}]}}"

tp_exec node1 "$NFT_TOOL" apply "$p11" "$p12"
tm_echo_server
tm_serve pod21 7010
tm_start_b --kubeconfig "$TP_DIR/kubeconfig" --state-dir "$STATE_B"
tm_start_a --kubeconfig "$TP_DIR/kubeconfig"

# ---- 1. meshed from the API ------------------------------------------------
wait_steered "$p21" yes "pod21 from the API"
[ "$(tm_stat "$TM_SOCK_B" workloads)" = 2 ] ||
	tp_fail "node2 knows $(tm_stat "$TM_SOCK_B" workloads) workloads, want 2 (pod11, pod21; pod12's namespace is not meshed)"
l=$(tm_line pod11 "$p21" 7010) || l=FAIL
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "pod11 -> pod21 got '$l'"; }
# the status shows the API and every resource synced
st=$(tm_admin "$TM_SOCK_B" status)
echo "$st" | grep -q '"kubernetes":{"server":"http://198.18.0.2:' ||
	tp_fail "sluice status has no kubernetes section: $st"
echo "$st" | grep -q '"synced":true,"serving_saved_view":false' ||
	tp_fail "sluice status: the API is not synced: $st"
[ "$("$SLUICE" -s "$TM_SOCK_B" status | grep -c '^k8s ')" = 11 ] ||
	tp_fail "sluice status (table) lacks the 11 resources: $("$SLUICE" -s "$TM_SOCK_B" status)"
ok "pods from the API are meshed (pod21 steered on node2, pod11 -> pod21 over the mesh); sluice status shows the API synced"

# ---- 2. a Service from the API -----------------------------------------------
l=$(tm_line pod11 "$VIP" 7010) || l=FAIL
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "pod11 -> Service web ($VIP) got '$l'"; }
# not Ready: no endpoint of the Service, still a meshed workload
gen=$(tm_stat "$TM_SOCK_A" config_generation)
pod pod21 default node-b "$p21" server web False
wait_gen_change "$TM_SOCK_A" "$gen" "pod21 not Ready"
l=$(tm_line pod11 "$VIP" 7010 2>/dev/null) || l=FAIL
[ "$l" = FAIL ] || { tm_dump_logs; tp_fail "pod21 not Ready: the Service still sent pod11 to it ('$l')"; }
l=$(tm_line pod11 "$p21" 7010) || l=FAIL
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "pod21 not Ready: pod11 -> pod21 directly got '$l'"; }
gen=$(tm_stat "$TM_SOCK_A" config_generation)
pod pod21 default node-b "$p21" server web
wait_gen_change "$TM_SOCK_A" "$gen" "pod21 Ready again"
l=$(tm_line pod11 "$VIP" 7010) || l=FAIL
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "pod21 Ready again: pod11 -> $VIP got '$l'"; }
ok "a Service from the API (clusterIP $VIP) routes to its pod, only while it is Ready"

# ---- 2b. a Service without a selector: its EndpointSlice --------------------------
VIP_DB=198.18.100.3
gen=$(tm_stat "$TM_SOCK_A" config_generation)
put "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"db\",\"namespace\":\"default\"},
  \"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"$VIP_DB\",\"clusterIPs\":[\"$VIP_DB\"],
  \"ports\":[{\"name\":\"tcp-db\",\"port\":7011,\"protocol\":\"TCP\"}]}}"
eps() { # ready: true|false
	put "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",
	  \"metadata\":{\"name\":\"db-1\",\"namespace\":\"default\",
	    \"labels\":{\"kubernetes.io/service-name\":\"db\",
	      \"endpointslice.kubernetes.io/managed-by\":\"staff\"}},
	  \"addressType\":\"IPv4\",
	  \"endpoints\":[{\"addresses\":[\"$p21\"],\"conditions\":{\"ready\":$1}}],
	  \"ports\":[{\"name\":\"tcp-db\",\"port\":7010,\"protocol\":\"TCP\"}]}"
}
eps true
wait_gen_change "$TM_SOCK_A" "$gen" "the Service db and its EndpointSlice"
in0=$(tm_stat "$TM_SOCK_B" inbound_opened)
for ((i = 0; i < 50; i++)); do # node1 may have seen the Service first
	l=$(tm_line pod11 "$VIP_DB" 7011 2>/dev/null) || l=FAIL
	[ "$l" = hello-7010 ] && break
	sleep 0.1
done
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "pod11 -> Service db ($VIP_DB:7011, no selector) got '$l'"; }
# pod21's address is its workload: the flow came in over the mesh
[ "$(tm_stat "$TM_SOCK_B" inbound_opened)" -gt "$in0" ] ||
	{ tm_dump_logs; tp_fail "Service db: the flow to pod21 did not come in over the mesh"; }
gen=$(tm_stat "$TM_SOCK_A" config_generation)
eps false
wait_gen_change "$TM_SOCK_A" "$gen" "db's endpoint no longer ready"
l=$(tm_line pod11 "$VIP_DB" 7011 2>/dev/null) || l=FAIL
[ "$l" = FAIL ] || { tm_dump_logs; tp_fail "db's endpoint not ready: pod11 still reached it ('$l')"; }
ok "a Service without a selector routes to the endpoints of its EndpointSlice (pod21, port by name), only while ready"

# ---- 3. policies from the API --------------------------------------------------
gen=$(tm_stat "$TM_SOCK_B" config_generation)
put '{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy",
  "metadata":{"name":"deny-a","namespace":"default"},
  "spec":{"selector":{"matchLabels":{"app":"web"}},"action":"DENY",
          "rules":[{"from":[{"source":{"principals":["cluster.local/ns/default/sa/client-a"]}}]}]}}'
wait_gen_change "$TM_SOCK_B" "$gen" "AuthorizationPolicy applied"
denied0=$(tm_stat "$TM_SOCK_B" authz_denied)
l=$(tm_line pod11 "$p21" 7010 2>/dev/null) || l=FAIL
[ "$l" = FAIL ] || { tm_dump_logs; tp_fail "DENY from the API: pod11 -> pod21 got '$l'"; }
[ "$(tm_stat "$TM_SOCK_B" authz_denied)" = $((denied0 + 1)) ] ||
	tp_fail "DENY from the API: authz_denied did not count"
gen=$(tm_stat "$TM_SOCK_B" config_generation)
ctl /delete '{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","namespace":"default","name":"deny-a"}'
wait_gen_change "$TM_SOCK_B" "$gen" "AuthorizationPolicy deleted"
l=$(tm_line pod11 "$p21" 7010) || l=FAIL
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "policy deleted: pod11 -> pod21 got '$l'"; }
ok "an AuthorizationPolicy applied on the API denies (counted), deleted it allows again"

gen=$(tm_stat "$TM_SOCK_B" config_generation)
put '{"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
  "metadata":{"name":"broken","namespace":"default"},
  "spec":{"hosts":["web"],"tcp":[{"route":[{"destination":{"host":"web"},"weight":"lots"}]}]}}'
for ((i = 0; i < 100; i++)); do
	[ "$(k8s_field "$TM_SOCK_B" rejected)" = 1 ] && break
	sleep 0.1
done
[ "$(k8s_field "$TM_SOCK_B" rejected)" = 1 ] ||
	{ tm_dump_logs; tp_fail "the broken VirtualService is not reported rejected"; }
grep -q "kubernetes:networking.istio.io/virtualservices/default/broken:.*REJECTED" "$TP_DIR/sluiced-b.log" ||
	{ tm_dump_logs; tp_fail "no log line names the rejected resource"; }
l=$(tm_line pod11 "$VIP" 7010) || l=FAIL
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "with a rejected VirtualService: pod11 -> $VIP got '$l'"; }
ctl /delete '{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","namespace":"default","name":"broken"}'
for ((i = 0; i < 100; i++)); do
	[ "$(k8s_field "$TM_SOCK_B" rejected)" = 0 ] && break
	sleep 0.1
done
[ "$(k8s_field "$TM_SOCK_B" rejected)" = 0 ] || tp_fail "the deleted VirtualService is still reported"
ok "a VirtualService sluice rejects is left out and reported (status, log naming it); the rest serves"

# ---- 4. pods deleted and created -----------------------------------------------
# deleted on the API while its network is still there (terminating): it
# stays steered and its new flows are refused (fail closed); created
# again, it is served again
gen=$(tm_stat "$TM_SOCK_B" config_generation)
ctl /delete '{"apiVersion":"v1","kind":"Pod","namespace":"default","name":"pod21"}'
wait_gen_change "$TM_SOCK_B" "$gen" "pod21 deleted on the API"
[ "$(tm_stat "$TM_SOCK_B" workloads)" = 1 ] ||
	tp_fail "pod21 deleted: node2 still knows $(tm_stat "$TM_SOCK_B" workloads) workloads"
in_steer_set "$p21" || { tm_dump_logs; tp_exec node2 nft list set inet sluice pods4; tp_fail "pod21 deleted on the API: no longer steered (fail open)"; }
l=$(tm_line pod11 "$p21" 7010 2>/dev/null) || l=FAIL
[ "$l" = FAIL ] || { tm_dump_logs; tp_fail "pod21 deleted on the API: pod11 -> pod21 still got '$l'"; }
gen=$(tm_stat "$TM_SOCK_B" config_generation)
pod pod21 default node-b "$p21" server web
wait_gen_change "$TM_SOCK_B" "$gen" "pod21 created again"
l=$(tm_line pod11 "$p21" 7010) || l=FAIL
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "pod21 back: pod11 -> pod21 got '$l'"; }
ok "a pod deleted on the API is un-meshed (its flows refused, fail closed), created again is served again (no restart)"

# ---- 5. a namespace left alone ------------------------------------------------------
tm_admin "$TM_SOCK_A" workloads | grep -q '"pod11"' ||
	tp_fail "sluice workloads on node1 does not list pod11: $(tm_admin "$TM_SOCK_A" workloads)"
tm_admin "$TM_SOCK_A" workloads | grep -q '"pod12"' &&
	tp_fail "pod12 (namespace legacy, not labelled) became a workload"
ok "a namespace without istio.io/dataplane-mode=ambient is left alone"

# ---- 6. the API killed mid-traffic --------------------------------------------------
tp_bg pod21 "$TP_DIR/echo.log" "$SL_TCP" serve 7020 echo
tp_wait_port pod21 7020
tp_bg pod11 "$TP_DIR/long.log" "$SL_TCP" echo-check "$p21" 7020 $((256 << 20))
LONG=$TP_BG_PID
sleep 0.3
kill -0 "$LONG" 2>/dev/null || tp_fail "the long flow ended before the API was killed: $(cat "$TP_DIR/long.log")"
kill "$API_PID"
wait "$API_PID" 2>/dev/null || true
sleep 1
l=$(tm_line pod11 "$p21" 7010) || l=FAIL
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "API down: a new flow got '$l'"; }
wait "$LONG" || { cat "$TP_DIR/long.log"; tp_fail "API down: the long flow failed"; }
in_steer_set "$p21" || tp_fail "API down: pod21 no longer steered"
ok "the API killed mid-traffic: a 256 MiB echo comes back whole, new flows go on, steering stays"

# ---- 7. a restart with the API down: the saved view --------------------------------
tm_stop_b() { kill "$TM_PID_B"; wait "$TM_PID_B" 2>/dev/null || true; }
tm_stop_b
tm_start_b --kubeconfig "$TP_DIR/kubeconfig" --state-dir "$STATE_B" --kube-sync-wait 1s
grep -q "serving the view saved" "$TP_DIR/sluiced-b.log" ||
	{ tm_dump_logs; tp_fail "no loud warning about the saved view"; }
# the view saved is the last one, with what came after node2's first copy
# (the Service db and its slice): changes of the API alone are saved at
# most every 30 s, and once more when sluiced stops
nsaved=$(grep -o "serving the view saved in [^ ]* ([0-9]* resources)" "$TP_DIR/sluiced-b.log" |
	tail -1 | sed 's/.*(\([0-9]*\) resources)/\1/')
[ "${nsaved:-0}" -ge 5 ] ||
	{ tm_dump_logs; tp_fail "the saved view has ${nsaved:-no} resources: not the last view (want >= 5)"; }
[ "$(k8s_field "$TM_SOCK_B" serving_saved_view)" = true ] ||
	tp_fail "sluice status does not say the saved view serves"
wait_steered "$p21" yes "restart with the API down"
l=$(tm_line pod11 "$p21" 7010) || l=FAIL
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "saved view: pod11 -> pod21 got '$l'"; }
# the Node addresses were saved with the view: the node binding knows
# node-a, the flow's source, with no Node listed
grep -q "2 Node addresses from .*/.kubernetes-nodes until the Nodes are listed" "$TP_DIR/sluiced-b.log" ||
	{ tm_dump_logs; tp_fail "saved view: the Node addresses were not read back"; }
[ "$(tm_stat "$TM_SOCK_B" node_binding_unknown_source)" = 0 ] ||
	{ tm_dump_logs; tp_fail "saved view: a flow from node-a counted as from an unknown source (Node addresses not saved)"; }
ready_code() { # node: the HTTP status of /ready
	tp_exec "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 3 http://127.0.0.1:15020/ready || true
}
[ "$(ready_code node2)" = 200 ] || { tm_dump_logs; tp_fail "saved view: node2's /ready is not 200"; }
# node1 has no --state-dir: restarted with the API down it has no view at
# all, and /ready says so until the API answers
tm_stop_a
tm_start_a --kubeconfig "$TP_DIR/kubeconfig" --kube-sync-wait 1s
r=$(tp_exec node1 curl -s --max-time 3 http://127.0.0.1:15020/ready) || true
[ "$r" = "not ready: the Kubernetes API has not synced yet and no view of it was saved" ] ||
	{ tm_dump_logs; tp_fail "API down, no saved view: node1's /ready says '$r'"; }
# the API back: synced again, the saved view replaced
api_start
put '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default","labels":{"istio.io/dataplane-mode":"ambient"}}}'
nodes
pod pod11 default node-a "$p11" client-a client
pod pod21 default node-b "$p21" server web
for ((i = 0; i < 150; i++)); do
	[ "$(k8s_field "$TM_SOCK_B" serving_saved_view)" = false ] && break
	sleep 0.1
done
[ "$(k8s_field "$TM_SOCK_B" serving_saved_view)" = false ] ||
	{ tm_dump_logs; tp_fail "the API back: still serving the saved view"; }
for ((i = 0; i < 150; i++)); do
	[ "$(ready_code node1)" = 200 ] && break
	sleep 0.1
done
[ "$(ready_code node1)" = 200 ] || { tm_dump_logs; tp_fail "the API back: node1's /ready is not 200"; }
ok "a restart with the API down serves the view saved in --state-dir (and its Node addresses), loudly, and is ready; without one /ready waits for the API; the API back replaces it"

# ---- 8. the node binding ---------------------------------------------------------
[ "$(tm_stat "$TM_SOCK_B" refused_node_binding)" = 0 ] ||
	tp_fail "node binding refused legitimate flows: $(tm_stat "$TM_SOCK_B" refused_node_binding)"
unknown0=$(tm_stat "$TM_SOCK_B" node_binding_unknown_source)
l=$(tm_line pod11 "$p21" 7010) || l=FAIL
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "node binding: pod11 (client-a on node-a) got '$l'"; }
[ "$(tm_stat "$TM_SOCK_B" node_binding_unknown_source)" = "$unknown0" ] ||
	tp_fail "node binding: a flow from node-a counted as from an unknown source"
# node1 "compromised": its directory claims pod12 runs as default/server
gen=$(tm_stat "$TM_SOCK_A" config_generation)
tm_we_sa pod12 default server "$p12" node-a "app: impostor" >"$TM_CFG_A/impostor.yaml"
kill -HUP "$TM_PID_A"
wait_gen_change "$TM_SOCK_A" "$gen" "node1's impostor WorkloadEntry"
l=$(tm_line pod12 "$p21" 7010 2>/dev/null) || l=FAIL
[ "$l" = FAIL ] || { tm_dump_logs; tp_fail "node binding: pod12 as default/server from node-a got '$l'"; }
[ "$(tm_stat "$TM_SOCK_B" refused_node_binding)" = 1 ] ||
	{ tm_dump_logs; tp_fail "node binding: refused_node_binding is $(tm_stat "$TM_SOCK_B" refused_node_binding), want 1"; }
grep -q "refused: spiffe://cluster.local/ns/default/sa/server has no pod on node node-a, where the connection comes from (198.18.0.1)" \
	"$TP_DIR/sluiced-b.log" || { tm_dump_logs; tp_fail "node binding: no log line"; }
m=$(tp_exec node2 curl -s http://127.0.0.1:15020/metrics | grep '^sluice_refused_node_binding_total ') || true
[ "$m" = "sluice_refused_node_binding_total 1" ] ||
	tp_fail "node binding: the metric says '$m', want sluice_refused_node_binding_total 1"
# the API now has a pod of default/server on node-a: pod12's flows pass
gen=$(tm_stat "$TM_SOCK_B" config_generation)
pod srv-a default node-a 198.18.1.40 server web-a
wait_gen_change "$TM_SOCK_B" "$gen" "a pod of default/server on node-a"
l=$(tm_line pod12 "$p21" 7010) || l=FAIL
[ "$l" = hello-7010 ] || { tm_dump_logs; tp_fail "node binding: with a server pod on node-a, pod12 got '$l'"; }
[ "$(tm_stat "$TM_SOCK_B" node_binding_unknown_source)" = "$unknown0" ] ||
	tp_fail "node binding: flows from node-a counted as from an unknown source"
ok "node binding: a certificate of a service account without a pod on the source node is refused (counted, logged, metric); with one, it passes"
