# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034
#
# tm.sh - shared set-up of the traffic-management netns tests (tm-*.sh):
# the two-node topology (topology.sh), a CA, one sluiced per node with an
# admin socket, helpers to read its counters.  Source after topology.sh;
# set SLUICED SLUICE NFT_TOOL SL_TCP first.
#
#   tm_args "$@"               SLUICED SLUICE NFT_TOOL SL_TCP from the arguments
#   tm_init                    require root/socat, tp_setup, CA in $TM_CA
#   tm_node_yaml DIR NODE      write DIR/node.yaml
#   tm_we NAME IP NODE LABELS  print a WorkloadEntry (LABELS: "app: x, v: y")
#   tm_svc NAME VIP PORT TARGET SELECTOR   print a Service
#   tm_start_a ARGS... / tm_start_b ARGS...  start sluiced on node1/node2
#                              (config $TM_CFG_A / $TM_CFG_B), wait for it
#   tm_stop                    SIGTERM both, expect exit 0
#   tm_stat SOCK KEY           one number (or string) from "stats"/"status"
#   tm_expect SOCK KEY MIN WHAT
#   tm_line POD IP PORT        connect, print the first line (3 s timeout)
#   tm_we_sa NAME NS SA IP NODE LABELS  print a WorkloadEntry in namespace NS
#                              with service account SA
#   tm_policy CONTENT NODES    write CONTENT as policy.yaml (empty: remove it)
#                              on NODES ("a", "b" or "a b"), SIGHUP them,
#                              wait for their new configuration generation
#   tm_echo_server             write $TP_DIR/server.sh: logs "peer port" to
#                              $TM_SEEN, answers "hello-PORT"
#   tm_serve POD PORT [6]      run it on POD:PORT (TCP6 with "6")

TM_CA=
TM_CFG_A=
TM_CFG_B=
TM_SOCK_A=
TM_SOCK_B=
TM_PID_A=
TM_PID_B=
TM_TD=cluster.local
TM_SEEN=

ok() { echo "ok - $*"; }
note() { echo "# $*"; }

# the four arguments every tm-style script takes (meson passes them)
tm_args() { # SLUICED SLUICE NFT_TOOL SL_TCP
	SLUICED=${1:?sluiced path}
	SLUICE=${2:?sluice path}
	NFT_TOOL=${3:?nft-tool path}
	SL_TCP=${4:?sl-tcp path}
}

tm_init() {
	tp_require_root
	command -v socat >/dev/null || tp_skip "socat not installed"
	tp_setup
	TM_CA=$TP_DIR/ca
	"$SLUICE" ca init "$TM_CA" --trust-domain "$TM_TD" >/dev/null
	TM_CFG_A=$TP_DIR/cfg-a
	TM_CFG_B=$TP_DIR/cfg-b
	TM_SOCK_A=$TP_DIR/a.sock
	TM_SOCK_B=$TP_DIR/b.sock
	mkdir -p "$TM_CFG_A" "$TM_CFG_B"
}

tm_node_yaml() { # dir node
	cat >"$1/node.yaml" <<EOT
apiVersion: sluice.io/v1alpha1
kind: Node
metadata:
  name: $2
spec:
  trustDomain: $TM_TD
  caDir: $TM_CA
EOT
}

tm_we() { # name ip node labels
	cat <<EOT
---
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: $1
  namespace: default
spec:
  address: $2
  serviceAccount: $1
  labels: {$4, kubernetes.io/hostname: $3}
EOT
}

tm_svc() { # name vip port target selector
	cat <<EOT
---
apiVersion: v1
kind: Service
metadata:
  name: $1
  namespace: default
spec:
  clusterIP: $2
  selector: {$5}
  ports:
  - {name: tcp, port: $3, targetPort: $4}
EOT
}

tm_dump_logs() {
	echo "--- sluiced-a"; tail -60 "$TP_DIR/sluiced-a.log"
	echo "--- sluiced-b"; tail -30 "$TP_DIR/sluiced-b.log"
}

_tm_wait_sock() { # sock
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

tm_start_a() {
	tp_bg node1 "$TP_DIR/sluiced-a.log" "$SLUICED" --config "$TM_CFG_A" \
		--node node-a --workers 2 --admin-socket "$TM_SOCK_A" \
		--ktls off --handshake-timeout 2s --grace 1s --log-level debug "$@"
	TM_PID_A=$TP_BG_PID
	tp_wait_port node1 15001 10 && _tm_wait_sock "$TM_SOCK_A" ||
		{ tm_dump_logs; tp_fail "sluiced on node1 did not start"; }
}

tm_start_b() {
	tp_bg node2 "$TP_DIR/sluiced-b.log" "$SLUICED" --config "$TM_CFG_B" \
		--node node-b --workers 2 --admin-socket "$TM_SOCK_B" --steer \
		--ktls off --handshake-timeout 2s --grace 1s --log-level info "$@"
	TM_PID_B=$TP_BG_PID
	tp_wait_port node2 15008 10 && _tm_wait_sock "$TM_SOCK_B" ||
		{ tm_dump_logs; tp_fail "sluiced on node2 did not start"; }
}

tm_stop_a() {
	local rc=0
	kill -TERM "$TM_PID_A"
	wait "$TM_PID_A" || rc=$?
	[ $rc = 0 ] || { tm_dump_logs; tp_fail "sluiced on node1 exited with $rc"; }
}

tm_stop() {
	local rc=0
	tm_stop_a
	kill -TERM "$TM_PID_B"
	wait "$TM_PID_B" || rc=$?
	[ $rc = 0 ] || { tm_dump_logs; tp_fail "sluiced on node2 exited with $rc"; }
}

tm_admin() { # sock command
	echo "$2" | socat -t 5 - "UNIX-CONNECT:$1"
}

tm_stat() { # sock key: from "stats", else from "status"
	local v
	v=$(tm_admin "$1" stats | grep -o "\"$2\":-\?[0-9]*" | head -1 | cut -d: -f2)
	if [ -z "$v" ]; then
		v=$(tm_admin "$1" status |
			grep -o "\"$2\":\(-\?[0-9]*\|\"\([^\"\\]\|\\\\.\)*\"\|true\|false\)" |
			head -1 | cut -d: -f2- | sed 's/^"//; s/"$//; s/\\"/"/g')
	fi
	echo "$v"
}

tm_expect() { # sock key min what
	local v
	v=$(tm_stat "$1" "$2")
	[ -n "$v" ] && [ "$v" -ge "$3" ] || {
		tm_admin "$1" stats; tm_admin "$1" status
		tm_dump_logs
		tp_fail "$4: counter $2 is '${v}', expected >= $3"
	}
}

tm_line() { # pod ip port
	tp_connect "$1" "$2" "$3" 3
}

tm_we_sa() { # name ns sa ip node labels
	cat <<EOT
---
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: $1
  namespace: $2
spec:
  address: $4
  serviceAccount: $3
  labels: {$6, kubernetes.io/hostname: $5}
EOT
}

tm_policy() { # content nodes
	local n d sock pid i ok
	local -A gen=()
	for n in $2; do
		sock=TM_SOCK_${n^^}
		gen[$n]=$(tm_stat "${!sock}" config_generation)
	done
	for n in $2; do
		d=TM_CFG_${n^^}
		if [ -n "$1" ]; then
			printf '%s\n' "$1" >"${!d}/policy.yaml.tmp"
			mv "${!d}/policy.yaml.tmp" "${!d}/policy.yaml"
		else
			rm -f "${!d}/policy.yaml"
		fi
	done
	for n in $2; do
		pid=TM_PID_${n^^}
		kill -HUP "${!pid}"
	done
	for ((i = 0; i < 100; i++)); do
		ok=1
		for n in $2; do
			sock=TM_SOCK_${n^^}
			[ "$(tm_stat "${!sock}" config_generation)" != "${gen[$n]}" ] || ok=0
		done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	tm_dump_logs
	tp_fail "node(s) $2 did not load the new policy"
}

tm_echo_server() {
	TM_SEEN=$TP_DIR/server-seen.log
	: >"$TM_SEEN"
	cat >"$TP_DIR/server.sh" <<EOT
#!/bin/sh
echo "\$SOCAT_PEERADDR \$1" >>"$TM_SEEN"
echo "hello-\$1"
sleep 0.2
EOT
	chmod +x "$TP_DIR/server.sh"
}

tm_serve() { # pod port [6]
	if [ "${3:-}" = 6 ]; then
		tp_bg "$1" "$TP_DIR/$1-$2-v6.log" socat \
			TCP6-LISTEN:"$2",ipv6only=1,fork,reuseaddr \
			EXEC:"$TP_DIR/server.sh $2"
	else
		tp_bg "$1" "$TP_DIR/$1-$2.log" socat \
			TCP-LISTEN:"$2",fork,reuseaddr EXEC:"$TP_DIR/server.sh $2"
		tp_wait_port "$1" "$2"
	fi
}
