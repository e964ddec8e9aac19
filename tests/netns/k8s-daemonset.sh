#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The Kubernetes DaemonSet's sluiced, as packaging/kubernetes runs it, in
# two netns "nodes" (tests/netns/lib): the container's arguments from
# daemonset.yaml, the Node of configmap.yaml (only caDir pointed at this
# test's CA; the example workloads replaced by this topology's pods), and
# the seccomp profile seccomp/sluiced.json loaded as a container runtime
# does (tests/packaging/seccomp-exec.py).
#
#  1. with the profile, both sluiceds start, steer and serve: the probes'
#     URLs (/healthz, /ready on 127.0.0.1:15020) answer 200, the other
#     node reaches /metrics on the node's address (metricsAddress 0.0.0.0,
#     as Prometheus would), pod11 -> pod21 goes through both sluiceds, and
#     SIGTERM ends them with status 0
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
# Debian's python3, where python3-seccomp and python3-yaml are
py=/usr/bin/python3
[ -x $py ] || py=python3

tp_require_root
command -v curl >/dev/null || tp_skip "curl not installed"
command -v socat >/dev/null || tp_skip "socat not installed"
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

# the ConfigMap's Node (caDir -> this CA) and the container's arguments
extract='
import sys, yaml
k8s, ca, out = sys.argv[1:4]
cm = [d for d in yaml.safe_load_all(open(k8s + "/configmap.yaml")) if d][0]
node = yaml.safe_load(cm["data"]["sluiced.yaml"])
assert node["spec"]["caDir"], "no caDir"
node["spec"]["caDir"] = ca
open(out + "/sluiced.yaml", "w").write(yaml.safe_dump(node))
ds = [d for d in yaml.safe_load_all(open(k8s + "/daemonset.yaml"))
      if d and d["kind"] == "DaemonSet"][0]
print("\n".join(ds["spec"]["template"]["spec"]["containers"][0]["args"]))
'
we() { # name address sa node
	printf -- '---\napiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n'
	printf 'metadata: {name: %s, namespace: default}\n' "$1"
	printf 'spec:\n  address: %s\n  serviceAccount: %s\n' "$2" "$3"
	printf '  labels: {app: %s, kubernetes.io/hostname: %s}\n' "$1" "$4"
}
for n in a b; do
	mkdir -p "$TP_DIR/cfg-$n" "$TP_DIR/state-$n"
	$py -c "$extract" "$k8s" "$ca" "$TP_DIR/cfg-$n" >"$TP_DIR/args"
	{ we pod11 "$p11" client node-a; we pod21 "$p21" echo node-b; } >"$TP_DIR/cfg-$n/workloads.yaml"
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
		--steer | --keep-table-on-stop) echo "$a" ;;
		*) tp_fail "daemonset.yaml passes $a: teach this test what it means" ;;
		esac
	done
}
mapfile -t args_a < <(args node-a a)
mapfile -t args_b < <(args node-b b)
[ ${#args_a[@]} = ${#dsargs[@]} ] || tp_fail "daemonset.yaml's arguments: ${dsargs[*]}"
echo "sluiced ${args_a[*]}"

profile=$k8s/seccomp/sluiced.json
dump_logs() {
	for n in a b nouring; do
		[ -f "$TP_DIR/sluiced-$n.log" ] || continue
		echo "--- sluiced-$n"; tail -30 "$TP_DIR/sluiced-$n.log"
	done
}
# the DaemonSet's sluiced under the profile; test-only: a private admin
# socket (not the node's /run/sluice), one worker, a short drain
start() { # node n(a|b) log seccomp-exec-args...
	local node=$1 n=$2 log=$3 argv
	shift 3
	if [ "$n" = a ]; then argv=("${args_a[@]}"); else argv=("${args_b[@]}"); fi
	tp_bg "$node" "$log" $py "$secexec" "$profile" "$@" -- "$sluiced" "${argv[@]}" \
		--admin-socket "$TP_DIR/$n.sock" --workers 1 --grace 1s
}
http() { # ns url: prints the status code, the body goes to $TP_DIR/body
	tp_exec "$1" curl -s -m 5 -o "$TP_DIR/body" -w '%{http_code}' "$2" || true
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
ok "steered mTLS flow pod11 -> pod21 under the profile"

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
