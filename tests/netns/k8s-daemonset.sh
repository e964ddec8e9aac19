#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The Kubernetes DaemonSet's sluiced, as packaging/kubernetes runs it, in
# two netns "nodes" (tests/netns/lib): the container's arguments from
# daemonset.yaml, the Node of configmap.yaml (only caDir pointed at this
# test's CA; its example workloads left out), and the seccomp profile
# seccomp/sluiced.json loaded as a container runtime does
# (tests/packaging/seccomp-exec.py).
#
# The API server of --kubernetes is the stand-in tests/k8s/apiserver.py on
# node1's address 198.18.0.1 (HTTPS, a throwaway certificate), holding the
# namespace "default" (meshed: sluice.io/mesh=enabled) and the pods pod11
# (on node-a) and pod21 (on node-b).  Its one token is allowed exactly the
# resources of daemonset.yaml's ClusterRole.  Each sluiced sees what the
# DaemonSet's pod sees: KUBERNETES_SERVICE_HOST and _PORT, and the service
# account's token, ca.crt and namespace in
# /var/run/secrets/kubernetes.io/serviceaccount (the kubelet's layout),
# bind-mounted in a mount namespace of its own over an empty /run.
#
#  0. the fake service account works: curl, run as sluiced is, lists the
#     namespaces with it
#  1. with the profile, both sluiceds start, steer and serve: the probes'
#     URLs (/healthz, /ready on 127.0.0.1:15020) answer 200, the other
#     node reaches /metrics on the node's address (metricsAddress 0.0.0.0,
#     as Prometheus would), pod11 -> pod21 goes through both sluiceds
#     (which know the pods only from the API); every request they made is
#     a list or watch the ClusterRole grants, none refused, and each
#     watches every resource it grants (lib/k8s_rbac_audit.py); a
#     VirtualService sluiced rejects gets one Event (one node creates it,
#     the other's 409 counts as reported), its creates allowed too; the
#     kubelet rotates the token (the old one revoked, the connections
#     dropped) and both watch everything again with the new one; SIGTERM
#     ends them with status 0
#  2. the same profile without io_uring_setup (as containerd 2's
#     RuntimeDefault): sluiced refuses to start and says that a seccomp
#     profile forbids io_uring; this also shows the profile is in force in 1
#
# usage: k8s-daemonset.sh SLUICED SLUICE SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"

sluiced=${1:?sluiced path}
sluice=${2:?sluice path}
sltcp=${3:?sl-tcp path}
k8s=$here/../../packaging/kubernetes
secexec=$here/../packaging/seccomp-exec.py
apiserver=$here/../k8s/apiserver.py
audit=$here/lib/k8s_rbac_audit.py
# Debian's python3, where python3-seccomp and python3-yaml are
py=/usr/bin/python3
[ -x $py ] || py=python3

tp_require_root
command -v curl >/dev/null || tp_skip "curl not installed"
command -v socat >/dev/null || tp_skip "socat not installed"
command -v openssl >/dev/null || tp_skip "openssl not installed"
command -v unshare >/dev/null || tp_skip "unshare (util-linux) not installed"
$py -c 'import seccomp' 2>/dev/null ||
	tp_skip "python3-seccomp not installed (packaging/install-deps)"
$py -c 'import yaml' 2>/dev/null || tp_skip "python3-yaml not installed (packaging/install-deps)"
# LeakSanitizer stops threads with ptrace(2), which the profile (as
# @privileged in the unit) does not allow: no leak check under it
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
tp_setup

ok() { echo "ok - $*"; }
p11=$(tp_pod_ip pod11) p21=$(tp_pod_ip pod21)

ca=$TP_DIR/ca
"$sluice" ca init "$ca" --trust-domain cluster.local >/dev/null

# the ConfigMap's Node (caDir -> this CA, the only file: the workloads come
# from the API), the container's arguments, and what the ClusterRole
# grants as the stand-in's token allow list ("pods",
# "networking.istio.io/virtualservices", ...)
extract='
import sys, yaml
k8s, ca, cfg, top = sys.argv[1:5]
cm = [d for d in yaml.safe_load_all(open(k8s + "/configmap.yaml")) if d][0]
node = yaml.safe_load(cm["data"]["sluiced.yaml"])
assert node["spec"]["caDir"], "no caDir"
node["spec"]["caDir"] = ca
open(cfg + "/sluiced.yaml", "w").write(yaml.safe_dump(node))
docs = [d for d in yaml.safe_load_all(open(k8s + "/daemonset.yaml")) if d]
ds = [d for d in docs if d["kind"] == "DaemonSet"][0]
args = ds["spec"]["template"]["spec"]["containers"][0]["args"]
open(top + "/args", "w").write("".join(a + "\n" for a in args))
allow = sorted({(g + "/" if g else "") + r
                for d in docs if d["kind"] == "ClusterRole"
                for rule in d["rules"] for g in rule.get("apiGroups", [])
                for r in rule.get("resources", [])})
assert allow, "no ClusterRole rules in daemonset.yaml"
open(top + "/allow", "w").write(",".join(allow))
'
for n in a b; do
	mkdir -p "$TP_DIR/cfg-$n" "$TP_DIR/state-$n"
	$py -c "$extract" "$k8s" "$ca" "$TP_DIR/cfg-$n" "$TP_DIR"
done
grep -q '^  metricsAddress: 0.0.0.0$' "$TP_DIR/cfg-a/sluiced.yaml" ||
	tp_fail "configmap.yaml's Node does not open the metrics on 0.0.0.0"
"$sluiced" --check --config "$TP_DIR/cfg-a" >/dev/null ||
	tp_fail "sluiced --check rejects the test's copy of the ConfigMap"
mapfile -t dsargs <"$TP_DIR/args"
# shellcheck disable=SC2016 # $(NODE_NAME) is Kubernetes' expansion
args() { # node-name dir-suffix: the DaemonSet's arguments for this test
	local a
	for a in "${dsargs[@]}"; do
		case $a in
		--config=*) echo "--config=$TP_DIR/cfg-$2" ;;
		--state-dir=*) echo "--state-dir=$TP_DIR/state-$2" ;;
		'--node=$(NODE_NAME)') echo "--node=$1" ;;
		--steer | --keep-table-on-stop | --kubernetes) echo "$a" ;;
		*) tp_fail "daemonset.yaml passes $a: teach this test what it means" ;;
		esac
	done
}
mapfile -t args_a < <(args node-a a)
mapfile -t args_b < <(args node-b b)
[ ${#args_a[@]} = ${#dsargs[@]} ] || tp_fail "daemonset.yaml's arguments: ${dsargs[*]}"
echo "sluiced ${args_a[*]}"

[[ " ${dsargs[*]} " == *" --kubernetes "* ]] ||
	tp_fail "daemonset.yaml does not pass --kubernetes: nothing here would give the pods"

# ---- the cluster: the stand-in API server, the pod's service account -------
api_host=198.18.0.1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$TP_DIR/api.key" -out "$TP_DIR/api.crt" -days 2 \
	-subj "/CN=$api_host" -addext "subjectAltName=IP:$api_host" \
	>/dev/null 2>&1 || tp_fail "openssl cannot make the API server's certificate"
pod() { # name address service-account node: a running pod as the API has it
	printf -- '---\napiVersion: v1\nkind: Pod\n'
	printf 'metadata: {name: %s, namespace: default, labels: {app: %s}}\n' "$1" "$1"
	printf 'spec:\n  nodeName: %s\n  serviceAccountName: %s\n' "$4" "$3"
	printf '  containers: [{name: app, image: example/app}]\n'
	printf 'status: {phase: Running, podIP: %s, podIPs: [{ip: %s}]}\n' "$2" "$2"
}
{
	printf 'apiVersion: v1\nkind: Namespace\n'
	printf 'metadata: {name: default, labels: {sluice.io/mesh: enabled}}\n'
	pod pod11 "$p11" client node-a
	pod pod21 "$p21" echo node-b
} >"$TP_DIR/cluster.yaml"
# the kubelet's service account volume: token, ca.crt and namespace are
# links into ..data, which a rotation swaps for a new directory at once
sa=$TP_DIR/sa
sa_write() { # token
	local d
	d=..$(date +%Y_%m_%d_%H_%M_%S.%N)
	mkdir -p "$sa/$d"
	printf '%s' "$1" >"$sa/$d/token"
	cp "$TP_DIR/api.crt" "$sa/$d/ca.crt"
	printf sluice-system >"$sa/$d/namespace"
	ln -s "$d" "$sa/..data_tmp"
	mv -T "$sa/..data_tmp" "$sa/..data"
	for f in token ca.crt namespace; do
		[ -L "$sa/$f" ] || ln -s "..data/$f" "$sa/$f"
	done
}
token1=sluiced-one-$RANDOM$RANDOM
sa_write "$token1"
tp_bg node1 "$TP_DIR/apiserver.log" env SL_K8S_DEBUG=1 $py "$apiserver" \
	--listen "$api_host:0" --control 127.0.0.1:0 --ports-file "$TP_DIR/api-ports" \
	--tls-cert "$TP_DIR/api.crt" --tls-key "$TP_DIR/api.key" \
	--token "$token1=$(cat "$TP_DIR/allow")" --load "$TP_DIR/cluster.yaml"
for ((i = 0; i < 200; i++)); do
	[ -s "$TP_DIR/api-ports" ] && break
	sleep 0.05
done
[ -s "$TP_DIR/api-ports" ] || { cat "$TP_DIR/apiserver.log"; tp_fail "the stand-in API server did not start"; }
read -r api_port ctl_port < <($py -c 'import json, sys
p = json.load(open(sys.argv[1])); print(p["api"], p["control"])' "$TP_DIR/api-ports")
ctl() { # path json: the stand-in's control port (on node1's loopback)
	tp_exec node1 curl -sf -m 5 -d "$2" "http://127.0.0.1:$ctl_port$1" >/dev/null
}
# what the kubelet gives the DaemonSet's container: the API's address in
# the environment, the service account at its path (bind-mounted, then a
# tmpfs with it moved over /run, which /var/run is: in a mount namespace
# of this process alone), before the seccomp profile, which forbids mount
mkdir -p "$TP_DIR/run"
# shellcheck disable=SC2016 # for the sh -c
in_pod=(env "KUBERNETES_SERVICE_HOST=$api_host" "KUBERNETES_SERVICE_PORT=$api_port"
	unshare -m --propagation private sh -ec '
	sa=$1 run=$2; shift 2
	mount -n -t tmpfs -o mode=0755,size=1m sluice-test-run "$run"
	mkdir -p "$run/secrets/kubernetes.io/serviceaccount"
	mount -n --bind -o ro "$sa" "$run/secrets/kubernetes.io/serviceaccount"
	mount -n --move "$run" /run
	exec "$@"' sh "$sa" "$TP_DIR/run")

# ---- 0. the fake service account is usable ---------------------------------
# shellcheck disable=SC2016 # expanded in the pod's view
tp_exec node2 "${in_pod[@]}" sh -c 'd=/var/run/secrets/kubernetes.io/serviceaccount
	exec curl -sS -f -m 5 --cacert $d/ca.crt -H "Authorization: Bearer $(cat $d/token)" \
		"https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api/v1/namespaces"' \
	>"$TP_DIR/ns.json" ||
	{ tail "$TP_DIR/apiserver.log"; tp_fail "curl with the pod's service account cannot list namespaces"; }
grep -q '"NamespaceList"' "$TP_DIR/ns.json" && grep -q '"sluice.io/mesh":"enabled"' "$TP_DIR/ns.json" ||
	tp_fail "the stand-in's namespaces: $(head -c 300 "$TP_DIR/ns.json")"
ok "the pod's service account lists namespaces from https://$api_host:$api_port (curl)"

profile=$k8s/seccomp/sluiced.json
dump_logs() {
	for n in a b nouring; do
		[ -f "$TP_DIR/sluiced-$n.log" ] || continue
		echo "--- sluiced-$n"; tail -30 "$TP_DIR/sluiced-$n.log"
	done
	echo "--- apiserver"; tail -20 "$TP_DIR/apiserver.log"
}
# the DaemonSet's sluiced as its pod runs it, under the profile; test-only:
# a private admin socket (not the node's /run/sluice), one worker, a short
# drain
start() { # node n(a|b) log seccomp-exec-args...
	local node=$1 n=$2 log=$3 argv
	shift 3
	if [ "$n" = a ]; then argv=("${args_a[@]}"); else argv=("${args_b[@]}"); fi
	tp_bg "$node" "$log" "${in_pod[@]}" $py "$secexec" "$profile" "$@" -- "$sluiced" "${argv[@]}" \
		--admin-socket "$TP_DIR/$n.sock" --workers 1 --grace 1s
}
http() { # ns url: prints the status code, the body goes to $TP_DIR/body
	tp_exec "$1" curl -s -m 5 -o "$TP_DIR/body" -w '%{http_code}' "$2" || true
}
# every request to the API (after log line $1) one the ClusterRole allows,
# none refused, and both sluiceds (by their nodes' addresses) watching
# every resource it grants: within 15 s
audit() { # since-line
	local rc i
	for ((i = 0; i < 150; i++)); do
		rc=0
		$py "$audit" "$k8s/daemonset.yaml" "$TP_DIR/apiserver.log" --since "$1" \
			--clients 198.18.0.1,198.18.0.2 >"$TP_DIR/audit.out" 2>&1 || rc=$?
		[ $rc = 3 ] || break
		sleep 0.1
	done
	cat "$TP_DIR/audit.out"
	[ $rc = 0 ]
}

# ---- 1. the profile lets sluiced do its work --------------------------------
tp_bg pod21 "$TP_DIR/echo.log" "$sltcp" serve 7000 echo
tp_wait_port pod21 7000
start node1 a "$TP_DIR/sluiced-a.log"
pid_a=$TP_BG_PID
start node2 b "$TP_DIR/sluiced-b.log"
pid_b=$TP_BG_PID
for node in node1 node2; do
	tp_wait_port $node 15008 10 || { dump_logs; tp_fail "$node: sluiced did not start under the profile"; }
done
grep -q 'seccomp-exec: .* calls allowed' "$TP_DIR/sluiced-a.log" ||
	{ dump_logs; tp_fail "the profile was not loaded"; }
for node in node1 node2; do
	code=
	for ((i = 0; i < 100; i++)); do
		code=$(http $node http://127.0.0.1:15020/ready)
		[ "$code" = 200 ] && break
		sleep 0.1
	done
	[ "$code" = 200 ] || { dump_logs; tp_fail "$node: the readinessProbe's /ready answers $code"; }
	code=$(http $node http://127.0.0.1:15020/healthz)
	[ "$code" = 200 ] || { dump_logs; tp_fail "$node: the startup/livenessProbe's /healthz answers $code"; }
done
ok "under the profile: the probes' /healthz and /ready answer 200 on both nodes"

code=$(http node2 http://198.18.0.1:15020/metrics)
[ "$code" = 200 ] && grep -q '^sluice_' "$TP_DIR/body" ||
	{ dump_logs; tp_fail "node2 cannot scrape node1's /metrics on 198.18.0.1:15020 ($code)"; }
ok "another node scrapes /metrics on the node's address (metricsAddress 0.0.0.0)"

tp_exec node1 nft list table inet sluice >/dev/null ||
	{ dump_logs; tp_fail "node1: no steering table under the profile"; }
tp_exec pod11 timeout 30 "$sltcp" echo-check "$p21" 7000 20000 >/dev/null ||
	{ dump_logs; tp_fail "pod11 -> pod21 echo failed under the profile"; }
opened=$(echo stats | socat -t 5 - "UNIX-CONNECT:$TP_DIR/a.sock" |
	grep -o '"outbound_opened":[0-9]*' | cut -d: -f2) || true
[ "${opened:-0}" -gt 0 ] || { dump_logs; tp_fail "the flow did not go through node1's sluiced"; }
ok "steered mTLS flow pod11 -> pod21 under the profile (the pods from the API)"

audit 0 || { dump_logs; tp_fail "sluiced's requests to the API and the ClusterRole disagree"; }
ok "each sluiced watches every resource of the ClusterRole, and only with list and watch"

# a VirtualService sluiced rejects (a host no Service defines: one error
# per field that names it, one Event per error): both nodes report it (no
# Node objects here: every node is a reporter), each Event is created
# once, the other node's POST of it is a 409, and the creates are what the
# ClusterRole grants
ctl /objects '{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
	"metadata": {"name": "nowhere", "namespace": "default"},
	"spec": {"hosts": ["nowhere.default.svc.cluster.local"], "http": [{"route":
	[{"destination": {"host": "nowhere.default.svc.cluster.local"}}]}]}}' ||
	tp_fail "the stand-in's control port refuses the VirtualService"
# shellcheck disable=SC2016 # python
ev_of() { # n: "posted already pending failed" of that sluiced's status
	echo status | socat -t 5 - "UNIX-CONNECT:$TP_DIR/$1.sock" | $py -c 'import json, sys
e = json.load(sys.stdin)["kubernetes"]["events"]
print(e["posted"], e["already_posted"], e["pending"], e["failed"], e["last_error"])' 2>/dev/null || true
}
# shellcheck disable=SC2016 # python
stored() {
	tp_exec node1 curl -sf -m 5 "http://127.0.0.1:$ctl_port/state" |
		$py -c 'import json, sys; print(json.load(sys.stdin)["objects"]["events.events.k8s.io"])'
}
for ((i = 0; i < 100; i++)); do
	read -r pa aa qa fa _ <<<"$(ev_of a)" || true
	read -r pb ab qb fb _ <<<"$(ev_of b)" || true
	n=$((${pa:-0} + ${pb:-0}))
	[ "$n" -ge 1 ] && [ "${qa:-1}${qb:-1}" = 00 ] &&
		[ "$((${aa:-0} + ${ab:-0}))" = "$n" ] && break
	sleep 0.1
done
events=$(stored)
[ "$n" -ge 1 ] && [ "$((${aa:-0} + ${ab:-0}))" = "$n" ] && [ "$events" = "$n" ] &&
	[ "${fa:-1}${fb:-1}" = 00 ] ||
	{ dump_logs; tp_fail "the rejected VirtualService's Events ($events stored): node-a: $(ev_of a); node-b: $(ev_of b)"; }
audit 0 || { dump_logs; tp_fail "the Events' creates and the ClusterRole disagree"; }
ok "a rejected VirtualService: $n Event(s), each created by one node (the other's 409 counted), as the ClusterRole allows"

# the kubelet rotates the projected token: the new file first, then the
# API server takes only the new token and drops every connection
mark=$(wc -l <"$TP_DIR/apiserver.log")
token2=sluiced-two-$RANDOM$RANDOM
sa_write "$token2"
ctl /tokens "{\"tokens\": {\"$token2\": {\"user\": \"system:serviceaccount:sluice-system:sluiced\",
	\"allow\": [\"$(sed 's/,/", "/g' "$TP_DIR/allow")\"]}}, \"drop_connections\": true}" ||
	tp_fail "the stand-in's control port refuses the new token"
audit "$mark" || { dump_logs; tp_fail "after the token's rotation sluiced does not watch everything again, allowed"; }
# and nothing refused since (a request with the revoked token: a 401)
sleep 1
audit 0 >/dev/null || { cat "$TP_DIR/audit.out"; dump_logs; tp_fail "sluiced's requests after the rotation"; }
ok "the token rotated: both sluiceds watch everything again with the new one"

kill -TERM "$pid_a" "$pid_b"
for p in $pid_a $pid_b; do
	rc=0
	wait "$p" || rc=$?
	[ "$rc" = 0 ] || { dump_logs; tp_fail "sluiced exited with $rc after SIGTERM under the profile"; }
done
if [[ " ${dsargs[*]} " == *" --keep-table-on-stop "* ]]; then
	# a rolling update fails closed: the table outlives the pod
	tp_exec node1 nft list table inet sluice >/dev/null ||
		tp_fail "--keep-table-on-stop: node1's table is gone after SIGTERM"
	tp_exec node1 "$sluiced" --remove-steering >/dev/null ||
		tp_fail "node1: sluiced --remove-steering failed"
	tp_exec node2 "$sluiced" --remove-steering >/dev/null ||
		tp_fail "node2: sluiced --remove-steering failed"
	ok "SIGTERM: both exit 0, the tables stay (--keep-table-on-stop) until --remove-steering"
else
	ok "SIGTERM: both exit 0"
fi

# ---- 2. without io_uring (containerd 2's RuntimeDefault) ---------------------
start node1 a "$TP_DIR/sluiced-nouring.log" --deny io_uring_setup
for ((i = 0; i < 100; i++)); do
	kill -0 "$TP_BG_PID" 2>/dev/null || break
	sleep 0.1
done
rc=0
wait "$TP_BG_PID" || rc=$?
[ "$rc" != 0 ] || { dump_logs; tp_fail "sluiced ran without io_uring_setup"; }
grep -q 'io_uring_setup: Operation not permitted: a seccomp profile forbids io_uring' \
	"$TP_DIR/sluiced-nouring.log" ||
	{ dump_logs; tp_fail "sluiced without io_uring_setup does not say why it stops"; }
grep 'io_uring' "$TP_DIR/sluiced-nouring.log" | head -3
ok "without io_uring_setup in the profile sluiced exits $rc and says why"
