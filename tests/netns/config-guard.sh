#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A hollow configuration never opens the mesh (issue 24).  node2 runs
# sluiced --steer --state-dir; pod21 and pod22 are its pods.
#  1. baseline: pod11 -> pod21 through the mesh; pod21 -> a non-mesh
#     listener on node1 (198.18.0.1:7011) is refused by sluiced (no route)
#  2. node2's config directory emptied while it runs (rm *.yaml): the
#     reload is refused (config_reload_refused, last error, metric), the
#     pods stay steered, the mesh flow still works, pod21's probe is still
#     refused and its marker never crosses the node link in clear; the
#     last-good copy is not overwritten
#  3. restart on the emptied directory: sluiced runs on the last good copy
#  4. the directory replaced (mv + mkdir + files): live reload goes on
#  5. pod21's WorkloadEntry removed (pod22's kept): pod21 stays in pods4
#     as STRICT (fail closed): its new outbound flow is refused, its marker
#     never crosses in clear, mTLS to it fails; pod22 unaffected; when
#     pod21's route goes, it leaves the set
#  6. sluice reload --allow-empty: the operator's confirmation is obeyed
#  7. a second sluiced for node2 refuses to start: with the same admin
#     socket naming the holder's PID, with another one naming the port
#
# usage: config-guard.sh SLUICED SLUICE NFT_TOOL SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"
# shellcheck source=lib/tm.sh
. "$here/lib/tm.sh"

tm_args "$@"

tm_init
command -v tcpdump >/dev/null || tp_skip "tcpdump not installed"
p11=$(tp_pod_ip pod11) p21=$(tp_pod_ip pod21) p22=$(tp_pod_ip pod22)
state=$TP_DIR/state-b

write_cfg() { # dir node [without-pod21]
	tm_node_yaml "$1" "$2"
	# node-b: telemetry on the node address and another port, and another
	# outbound port (the listener and the steering REDIRECT follow it)
	[ "$2" != node-b ] || printf '  metricsAddress: 198.18.0.2\n  ports: {metrics: 15090, outbound: 15101}\n' >>"$1/node.yaml"
	{
		tm_we pod11 "$p11" node-a "app: client"
		[ "${3:-}" = without-pod21 ] || tm_we pod21 "$p21" node-b "app: web"
		tm_we pod22 "$p22" node-b "app: db"
	} >"$1/workloads.yaml"
}
write_cfg "$TM_CFG_A" node-a
write_cfg "$TM_CFG_B" node-b

in_set() { # ip [set] -> 0 when in node2's pods4 (or SET)
	local out # no "| grep -q" under pipefail: nft may die of SIGPIPE
	out=$(tp_exec node2 nft list set inet sluice "${2:-pods4}" 2>/dev/null) || return 1
	grep -q "$1" <<<"$out"
}
wait_stat() { # sock key value what
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(tm_stat "$1" "$2")" = "$3" ] && return 0
		sleep 0.1
	done
	tm_admin "$1" status; tm_dump_logs
	tp_fail "$4: $2 is '$(tm_stat "$1" "$2")', expected $3"
}
# pod21 -> node1's non-mesh listener with a marker: must not connect
probe_refused() { # what
	local out
	out=$(timeout 3 ip netns exec "$TP_POD21" bash -c \
		'exec 3<>/dev/tcp/198.18.0.1/7011 && echo "MARKER-$0" >&3 && IFS= read -r l <&3 && echo "$l"' \
		"$1" 2>/dev/null) && tp_fail "$1: pod21 reached a non-mesh address ($out)"
	if grep -q "MARKER-$1" "$TP_DIR/probe-seen.log" 2>/dev/null; then
		tp_fail "$1: the marker reached node1's listener"
	fi
	return 0
}

tm_echo_server
tm_serve pod21 7010
tm_serve pod22 7010
tp_bg node1 "$TP_DIR/probe.log" socat TCP-LISTEN:7011,bind=198.18.0.1,fork,reuseaddr \
	SYSTEM:"head -1 >>$TP_DIR/probe-seen.log; echo got"
tp_wait_port node1 7011
tp_bg node2 "$TP_DIR/tcpdump.txt" tcpdump -i nl0 -n -l -A --immediate-mode "tcp port 7011 or tcp port 7010"
dump_pid=$TP_BG_PID
for ((i = 0; i < 50; i++)); do
	grep -q "listening on" "$TP_DIR/tcpdump.txt" 2>/dev/null && break
	sleep 0.1
done

tp_exec node1 "$NFT_TOOL" apply "$p11"
tm_start_b --state-dir "$state" --log-level debug
tm_start_a
for ((i = 0; i < 50; i++)); do
	in_set "$p21" && in_set "$p22" && break
	sleep 0.1
done
in_set "$p21" && in_set "$p22" || { tm_dump_logs; tp_fail "pods 21/22 not steered at start"; }

# ---- 0. the Node's metricsAddress and ports.metrics are where telemetry is --
tp_exec node2 curl -sf --max-time 3 http://198.18.0.2:15090/healthz >/dev/null ||
	tp_fail "node2: /healthz not on metricsAddress 198.18.0.2:15090"
tp_exec node2 curl -s --max-time 3 http://127.0.0.1:15020/healthz >/dev/null &&
	tp_fail "node2: telemetry still on 127.0.0.1:15020"
ok "telemetry listens on the Node's metricsAddress:ports.metrics"

# ---- 1 ---------------------------------------------------------------------
[ "$(tm_line pod11 "$p21" 7010)" = hello-7010 ] || { tm_dump_logs; tp_fail "baseline: pod11 -> pod21"; }
probe_refused baseline
tm_expect "$TM_SOCK_B" no_route 1 "baseline probe refused by sluiced"
gen1=$(tm_stat "$TM_SOCK_B" config_generation)
lg1=$(readlink "$state/last-good")
ok "baseline: mesh flow works, pod21's non-mesh probe is refused (generation $gen1)"

# ---- 2. emptied directory --------------------------------------------------
rm -f "$TM_CFG_B"/*.yaml
wait_stat "$TM_SOCK_B" config_reload_refused 1 "emptied directory"
err=$(tm_stat "$TM_SOCK_B" config_last_error)
case $err in
*"every workload (3 -> 0)"*"--allow-empty"*) ;;
*) tp_fail "emptied: last error '$err'" ;;
esac
[ "$(tm_stat "$TM_SOCK_B" config_generation)" = "$gen1" ] || tp_fail "emptied: the generation changed"
[ "$(readlink "$state/last-good")" = "$lg1" ] || tp_fail "emptied: last-good was overwritten"
in_set "$p21" && in_set "$p22" || tp_fail "emptied: pods left the steering set"
[ "$(tm_line pod11 "$p21" 7010)" = hello-7010 ] || { tm_dump_logs; tp_fail "emptied: the mesh flow broke"; }
probe_refused emptied
m=$(tp_exec node2 curl -sf --max-time 5 http://198.18.0.2:15090/metrics) || tp_fail "node2: /metrics on metricsAddress:ports.metrics"
grep -q '^sluice_config_reload_refused_total 1$' <<<"$m" || tp_fail "emptied: sluice_config_reload_refused_total"
grep -q "refused: it would remove every workload (3 -> 0).*keeping generation $gen1" "$TP_DIR/sluiced-b.log" || tp_fail "emptied: refusal not logged"
ok "emptied directory: refused ($err), pods steered, mesh works, last good kept"

# ---- 3. restart on the emptied directory -------------------------------------
kill -TERM "$TM_PID_B"
wait "$TM_PID_B" || tp_fail "sluiced on node2 did not stop cleanly"
tm_start_b --state-dir "$state" --log-level debug
[ "$(tm_stat "$TM_SOCK_B" config_from_last_good)" = true ] || tp_fail "restart: not on the last good copy"
[ "$(tm_stat "$TM_SOCK_B" config_generation)" = "$gen1" ] || tp_fail "restart: not generation $gen1"
for ((i = 0; i < 50; i++)); do
	in_set "$p21" && break
	sleep 0.1
done
in_set "$p21" || tp_fail "restart: pod21 not steered"
[ "$(tm_line pod11 "$p21" 7010)" = hello-7010 ] || { tm_dump_logs; tp_fail "restart: mesh flow"; }
probe_refused restart
ok "restart on an emptied directory: last good copy, pods steered"

# ---- 4. the directory replaced -----------------------------------------------
mv "$TM_CFG_B" "$TM_CFG_B.old"
mkdir "$TM_CFG_B"
write_cfg "$TM_CFG_B" node-b
wait_stat "$TM_SOCK_B" config_from_last_good false "replaced directory"
[ "$(tm_stat "$TM_SOCK_B" config_watching)" = true ] || tp_fail "replaced: not watching"
echo "# later edit" >>"$TM_CFG_B/workloads.yaml"
for ((i = 0; i < 50; i++)); do
	[ "$(tm_stat "$TM_SOCK_B" config_generation)" != "$gen1" ] && break
	sleep 0.1
done
[ "$(tm_stat "$TM_SOCK_B" config_generation)" != "$gen1" ] || tp_fail "replaced: an edit in the new directory was not loaded"
gen2=$(tm_stat "$TM_SOCK_B" config_generation)
ok "replaced directory: watched again, edits load (generation $gen2)"
# a start-only Node field changed by a reload: loud, and not applied
sed -i 's/metricsAddress: 198.18.0.2/metricsAddress: 127.0.0.1/' "$TM_CFG_B/node.yaml"
for ((i = 0; i < 50; i++)); do
	[ "$(tm_stat "$TM_SOCK_B" config_generation)" != "$gen2" ] && break
	sleep 0.1
done
grep -q "Node spec.metricsAddress changed: it has NO EFFECT until sluiced restarts" "$TP_DIR/sluiced-b.log" ||
	tp_fail "a changed metricsAddress was not reported as needing a restart"
tp_exec node2 curl -sf --max-time 3 http://198.18.0.2:15090/healthz >/dev/null ||
	tp_fail "the running telemetry address changed without a restart"
sed -i 's/metricsAddress: 127.0.0.1/metricsAddress: 198.18.0.2/' "$TM_CFG_B/node.yaml"
for ((i = 0; i < 50; i++)); do
	[ "$(tm_stat "$TM_SOCK_B" config_generation)" = "$gen2" ] && break
	sleep 0.1
done
ok "a reload that changes metricsAddress says it needs a restart"

# ---- 5. one workload removed: fail closed ---------------------------------
write_cfg "$TM_CFG_B" node-b without-pod21
for ((i = 0; i < 50; i++)); do
	[ "$(tm_stat "$TM_SOCK_B" config_generation)" != "$gen2" ] && break
	sleep 0.1
done
[ "$(tm_stat "$TM_SOCK_B" config_generation)" != "$gen2" ] || tp_fail "orphan: config not loaded"
sleep 0.3
in_set "$p21" || tp_fail "orphan: pod21 left the steering set (its traffic would flow unsteered)"
in_set "$p21" permissive4 && tp_fail "orphan: pod21 is permissive"
grep -q "pod $p21 has no WorkloadEntry" "$TP_DIR/sluiced-b.log" || tp_fail "orphan: not logged"
probe_refused orphan
tm_expect "$TM_SOCK_B" refused_unknown_source 1 "orphan: pod21's flow refused as unknown source"
# Node allowUnknownSource (read per flow): the same probe passes the source
# check and stops at the route (198.18.0.1 is no mesh destination)
u0=$(tm_stat "$TM_SOCK_B" refused_unknown_source) r0=$(tm_stat "$TM_SOCK_B" no_route)
g0=$(tm_stat "$TM_SOCK_B" config_generation)
echo "  allowUnknownSource: true" >>"$TM_CFG_B/node.yaml"
for ((i = 0; i < 50; i++)); do
	[ "$(tm_stat "$TM_SOCK_B" config_generation)" != "$g0" ] && break
	sleep 0.1
done
probe_refused allow-unknown
[ "$(tm_stat "$TM_SOCK_B" refused_unknown_source)" = "$u0" ] &&
	[ "$(tm_stat "$TM_SOCK_B" no_route)" -gt "$r0" ] ||
	tp_fail "allowUnknownSource: true did not let the unknown source through to routing"
sed -i '/allowUnknownSource: true/d' "$TM_CFG_B/node.yaml"
for ((i = 0; i < 50; i++)); do
	[ "$(tm_stat "$TM_SOCK_B" config_generation)" = "$g0" ] && break
	sleep 0.1
done
tm_line pod11 "$p21" 7010 >/dev/null 2>&1 && tp_fail "orphan: mTLS to pod21 still works"
[ "$(tm_line pod11 "$p22" 7010)" = hello-7010 ] || tp_fail "orphan: pod22 broke"
tp_exec node2 ip link del veth-pod21 # the CNI tears the pod down
for ((i = 0; i < 50; i++)); do
	in_set "$p21" || break
	sleep 0.1
done
in_set "$p21" && { tm_dump_logs; tp_fail "orphan: pod21 stays in the set after its route went"; }
ok "workload removed: pod21 stays steered STRICT (refused, not plaintext) until its route goes"

# ---- 6. operator's confirmation ---------------------------------------------
r0=$(tm_stat "$TM_SOCK_B" config_reload_refused)
rm -f "$TM_CFG_B/workloads.yaml"
wait_stat "$TM_SOCK_B" config_reload_refused $((r0 + 1)) "workloads removed (after restart)"
out=$("$SLUICE" -s "$TM_SOCK_B" reload 2>&1) && tp_fail "sluice reload accepted a hollow config: $out"
case $out in *"every workload"*) ;; *) tp_fail "sluice reload: '$out'" ;; esac
out=$("$SLUICE" -s "$TM_SOCK_B" reload --allow-empty) || tp_fail "sluice reload --allow-empty failed: $out"
case $out in loaded:*) ;; *) tp_fail "sluice reload --allow-empty: '$out'" ;; esac
[ "$(tm_stat "$TM_SOCK_B" workloads)" = 0 ] || tp_fail "confirmed: workloads left"
[ "$(readlink "$state/last-good")" = "gen-$(tm_stat "$TM_SOCK_B" config_generation)" ] ||
	tp_fail "confirmed: not persisted as last good"
in_set "$p22" || tp_fail "confirmed: pod22 left the set (it must stay fail closed until its route goes)"
[ "$(tm_line pod11 "$p22" 7010 2>/dev/null)" = hello-7010 ] && tp_fail "confirmed: pod22 still reachable"
ok "sluice reload --allow-empty: applied and persisted; pod22 stays steered, fail closed"

# ---- 7. one sluiced per admin socket -------------------------------------
write_cfg "$TM_CFG_B" node-b
rc=0
out=$(timeout 10 ip netns exec "$TP_NODE2" "$SLUICED" --config "$TM_CFG_B" --node node-b \
	--admin-socket "$TM_SOCK_B" --ktls off 2>&1) || rc=$?
[ $rc = 1 ] || tp_fail "a second sluiced exited $rc: $out"
case $out in *"pid $TM_PID_B"*) ;; *) tp_fail "second sluiced: '$out' does not name pid $TM_PID_B" ;; esac
[ "$(tm_stat "$TM_SOCK_B" pid)" = "$TM_PID_B" ] || tp_fail "the first sluiced lost its admin socket"
ok "a second sluiced refuses to start: $out"
rc=0
out=$(timeout 10 ip netns exec "$TP_NODE2" "$SLUICED" --config "$TM_CFG_B" --node node-b \
	--admin-socket "$TP_DIR/other.sock" --ktls off 2>&1) || rc=$?
[ $rc = 1 ] || tp_fail "a second sluiced on another admin socket exited $rc: $out"
case $out in *"port 15101"*"port in use"*) ;; *) tp_fail "second sluiced: '$out' does not say port in use" ;; esac
ok "a second sluiced with its own admin socket refuses the shared ports"

kill "$dump_pid" 2>/dev/null || true
sleep 0.2
grep -q MARKER "$TP_DIR/tcpdump.txt" && { cat "$TP_DIR/tcpdump.txt"; tp_fail "a marker crossed the node link in clear"; }
grep -q hello-7010 "$TP_DIR/tcpdump.txt" && tp_fail "mesh payload crossed the node link in clear"
ok "no marker and no payload in clear on the node link"
tm_stop
echo PASS
