#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# HTTP through the mesh on kernel TLS (issue 26): the HTTP engine's
# upstream legs start as ordinary outbound flows, so on a kernel with kTLS
# both nodes carry the requests on kTLS (node1's engine sends and receives
# plaintext on the kTLS socket, node2 splices), elsewhere on userspace TLS.
# Small on purpose: tests/vm/suite.list runs it in the kTLS VM
# (SL_REQUIRE_KTLS=1 there: kTLS must be used), where everything is
# emulated and slow.  The host runs the same script on userspace TLS.
#
#   node1: pod11, the client; node2: pod21 my-service v1, pod22 v2,
#   pod23 "flaky" (its first request fails with 503)
#  1. x-canary: true: 10 requests, all answered by v2
#  2. 200 requests on one keep-alive connection: v2's share within the
#     binomial 3-sigma bound of 10 % (20 +- 12.7)
#  3. request bodies of 1 MiB (Content-Length and chunked) reach v1 whole
#  4. a retry (retries {attempts: 2, retryOn: 5xx}): 200, 2 requests upstream
#  5. node1's legs are its mesh sockets (no socketpair to a relay)
#  6. with kTLS: both nodes carried the requests on kTLS, no install failure
#  7. both daemons stop with exit 0
#
# usage: http-ktls.sh SLUICED SLUICE NFT_TOOL SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/http.sh
. "$here/lib/http.sh" "$@"
tm_init

have_ktls=0
if modprobe tls 2>/dev/null || [ -e /proc/net/tls_stat ]; then
	[ -e /proc/net/tls_stat ] && have_ktls=1
fi
if [ "${SL_REQUIRE_KTLS:-0}" = 1 ] && [ $have_ktls = 0 ]; then
	tp_fail "SL_REQUIRE_KTLS=1 but this kernel has no kTLS (/proc/net/tls_stat)"
fi
kt=off
[ $have_ktls = 1 ] && kt=on
note "kTLS: $kt"

p11=$(tp_pod_ip pod11) p21=$(tp_pod_ip pod21) p22=$(tp_pod_ip pod22)
tp_add_pod 2 pod23 13
p23=198.18.2.13
vip=198.19.0.30 fvip=198.19.0.31

mkcfg() { # dir node
	tm_node_yaml "$1" "$2"
	{
		tm_we pod11 "$p11" node-a "app: client"
		tm_we pod21 "$p21" node-b "app: my-service, version: v1"
		tm_we pod22 "$p22" node-b "app: my-service, version: v2"
		tm_we pod23 "$p23" node-b "app: flaky"
		cat <<EOT
---
apiVersion: v1
kind: Service
metadata: {name: my-service, namespace: default}
spec:
  clusterIP: $vip
  selector: {app: my-service}
  ports: [{name: http, port: 80, targetPort: 8000}]
---
apiVersion: v1
kind: Service
metadata: {name: flaky, namespace: default}
spec:
  clusterIP: $fvip
  selector: {app: flaky}
  ports: [{name: http-flaky, port: 80, targetPort: 8000}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: my-service}
spec:
  host: my-service
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: my-service}
spec:
  hosts: [my-service]
  http:
  - match: [{headers: {x-canary: {exact: "true"}}}]
    route: [{destination: {host: my-service, subset: v2}}]
  - route:
    - destination: {host: my-service, subset: v1}
      weight: 90
    - destination: {host: my-service, subset: v2}
      weight: 10
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: flaky}
spec:
  hosts: [flaky]
  http:
  - route: [{destination: {host: flaky}}]
    retries: {attempts: 2, retryOn: 5xx}
EOT
	} >"$1/mesh.yaml"
}
mkcfg "$TM_CFG_A" node-a
mkcfg "$TM_CFG_B" node-b

tp_exec node1 "$NFT_TOOL" apply "$p11" >/dev/null
L1=$TP_DIR/up-v1.log L3=$TP_DIR/up-flaky.log
: >"$L1"; : >"$L3"
tp_bg pod21 "$TP_DIR/pod21.out" "$py" "$UP" --port 8000 --name v1 --log "$L1"
tp_bg pod22 "$TP_DIR/pod22.out" "$py" "$UP" --port 8000 --name v2
tp_bg pod23 "$TP_DIR/pod23.out" "$py" "$UP" --port 8000 --name flaky --log "$L3" --fail-first 1
for p in pod21 pod22 pod23; do tp_wait_port "$p" 8000 20; done
# the VM's TCG is slow: generous handshake deadlines
tm_start_b --ktls "$kt" --handshake-timeout 8s --hello-timeout 3s
tm_start_a --ktls "$kt" --handshake-timeout 8s --log-level info

req() { # curl args: prints "CODE BODY"
	local out
	out=$(tp_exec pod11 curl -sS --max-time 20 -o - -w '\n%{http_code}' "$@" 2>&1) || true
	echo "$(tail -1 <<<"$out") $(head -n -1 <<<"$out" | tr '\n' ' ' | sed 's/ *$//')"
}
for ((i = 0; i < 100; i++)); do
	[ "$(req "http://$vip/" | cut -d' ' -f1)" = 200 ] && break
	sleep 0.2
done

# 1. the header route
n2=0
for ((i = 0; i < 10; i++)); do
	[ "$(req -H 'x-canary: true' "http://$vip/c/$i")" = "200 v2" ] && n2=$((n2 + 1))
done
[ $n2 = 10 ] || { tm_dump_logs; tp_fail "x-canary: true: $n2 of 10 answered by v2"; }
ok "x-canary: true: 10 of 10 answered by v2"

# 2. the split per request
out=$(tp_exec pod11 "$py" "$CL" --timeout 30 keepalive "$vip" 80 200 --path /split) ||
	tp_fail "keep-alive run failed: $out"
# (no process substitution: the VM's minimal root has no /dev/fd)
read -r v1 v2 <<<"$("$py" -c '
import json, sys
b = json.loads(sys.argv[1])["bodies"]
print(b.get("v1", 0), b.get("v2", 0))' "$out")"
[ $((v1 + v2)) = 200 ] && [ "$v2" -ge 8 ] && [ "$v2" -le 32 ] ||
	tp_fail "200 requests: v1 $v1, v2 $v2 (want v2 in 8..32)"
ok "200 requests on one connection: v1 $v1, v2 $v2 (bound 8..32)"

# 3. bodies (only v1 logs; a request routed to v2, 10 %, is sent again)
head -c 1048576 /dev/urandom >"$TP_DIR/body"
got() { # target: did v1 log it with the whole body?
	"$py" -c '
import json, sys
sys.exit(not any(json.loads(l).get("target") == sys.argv[2] and
                 json.loads(l).get("body_len") == 1048576 for l in open(sys.argv[1])))' "$L1" "$1"
}
r1= r2=
for ((i = 0; i < 20; i++)); do
	got /up-cl || r1=$(req --data-binary "@$TP_DIR/body" "http://$vip/up-cl")
	got /up-chunked || r2=$(req -H 'Transfer-Encoding: chunked' --data-binary "@$TP_DIR/body" "http://$vip/up-chunked")
	got /up-cl && got /up-chunked && break
done
got /up-cl && got /up-chunked ||
	tp_fail "1 MiB bodies did not reach v1 whole ($r1; $r2)"
ok "1 MiB request bodies (Content-Length, chunked) reached v1 whole"

# 4. a retry
r=$(req "http://$fvip/retry")
[ "$r" = "200 flaky" ] && [ "$(wc -l <"$L3")" = 2 ] ||
	tp_fail "retry: want '200 flaky' and 2 requests upstream, got '$r', $(wc -l <"$L3")"
ok "retry: 200 after a 503, 2 requests upstream"

# 5. node1's upstream legs are the mesh sockets themselves (stream.c), not
# a socketpair to a relay: after the requests above its idle legs are
# open, and sluiced on node1 holds no connected unix stream socket (the
# socketpair legs held two each).  Only /proc: the VM's root is minimal.
unix_pairs() { # pid: connected unix stream sockets among its descriptors
	local pid=$1 n=0 fd ino
	declare -A conn=()
	while read -r _ _ _ _ type st ino _; do
		[ "$type" = 0001 ] && [ "$st" = 03 ] && conn[$ino]=1
	done <"/proc/$pid/net/unix"
	for fd in /proc/"$pid"/fd/*; do
		ino=$(readlink "$fd" 2>/dev/null) || continue
		case $ino in socket:\[*\]) ino=${ino#socket:[}; ino=${ino%]} ;; *) continue ;; esac
		[ -n "${conn[$ino]:-}" ] && n=$((n + 1))
	done
	echo "$n"
}
pairs=$(unix_pairs "$TM_PID_A")
[ "$pairs" = 0 ] || tp_fail "node1's sluiced holds $pairs connected unix stream sockets (socketpair legs?)"
ok "node1's upstream legs are its mesh sockets: no socketpair in sluiced"
# what those legs carried is counted as the L4 relay counts its flows: at
# least the two 1 MiB uploads up, the answers down
up=$(tm_stat "$TM_SOCK_A" bytes_pod_to_mesh)
down=$(tm_stat "$TM_SOCK_A" bytes_mesh_to_pod)
[ "$up" -ge $((2 * 1048576)) ] && [ "$down" -gt 0 ] ||
	{ tm_admin "$TM_SOCK_A" stats; tp_fail "node1 counted $up bytes up and $down down over its upstream legs (want >= 2 MiB up, > 0 down)"; }
ok "node1 counts what its upstream legs carried: $up bytes up, $down down"

# 6. on kTLS
if [ "$kt" = on ]; then
	for s in "$TM_SOCK_A" "$TM_SOCK_B"; do
		[ "$(tm_stat "$s" flows_ktls)" -ge 1 ] ||
			{ tm_admin "$s" stats; tp_fail "no flow on kTLS ($s)"; }
		[ "$(tm_stat "$s" ktls_install_failed)" = 0 ] ||
			tp_fail "kTLS install failures ($s)"
	done
	ok "both nodes carried the requests on kTLS: $(tm_stat "$TM_SOCK_A" flows_ktls) and $(tm_stat "$TM_SOCK_B" flows_ktls) flows"
fi

tm_stop
ok "both daemons stopped cleanly"
