#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# sluiced --steer end to end (docs/STEERING.md): two nodes x two pods
# (tests/netns/lib), one sluiced per node applying its own table.
#
#  1. --dry-run prints the batch (table, pod addresses) and creates nothing
#  2. the table appears with the routed local workloads (IPv4 + IPv6), a
#     WorkloadEntry whose pod has no route yet is not steered; pod11 ->
#     pod21 echo goes through both sluiceds (outbound_opened rises)
#  3. live pods: tp_add_pod of a pod with a WorkloadEntry -> in pods4/pods6
#     within seconds; tp_del_pod -> gone
#  4. "nft flush table" and "nft delete table" -> restored within ~5 s,
#     steering_restores (admin stats) and sluice_steering_restores_total
#     counted, traffic steered again
#  5. kill -9 and restart -> exactly one table, same pods, traffic steered
#  6. a reload adding a WorkloadEntry of a routed pod steers it; removing it
#     keeps the pod in the set (fail closed) until its route goes
#  8. sluiced --remove-steering removes a kept table and its policy route
#  7. --keep-table-on-stop leaves the table at SIGTERM (fail closed); the
#     next sluiced takes it over; a plain SIGTERM removes it
#  8. sluiced --remove-steering removes a kept table and its policy route
#
# usage: steer-daemon.sh SLUICED SLUICE SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"

sluiced=${1:?sluiced path}
sluice=${2:?sluice path}
sltcp=${3:?sl-tcp path}

tp_require_root
command -v socat >/dev/null || tp_skip "socat not installed"
command -v curl >/dev/null || tp_skip "curl not installed"
tp_setup

ok() { echo "ok - $*"; }

p11=$(tp_pod_ip pod11) p12=$(tp_pod_ip pod12)
p21=$(tp_pod_ip pod21) p22=$(tp_pod_ip pod22)
p11_6=$(tp_pod_ip pod11 6) p21_6=$(tp_pod_ip pod21 6)
p13=198.18.1.13 p13_6=fd00:5a1c:1::13
td=cluster.local

# ---- CA and configuration -------------------------------------------------
ca=$TP_DIR/ca
"$sluice" ca init "$ca" --trust-domain "$td" >/dev/null

we() { # name address sa node
	cat <<EOF
---
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: $1
  namespace: default
spec:
  address: $2
  serviceAccount: $3
  labels:
    app: $1
    kubernetes.io/hostname: $4
EOF
}
mkconfig() { # dir node-name
	mkdir -p "$1"
	cat >"$1/node.yaml" <<EOF
apiVersion: sluice.io/v1alpha1
kind: Node
metadata:
  name: $2
spec:
  trustDomain: $td
  caDir: $ca
EOF
	{
		we pod11 "$p11" client node-a
		we pod11-v6 "$p11_6" client node-a
		we pod12 "$p12" other node-a
		we pod13 "$p13" late node-a
		we pod13-v6 "$p13_6" late node-a
		we pod21 "$p21" echo node-b
		we pod21-v6 "$p21_6" echo node-b
		we pod22 "$p22" echo node-b
	} >"$1/workloads.yaml"
}
mkconfig "$TP_DIR/cfg-a" node-a
mkconfig "$TP_DIR/cfg-b" node-b
"$sluiced" --config "$TP_DIR/cfg-a" --node node-a --check >/dev/null ||
	tp_fail "sluiced --check rejects the test config"

# ---- 1. --dry-run ---------------------------------------------------------------
out=$(tp_exec node1 "$sluiced" --dry-run --config "$TP_DIR/cfg-a" --node node-a) ||
	tp_fail "--dry-run exited with $?"
for w in "table inet sluice" "$p11" "$p12" "$p13" "$p11_6" "redirect to :15001"; do
	[[ $out == *"$w"* ]] || { echo "$out"; tp_fail "--dry-run output lacks '$w'"; }
done
[[ $out != *"$p21"* ]] || tp_fail "--dry-run steers another node's pod $p21"
if tp_exec node1 nft list table inet sluice >/dev/null 2>&1; then
	tp_fail "--dry-run created the table"
fi
ok "--dry-run prints the batch, touches nothing"

# ---- helpers ----------------------------------------------------------------------
sock_a=$TP_DIR/a.sock sock_b=$TP_DIR/b.sock
pid_a='' pid_b=''

stats() { echo stats | socat -t 5 - "UNIX-CONNECT:$1"; }
sget() { # socket key
	local s
	s=$(stats "$1") || return 0
	case $s in
	*"\"$2\":"*) ;;
	*) return 0 ;;
	esac
	s=${s#*\""$2"\":}
	echo "${s%%[,\}]*}"
}
sgen() { # socket -> "config_generation":"..." of status
	echo status | socat -t 5 - "UNIX-CONNECT:$1" | grep -o '"config_generation":"[0-9a-f]*"' || true
}
set_has() { # node set addr
	local s
	s=$(tp_exec "$1" nft list set inet sluice "$2" 2>/dev/null) || return 1
	[[ $s == *" $3"[,\ ]* ]]
}
wait_set() { # node set addr present(1)|absent(0) secs what
	local i
	for ((i = 0; i < $5 * 10; i++)); do
		if set_has "$1" "$2" "$3"; then
			[ "$4" = 1 ] && return 0
		else
			[ "$4" = 0 ] && return 0
		fi
		sleep 0.1
	done
	tp_exec "$1" nft list set inet sluice "$2" || true
	dump_logs
	tp_fail "$6"
}
n_rules() { # node: REDIRECT rules in our table (0 when gone)
	local t
	t=$(tp_exec "$1" nft list table inet sluice 2>/dev/null) || { echo 0; return 0; }
	grep -c 'redirect to :15001' <<<"$t" || true
}
n_tables() { # node
	local t
	t=$(tp_exec "$1" nft list tables)
	grep -c '^table inet sluice$' <<<"$t" || true
}
dump_logs() {
	echo "--- sluiced-a"; tail -30 "$TP_DIR/sluiced-a.log" || true
	echo "--- sluiced-b"; tail -30 "$TP_DIR/sluiced-b.log" || true
}
start_a() { # extra args
	tp_bg node1 "$TP_DIR/sluiced-a.log" "$sluiced" --config "$TP_DIR/cfg-a" \
		--node node-a --workers 1 --admin-socket "$sock_a" --ktls off \
		--steer --grace 1s --log-level debug "$@"
	pid_a=$TP_BG_PID
	tp_wait_port node1 15001 || { dump_logs; tp_fail "sluiced on node1 did not start"; }
	wait_set node1 pods4 "$p11" 1 5 "node1: $p11 not steered after start"
	for ((i = 0; i < 50; i++)); do
		[ -S "$sock_a" ] && break
		sleep 0.1
	done
}
echo_check() { # what
	local before after
	before=$(sget "$sock_a" outbound_opened)
	tp_exec pod11 timeout 30 "$sltcp" echo-check "$p21" 7000 20000 >/dev/null ||
		{ dump_logs; tp_fail "$1: pod11 -> pod21 echo failed"; }
	after=$(sget "$sock_a" outbound_opened)
	[ -n "$after" ] && [ "$after" -gt "${before:-0}" ] ||
		{ dump_logs; tp_fail "$1: the flow did not go through sluiced ($before -> $after)"; }
}

# ---- 2. start, table, traffic -----------------------------------------------
tp_bg pod21 "$TP_DIR/pod21-echo.log" "$sltcp" serve 7000 echo
tp_wait_port pod21 7000
start_a
tp_bg node2 "$TP_DIR/sluiced-b.log" "$sluiced" --config "$TP_DIR/cfg-b" \
	--node node-b --workers 1 --admin-socket "$sock_b" --ktls off \
	--steer --grace 1s --log-level debug
pid_b=$TP_BG_PID
tp_wait_port node2 15008 || { dump_logs; tp_fail "sluiced on node2 did not start"; }
wait_set node2 pods4 "$p21" 1 5 "node2: $p21 not steered"
set_has node1 pods4 "$p12" || tp_fail "node1: $p12 not steered"
set_has node1 pods6 "$p11_6" || tp_fail "node1: IPv6 $p11_6 not in pods6"
set_has node2 pods6 "$p21_6" || tp_fail "node2: IPv6 $p21_6 not in pods6"
! set_has node1 pods4 "$p13" || tp_fail "node1: $p13 steered before its route exists"
! set_has node1 pods4 "$p21" || tp_fail "node1: another node's pod $p21 steered"
[ "$(n_rules node1)" = 2 ] || tp_fail "node1: expected 2 redirect rules, got $(n_rules node1)"
ok "tables applied: routed local workloads, IPv4 and IPv6"
echo_check "steered"
ok "pod11 -> pod21 through both sluiceds"

# ---- 3. live pods ---------------------------------------------------------------
tp_add_pod 1 pod13 13
wait_set node1 pods4 "$p13" 1 5 "node1: new pod $p13 not steered within 5 s"
wait_set node1 pods6 "$p13_6" 1 5 "node1: new pod $p13_6 not in pods6 within 5 s"
tp_del_pod pod13
wait_set node1 pods4 "$p13" 0 5 "node1: deleted pod $p13 still steered after 5 s"
wait_set node1 pods6 "$p13_6" 0 5 "node1: deleted pod $p13_6 still in pods6 after 5 s"
set_has node1 pods4 "$p11" || tp_fail "node1: $p11 lost during pod churn"
# a pod without WorkloadEntry is never steered
tp_add_pod 1 pod14 14
sleep 1.5
! set_has node1 pods4 198.18.1.14 || tp_fail "node1: pod14 without WorkloadEntry steered"
tp_del_pod pod14
ok "live pods: added and removed within seconds"

# ---- 4. external flush / delete -----------------------------------------------------
restores=$(sget "$sock_a" steering_restores)
[ "$restores" = 0 ] || tp_fail "steering_restores is '$restores' before any tampering"
wait_restored() { # what min-restores
	local i
	for ((i = 0; i < 60; i++)); do
		[ "$(n_rules node1)" = 2 ] && set_has node1 pods4 "$p11" && break
		sleep 0.1
	done
	[ "$(n_rules node1)" = 2 ] || { dump_logs; tp_fail "$1: table not restored within 6 s"; }
	set_has node1 pods4 "$p11" || tp_fail "$1: $p11 missing after the restore"
	set_has node1 pods6 "$p11_6" || tp_fail "$1: $p11_6 missing after the restore"
	restores=$(sget "$sock_a" steering_restores)
	[ -n "$restores" ] && [ "$restores" -ge "$2" ] ||
		tp_fail "$1: steering_restores is '$restores', expected >= $2"
}
tp_exec node1 nft flush table inet sluice
wait_restored "nft flush table" 1
grep -q "restoring" "$TP_DIR/sluiced-a.log" || tp_fail "no warning logged for the restore"
ok "flushed table restored (steering_restores=$restores)"
tp_exec node1 nft delete table inet sluice
wait_restored "nft delete table" 2
echo_check "after the restores"
m=$(tp_exec node1 curl -sf --max-time 5 http://127.0.0.1:15020/metrics) ||
	tp_fail "node1: /metrics unreachable"
m=$(grep '^sluice_steering_restores_total ' <<<"$m" || true)
[ "${m#* }" -ge 2 ] 2>/dev/null || tp_fail "metric sluice_steering_restores_total: '$m', expected >= 2"
ok "deleted table restored (steering_restores=$restores), traffic steered"

# ---- 5. kill -9 and restart -----------------------------------------------------------
kill -KILL "$pid_a"
wait "$pid_a" 2>/dev/null || true
# the killed process's io_uring is torn down by the kernel after it is
# reaped, and the ring holds the listening sockets until then: wait for
# the ports (else the new sluiced finds them in use and exits, and the
# old listener answers tp_wait_port; seen once in CI)
for ((i = 0; i < 50; i++)); do
	[ -z "$(tp_exec node1 ss -Hltn '( sport = :15001 or sport = :15008 or sport = :15006 )')" ] && break
	sleep 0.1
done
[ "$(n_tables node1)" = 1 ] || tp_fail "kill -9: the table should stay (fail closed)"
rm -f "$sock_a"
start_a
[ "$(n_tables node1)" = 1 ] || tp_fail "restart: $(n_tables node1) tables"
[ "$(n_rules node1)" = 2 ] || tp_fail "restart: $(n_rules node1) redirect rules"
set_has node1 pods4 "$p12" || tp_fail "restart: $p12 missing"
set_has node1 pods6 "$p11_6" || tp_fail "restart: $p11_6 missing"
echo_check "after kill -9 and restart"
ok "kill -9 + restart: one table, same pods, traffic steered"

# ---- 5b. config reload changes the WorkloadEntries -----------------------------
tp_add_pod 1 pod14 14
p14=198.18.1.14
sleep 1
! set_has node1 pods4 "$p14" || tp_fail "reload: pod14 steered before its WorkloadEntry"
we pod14 "$p14" late node-a >"$TP_DIR/cfg-a/.extra.tmp"
mv "$TP_DIR/cfg-a/.extra.tmp" "$TP_DIR/cfg-a/extra.yaml"
wait_set node1 pods4 "$p14" 1 8 "reload: pod14 not steered after its WorkloadEntry was added"
gen=$(sgen "$sock_a")
rm "$TP_DIR/cfg-a/extra.yaml"
for ((i = 0; i < 80; i++)); do
	[ "$(sgen "$sock_a")" != "$gen" ] && break
	sleep 0.1
done
[ "$(sgen "$sock_a")" != "$gen" ] || tp_fail "reload: the removal was not loaded"
sleep 0.5
# fail closed (STEERING.md): routed, so it stays in the set, STRICT
set_has node1 pods4 "$p14" || tp_fail "reload: pod14 left the set while routed (its traffic would flow unsteered)"
set_has node1 pods4 "$p11" || tp_fail "reload: $p11 lost"
tp_del_pod pod14
wait_set node1 pods4 "$p14" 0 8 "reload: pod14 still steered after its route went"
ok "config reload: WorkloadEntry added -> steered; removed -> kept STRICT until its route goes"

# ---- 6. --keep-table-on-stop and a clean stop ---------------------------------
kill -TERM "$pid_a"
rc=0
wait "$pid_a" || rc=$?
[ $rc = 0 ] || { dump_logs; tp_fail "sluiced on node1 exited with $rc"; }
[ "$(n_tables node1)" = 0 ] || tp_fail "SIGTERM: the table was left behind"
start_a --keep-table-on-stop
kill -TERM "$pid_a"
rc=0
wait "$pid_a" || rc=$?
[ $rc = 0 ] || { dump_logs; tp_fail "sluiced --keep-table-on-stop exited with $rc"; }
[ "$(n_tables node1)" = 1 ] && [ "$(n_rules node1)" = 2 ] ||
	tp_fail "--keep-table-on-stop: the table is gone"
# fail closed: steered pod traffic has nowhere to go while sluiced is down
if tp_exec pod11 timeout 5 "$sltcp" echo-check "$p21" 7000 100 >/dev/null 2>&1; then
	tp_fail "--keep-table-on-stop: traffic flowed unsteered while sluiced was down"
fi
rm -f "$sock_a"
start_a
[ "$(n_tables node1)" = 1 ] || tp_fail "restart after keep: $(n_tables node1) tables"
echo_check "after --keep-table-on-stop and restart"
kill -TERM "$pid_a" "$pid_b"
rc=0
wait "$pid_a" || rc=$?
wait "$pid_b" || rc=$?
[ $rc = 0 ] || { dump_logs; tp_fail "a sluiced exited with $rc"; }
[ "$(n_tables node1)" = 0 ] && [ "$(n_tables node2)" = 0 ] ||
	tp_fail "SIGTERM: a table was left behind"
ok "--keep-table-on-stop keeps the table (fail closed); SIGTERM removes it"

# ---- 7. sluiced --remove-steering: what package removal runs -------------------
start_a --keep-table-on-stop
kill -TERM "$pid_a"
wait "$pid_a" || true
[ "$(n_tables node1)" = 1 ] || tp_fail "--keep-table-on-stop (again): the table is gone"
tp_exec node1 ip rule | grep -q 'fwmark 0x5100' ||
	tp_fail "--keep-table-on-stop: the TPROXY policy rule is gone"
out=$(tp_exec node1 "$sluiced" --remove-steering) ||
	tp_fail "sluiced --remove-steering exited with $?: $out"
[ "$(n_tables node1)" = 0 ] || tp_fail "--remove-steering left the table"
! tp_exec node1 ip rule | grep -q 'fwmark 0x5100' ||
	tp_fail "--remove-steering left the TPROXY policy rule"
tp_exec node1 "$sluiced" --remove-steering >/dev/null ||
	tp_fail "--remove-steering with nothing to remove failed"
ok "sluiced --remove-steering removes the kept table and policy route (idempotent)"
