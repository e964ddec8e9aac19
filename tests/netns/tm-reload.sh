#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Live config reload end to end (issue 5).  node1's config directory has
# the Kubernetes ConfigMap layout (..<timestamp>/ dirs, ..data symlink,
# file symlinks); every change is a kubelet-style ..data swap.  Service
# "web" has subsets v1 (pod21 answers "v1") and v2 (pod22 answers "v2").
#  1. weights 100/0: every flow lands on v1
#  2. under steady traffic (sequential flows), swap to 0/100: no flow
#     fails, flows before the swap got v1, flows after it get v2, one
#     switch
#  3. swap to 50/50: the next 100 flows split 50/50 (+-2)
#  4. a broken file: the old config keeps serving; "status" on the admin
#     socket reports the failure with file:line
#  5. restart with the broken directory: sluiced runs on the last good copy
#     (config_from_last_good), fixing the directory clears it
#
# usage: tm-reload.sh SLUICED SLUICE NFT_TOOL SL_TCP
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
vip=198.19.0.12
state=$TP_DIR/state-a

base() { # dir node
	tm_node_yaml "$1" "$2"
	{
		tm_we pod11 "$p11" node-a "app: client"
		tm_we pod21 "$p21" node-b "app: web, version: v1"
		tm_we pod22 "$p22" node-b "app: web, version: v2"
		tm_svc web "$vip" 80 7010 "app: web"
	} >"$1/workloads.yaml"
	cat >"$1/dr.yaml" <<EOT
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: default}
spec:
  host: web
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
EOT
}

vs() { # file w1 w2
	cat >"$1" <<EOT
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  tcp:
  - route:
    - destination: {host: web, subset: v1}
      weight: $2
    - destination: {host: web, subset: v2}
      weight: $3
EOT
}

# ConfigMap layout: each version in ..<n>/, ..data -> it, files -> ..data/
gen=0
cm_swap() { # w1 w2 [broken]
	local d
	gen=$((gen + 1))
	d=..2026_11_24_20_00_0$gen.00000000$gen
	mkdir "$TM_CFG_A/$d"
	base "$TM_CFG_A/$d" node-a
	vs "$TM_CFG_A/$d/vs.yaml" "$1" "$2"
	if [ "${3:-}" = broken ]; then
		# line 4 of vs.yaml: an unknown field
		sed -i '4i bogusField: 1' "$TM_CFG_A/$d/vs.yaml"
	fi
	ln -s "$d" "$TM_CFG_A/..data_tmp"
	mv -T "$TM_CFG_A/..data_tmp" "$TM_CFG_A/..data"
	for f in node.yaml workloads.yaml dr.yaml vs.yaml; do
		[ -L "$TM_CFG_A/$f" ] || ln -s "..data/$f" "$TM_CFG_A/$f"
	done
}

cm_swap 100 0
base "$TM_CFG_B" node-b
vs "$TM_CFG_B/vs.yaml" 100 0
"$SLUICED" --config "$TM_CFG_A" --node node-a --check >/dev/null ||
	tp_fail "sluiced --check rejects the test config"

tp_exec node1 "$NFT_TOOL" apply "$p11"
tp_bg pod21 "$TP_DIR/pod21.log" socat TCP-LISTEN:7010,fork,reuseaddr SYSTEM:'echo v1; sleep 0.2'
tp_bg pod22 "$TP_DIR/pod22.log" socat TCP-LISTEN:7010,fork,reuseaddr SYSTEM:'echo v2; sleep 0.2'
tp_wait_port pod21 7010
tp_wait_port pod22 7010
tm_start_b
tm_start_a --state-dir "$state"
for ((i = 0; i < 50; i++)); do
	tp_exec node2 nft list set inet sluice pods4 2>/dev/null | grep -q "$p22" && break
	sleep 0.1
done

count() { # n -> "v1 v2 fail"
	local n=$1 v1=0 v2=0 fail=0 l i
	for ((i = 0; i < n; i++)); do
		l=$(tm_line pod11 "$vip" 80 2>/dev/null) || l=FAIL
		case $l in
		v1) v1=$((v1 + 1)) ;;
		v2) v2=$((v2 + 1)) ;;
		*) fail=$((fail + 1)) ;;
		esac
	done
	echo "$v1 $v2 $fail"
}

# ---- 1 ----------------------------------------------------------------------------------
read -r v1 v2 fail < <(count 10)
[ "$v1" = 10 ] || { tm_dump_logs; tp_fail "weights 100/0: v1 $v1 v2 $v2 failed $fail"; }
gen1=$(tm_stat "$TM_SOCK_A" config_generation)
[ -n "$gen1" ] || tp_fail "no config_generation in status"
ok "weights 100/0: 10 of 10 flows on v1 (generation $gen1)"

# ---- 2. reload under steady traffic --------------------------------------------------------
# sequential flows until told to stop, the swap in the middle
(
	while [ ! -e "$TP_DIR/stop" ]; do
		l=$(tm_line pod11 "$vip" 80 2>/dev/null) || l=FAIL
		echo "$l"
	done
) >"$TP_DIR/steady.log" &
steady=$!
sleep 0.5
cm_swap 0 100
for ((i = 0; i < 100; i++)); do
	[ "$(tm_stat "$TM_SOCK_A" config_generation)" != "$gen1" ] && break
	sleep 0.1
done
sleep 0.5
touch "$TP_DIR/stop"
wait $steady
n=$(wc -l <"$TP_DIR/steady.log")
if grep -qv '^v[12]$' "$TP_DIR/steady.log"; then
	cat "$TP_DIR/steady.log"; tm_dump_logs; tp_fail "a flow failed during the reload"
fi
[ "$(grep -c '^v1$' "$TP_DIR/steady.log")" -ge 3 ] || tp_fail "too few flows before the swap"
[ "$(tail -3 "$TP_DIR/steady.log" | sort -u)" = v2 ] ||
	{ cat "$TP_DIR/steady.log"; tm_dump_logs; tp_fail "the last flows are not on v2"; }
[ "$(head -1 "$TP_DIR/steady.log")" = v1 ] || tp_fail "the first flow was not on v1"
# once v2, always v2 (one switch, no flapping)
[ "$(uniq "$TP_DIR/steady.log" | wc -l)" = 2 ] || tp_fail "flows went back and forth"
gen2=$(tm_stat "$TM_SOCK_A" config_generation)
[ "$gen2" != "$gen1" ] || tp_fail "the generation did not change"
tm_expect "$TM_SOCK_A" config_reloads 1 "reloads"
ok "..data swap under traffic: $n flows, none failed, v1 then v2 (generation $gen2)"

# ---- 3. new weights ----------------------------------------------------------------------
cm_swap 50 50
for ((i = 0; i < 50; i++)); do
	[ "$(tm_stat "$TM_SOCK_A" config_generation)" != "$gen2" ] && break
	sleep 0.1
done
read -r v1 v2 fail < <(count 100)
[ "$fail" = 0 ] || tp_fail "weights 50/50: $fail flows failed"
[ "$v1" -ge 48 ] && [ "$v1" -le 52 ] || tp_fail "weights 50/50: v1 $v1 v2 $v2"
gen3=$(tm_stat "$TM_SOCK_A" config_generation)
ok "weights 50/50: v1 $v1, v2 $v2 of 100"

# ---- 4. a broken file ----------------------------------------------------------------------
cm_swap 0 100 broken
for ((i = 0; i < 50; i++)); do
	[ "$(tm_stat "$TM_SOCK_A" config_reload_failures)" -ge 1 ] && break
	sleep 0.1
done
tm_expect "$TM_SOCK_A" config_reload_failures 1 "reload failure"
err=$(tm_stat "$TM_SOCK_A" config_last_error)
case $err in
*"$TM_CFG_A/vs.yaml:4:"*) ;;
*) tm_admin "$TM_SOCK_A" status; tp_fail "the last error '$err' lacks vs.yaml:4" ;;
esac
[ "$(tm_stat "$TM_SOCK_A" config_generation)" = "$gen3" ] || tp_fail "the broken config replaced the good one"
read -r v1 v2 fail < <(count 20)
[ "$fail" = 0 ] && [ "$v1" -ge 8 ] && [ "$v2" -ge 8 ] ||
	tp_fail "the old 50/50 config does not serve: v1 $v1 v2 $v2 failed $fail"
grep -q "vs.yaml:4:" "$TP_DIR/sluiced-a.log" || tp_fail "the error is not logged with file:line"
ok "broken vs.yaml: the old config serves, status reports $err"

# ---- 5. restart on the last good copy ---------------------------------------------------
tm_stop_a
[ -L "$state/last-good" ] || tp_fail "no last-good copy in $state"
tm_start_a --state-dir "$state"
[ "$(tm_stat "$TM_SOCK_A" config_from_last_good)" = true ] ||
	{ tm_admin "$TM_SOCK_A" status; tp_fail "not running on the last good copy"; }
[ "$(tm_stat "$TM_SOCK_A" config_generation)" = "$gen3" ] || tp_fail "the last good copy is not generation $gen3"
grep -q "LAST GOOD" "$TP_DIR/sluiced-a.log" || tp_fail "no loud warning about the last good copy"
read -r v1 v2 fail < <(count 10)
[ "$fail" = 0 ] || tp_fail "flows fail on the last good copy"
cm_swap 0 100
for ((i = 0; i < 50; i++)); do
	[ "$(tm_stat "$TM_SOCK_A" config_from_last_good)" = false ] && break
	sleep 0.1
done
[ "$(tm_stat "$TM_SOCK_A" config_from_last_good)" = false ] || tp_fail "still on the last good copy after a fix"
read -r v1 v2 fail < <(count 10)
[ "$v2" = 10 ] || tp_fail "after the fix: v1 $v1 v2 $v2 failed $fail"
ok "restart with a broken directory runs the last good copy; a fixed directory takes over"

tm_stop
echo "PASS"
