#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Certificate rotation end to end (issue 6), two nodes (tests/netns/lib),
# built-in CA with 20 s leaf lifetimes (sluiced --cert-lifetime 20s).  The
# CA backdates notBefore by 300 s and the certstore renews at half of
# notBefore..notAfter (+ jitter), so leaves this short are due at once:
# every new flow gets a fresh leaf (handshake/certstore.c, test_certstore.c).
#  1. a first flow mints the leaves of pod11 (node1) and pod21 (node2);
#     the serials are read from "sluice certs -o json"
#  2. a slow stream (1.75 MiB in 64 KiB chunks, one a second, ~28 s) from
#     pod11 to an echo server on pod21 starts
#  3. at 14 s a new flow renews both leaves: new serials on both nodes
#  4. the slow stream outlives its leaves (20 s) and comes back byte-exact
#  5. a flow after the old leaves expired works (new leaves)
#  6. CA rotation: both nodes trust the old and the new root (trustBundle);
#     node2's CA directory is switched to the new CA + SIGHUP; its next
#     leaf comes from the new CA and flows from node1 (old CA) keep
#     working; control: node1 with only the old root (bundle rewritten +
#     SIGHUP) refuses it, with the bundle restored flows work again
#
# usage: rotation.sh SLUICED SLUICE NFT_TOOL SL_TCP
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

command -v python3 >/dev/null || tp_skip "python3 not installed"
tm_init
p11=$(tp_pod_ip pod11) p21=$(tp_pod_ip pod21)

# CA rotation: node2 signs with its own copy of the CA (ca-b), switched to
# a new CA later; both nodes trust the old and the new root (bundle.pem)
"$SLUICE" ca init "$TP_DIR/ca-new" --trust-domain "$TM_TD" >/dev/null
cp -r "$TM_CA" "$TP_DIR/ca-b"
cat "$TM_CA/ca.crt" "$TP_DIR/ca-new/ca.crt" >"$TP_DIR/bundle.pem"
for n in a b; do
	d=$TP_DIR/cfg-$n
	tm_node_yaml "$d" "node-$n"
	echo "  trustBundle: $TP_DIR/bundle.pem" >>"$d/node.yaml"
	{
		tm_we pod11 "$p11" node-a "app: client"
		tm_we pod21 "$p21" node-b "app: echo"
	} >"$d/workloads.yaml"
done
sed -i "s|caDir: .*|caDir: $TP_DIR/ca-b|" "$TP_DIR/cfg-b/node.yaml"

tp_exec node1 "$NFT_TOOL" apply "$p11"
tp_bg pod21 "$TP_DIR/pod21.log" "$SL_TCP" serve 7020 echo
tp_wait_port pod21 7020
tm_start_b --cert-lifetime 20s
tm_start_a --cert-lifetime 20s
for ((i = 0; i < 50; i++)); do
	tp_exec node2 nft list set inet sluice pods4 2>/dev/null | grep -q "$p21" && break
	sleep 0.1
done

certfield() { # node sock spiffe-id field
	tp_exec "$1" "$SLUICE" -s "$2" -o json certs |
		python3 -c 'import json,sys
o = json.load(sys.stdin)
c = [c for c in o["certs"] if c["spiffe_id"] == sys.argv[1]]
print(c[0][sys.argv[2]] if c else "")' "$3" "$4"
}
serial() { # node sock spiffe-id
	certfield "$1" "$2" "$3" serial
}

check_flow() { # what
	tp_exec pod11 "$SL_TCP" echo-check "$p21" 7020 100000 >/dev/null ||
		{ tm_dump_logs; tp_fail "$1: echo-check failed"; }
}

ida=spiffe://cluster.local/ns/default/sa/pod11
idb=spiffe://cluster.local/ns/default/sa/pod21

# ---- 1 ---------------------------------------------------------------------------------
check_flow "first flow"
t0=$(date +%s)
sa1=$(serial node1 "$TM_SOCK_A" "$ida")
sb1=$(serial node2 "$TM_SOCK_B" "$idb")
[ -n "$sa1" ] && [ -n "$sb1" ] || tp_fail "no serials after the first flow ('$sa1' '$sb1')"
[ "$(serial node1 "$TM_SOCK_A" "$ida")" = "$sa1" ] || tp_fail "listing the certificates renewed them"
for left in "$(certfield node1 "$TM_SOCK_A" "$ida" expires_in_s)" \
	"$(certfield node2 "$TM_SOCK_B" "$idb" expires_in_s)"; do
	[ "$left" -ge 1 ] && [ "$left" -le 20 ] ||
		tp_fail "leaf expires in '$left' s, expected <= 20 (--cert-lifetime 20s)"
done
ok "first flow: serials $sa1 (pod11) and $sb1 (pod21)"

# ---- 2. the slow stream ------------------------------------------------------------------
head -c $((28 * 65536)) /dev/urandom >"$TP_DIR/slow.in"
(
	for ((i = 0; i < 28; i++)); do
		dd if="$TP_DIR/slow.in" bs=65536 skip=$i count=1 status=none
		sleep 1
	done
) | tp_exec pod11 socat -t 15 - "TCP:$p21:7020" >"$TP_DIR/slow.out" &
slow=$!

# ---- 3. renewal by a new flow ---------------------------------------------------------
while [ $(($(date +%s) - t0)) -lt 14 ]; do sleep 0.5; done
check_flow "flow at 14 s"
sa2=$(serial node1 "$TM_SOCK_A" "$ida")
sb2=$(serial node2 "$TM_SOCK_B" "$idb")
[ -n "$sa2" ] && [ "$sa2" != "$sa1" ] || { tm_dump_logs; tp_fail "pod11 not renewed: $sa1 -> '$sa2'"; }
[ -n "$sb2" ] && [ "$sb2" != "$sb1" ] || { tm_dump_logs; tp_fail "pod21 not renewed: $sb1 -> '$sb2'"; }
ok "a new flow renewed both leaves: $sa1 -> $sa2, $sb1 -> $sb2"

# ---- 4. the slow stream completes --------------------------------------------------------
rc=0
wait $slow || rc=$?
elapsed=$(($(date +%s) - t0))
[ $rc = 0 ] || { tm_dump_logs; tp_fail "the slow stream failed ($rc)"; }
cmp -s "$TP_DIR/slow.in" "$TP_DIR/slow.out" || {
	ls -l "$TP_DIR/slow.in" "$TP_DIR/slow.out"; tm_dump_logs
	tp_fail "the slow stream did not come back byte-exact"
}
[ "$elapsed" -ge 22 ] || tp_fail "the slow stream ended after ${elapsed}s, before the first leaves expired"
ok "a $(stat -c %s "$TP_DIR/slow.in")-byte slow stream across the renewal came back byte-exact (${elapsed}s)"

# ---- 5. after the old leaves expired ---------------------------------------------------
check_flow "flow after the old leaves expired"
[ "$(tm_stat "$TM_SOCK_B" handshakes_failed)" = 0 ] || { tm_dump_logs; tp_fail "failed handshakes on node2"; }
[ "$(tm_stat "$TM_SOCK_A" handshakes_failed)" = 0 ] || { tm_dump_logs; tp_fail "failed handshakes on node1"; }
ok "a new flow after the first leaves expired works"

# ---- 6. CA rotation: node2 switches to the new CA ------------------------------------------
cp "$TP_DIR/ca-new/ca.key" "$TP_DIR/ca-b/ca.key.tmp"
cp "$TP_DIR/ca-new/ca.crt" "$TP_DIR/ca-b/ca.crt.tmp"
mv "$TP_DIR/ca-b/ca.key.tmp" "$TP_DIR/ca-b/ca.key"
mv "$TP_DIR/ca-b/ca.crt.tmp" "$TP_DIR/ca-b/ca.crt"
kill -HUP "$TM_PID_B"
sleep 1
# the next renewal of pod21's leaf is signed by the new CA; node1 (still on
# the old CA) keeps talking to it
sb3=$(serial node2 "$TM_SOCK_B" "$idb")
for ((i = 0; i < 30; i++)); do
	check_flow "flow during the CA switch"
	[ "$(serial node2 "$TM_SOCK_B" "$idb")" != "$sb3" ] && break
	sleep 1
done
sb4=$(serial node2 "$TM_SOCK_B" "$idb")
[ "$sb4" != "$sb3" ] || { tm_dump_logs; tp_fail "pod21 not renewed after the CA switch"; }
check_flow "flow between the old-CA node and the new-CA node"
check_flow "flow between the old-CA node and the new-CA node"
ok "node2 switched to the new CA (pod21 leaf $sb4): flows from node1 (old CA) keep working"

# control: node1 trusting only the old root refuses node2's new leaf, so
# the leaf really comes from the new CA and the bundle is what carries it
cp "$TM_CA/ca.crt" "$TP_DIR/bundle.pem.tmp"
mv "$TP_DIR/bundle.pem.tmp" "$TP_DIR/bundle.pem"
kill -HUP "$TM_PID_A"
sleep 1
f0=$(tm_stat "$TM_SOCK_A" handshakes_failed)
if tp_exec pod11 "$SL_TCP" echo-check "$p21" 7020 1000 >/dev/null 2>&1; then
	tm_dump_logs; tp_fail "node1 without the new root accepted node2's new leaf"
fi
f1=$(tm_stat "$TM_SOCK_A" handshakes_failed)
[ "$f1" -gt "$f0" ] || { tm_dump_logs; tp_fail "no failed handshake counted on node1 ($f0 -> $f1)"; }
cat "$TM_CA/ca.crt" "$TP_DIR/ca-new/ca.crt" >"$TP_DIR/bundle.pem.tmp"
mv "$TP_DIR/bundle.pem.tmp" "$TP_DIR/bundle.pem"
kill -HUP "$TM_PID_A"
sleep 1
check_flow "flow after the new root is back in node1's bundle"
ok "control: node1 without the new root refuses the new leaf; with it back (SIGHUP) flows work"

tm_stop
echo "PASS"
