#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Steering end to end in the two-node topology (tests/netns/lib):
#  1. nft-tool apply in a node namespace creates the table (+ policy routes)
#  2. pod -> remote pod TCP is REDIRECTed to the node's outbound port with
#     SO_ORIGINAL_DST = remote pod; TCP to a local pod on 15008 is TPROXY'd
#     (getsockname = pod:15008); plaintext to a STRICT pod is dropped
#     (counter), to a PERMISSIVE pod TPROXY'd to 15006
#  6. the same over IPv6
#  4. apply twice / apply after kill -9 leaves exactly one correct table
#  5. "nft flush table" is detected by check; apply restores it
# usage: nft-steer.sh NFT_TOOL SL_LISTEN
set -euo pipefail
# never "cmd | grep -q": grep exits early, cmd gets SIGPIPE and pipefail
# turns a match into a failure; grep >/dev/null reads everything
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"

tool=${1:?nft-tool path}
listen=${2:?sl-listen path}
T=sltest$$

tp_require_root
tp_setup

ok() { echo "ok - $*"; }

n1() { tp_exec node1 "$@"; }
n2() { tp_exec node2 "$@"; }
nft_tool() { local node=$1; shift; tp_exec "$node" "$tool" -t "$T" "$@"; }
tables() { tp_exec "$1" nft list tables | grep -c "^table inet $T\$" || true; }
counter() { # node name -> packets
	tp_exec "$1" nft list counter inet "$T" "$2" |
		sed -n 's/.*packets \([0-9]*\) bytes.*/\1/p'
}

p11=$(tp_pod_ip pod11) p12=$(tp_pod_ip pod12)
p21=$(tp_pod_ip pod21) p22=$(tp_pod_ip pod22)
p11_6=$(tp_pod_ip pod11 6) p12_6=$(tp_pod_ip pod12 6)
p21_6=$(tp_pod_ip pod21 6) p22_6=$(tp_pod_ip pod22 6)

# sanity: the plain topology routes pod to pod on both families
tp_bg pod21 "$TP_DIR/pod21.log" "$listen" -6 8080
tp_wait_port pod21 8080
line=$(tp_connect pod11 "$p21" 8080) || tp_fail "pod11 -> pod21 without steering"
[[ $line == "local=$p21:8080 "* ]] || tp_fail "unexpected: $line"
line=$(tp_connect pod11 "$p21_6" 8080) || tp_fail "pod11 -> pod21 v6 without steering"
[[ $line == "local=[$p21_6]:8080 "* ]] || tp_fail "unexpected: $line"
ok "topology routes pods across nodes (v4+v6)"

# 1. apply on both nodes; pod12/pod22 are PERMISSIVE
nft_tool node1 apply "$p11" "$p12=permissive" "$p11_6" "$p12_6=permissive"
nft_tool node2 apply "$p21" "$p22=permissive" "$p21_6" "$p22_6=permissive"
[ "$(tables node1)" = 1 ] || tp_fail "table missing on node1"
n1 nft list set inet "$T" pods4 | grep "$p12" >/dev/null || tp_fail "pods4 lacks $p12"
n1 nft list set inet "$T" permissive6 | grep "$p12_6" >/dev/null || tp_fail "permissive6 lacks $p12_6"
n1 nft list chain inet "$T" outbound | grep 'redirect to :15001' >/dev/null || tp_fail "no redirect rule"
n1 ip rule list | grep 'fwmark 0x5100 lookup 151' >/dev/null || tp_fail "no v4 fwmark rule"
n1 ip -6 rule list | grep 'fwmark 0x5100 lookup 151' >/dev/null || tp_fail "no v6 fwmark rule"
n1 ip route show table 151 | grep '^local default dev lo' >/dev/null || tp_fail "no v4 local route"
n1 ip -6 route show table 151 | grep '^local default dev lo' >/dev/null || tp_fail "no v6 local route"
nft_tool node1 apply "$p11" "$p12=permissive" "$p11_6" "$p12_6=permissive" # idempotent routes
[ "$(n1 ip rule list | grep -c 'fwmark 0x5100')" = 1 ] || tp_fail "duplicate ip rule"
ok "apply creates table, sets and policy routing (idempotent)"

# 2./6. listeners on the nodes: outbound (REDIRECT), inbound (TPROXY)
tp_bg node1 "$TP_DIR/out1.log" "$listen" -6 15001
tp_bg node2 "$TP_DIR/in2.log" "$listen" -6 -T 15008
tp_bg node2 "$TP_DIR/plain2.log" "$listen" -6 -T 15006
tp_wait_port node1 15001
tp_wait_port node2 15008
tp_wait_port node2 15006

for fam in 4 6; do
	if [ $fam = 4 ]; then dst=$p21 dst2=$p22 src=$p11 fmt="$p21:8080"; else
		dst=$p21_6 dst2=$p22_6 src=$p11_6 fmt="[$p21_6]:8080"; fi
	before=$(counter node1 outbound_redirect)
	line=$(tp_connect pod11 "$dst" 8080) || tp_fail "v$fam outbound connect"
	[[ $line == *" orig=$fmt "* ]] || tp_fail "v$fam outbound: want orig=$fmt: $line"
	[[ $line == *":15001 "* ]] || tp_fail "v$fam outbound: not at :15001: $line"
	[ "$(counter node1 outbound_redirect)" -gt "$before" ] || tp_fail "outbound counter"
	ok "v$fam pod -> remote pod is redirected to :15001 with SO_ORIGINAL_DST $fmt"

	# mTLS port of a remote pod: node1 does not steer it (excluded port),
	# node2 TPROXYs it to its inbound listener, local address kept
	if [ $fam = 4 ]; then want="local=$dst:15008 "; else want="local=[$dst]:15008 "; fi
	line=$(tp_connect pod11 "$dst" 15008) || tp_fail "v$fam inbound connect"
	[[ $line == "$want"* ]] || tp_fail "v$fam inbound: want $want: $line"
	[[ $line == *"peer=$src:"* || $line == *"peer=[$src]:"* ]] || tp_fail "v$fam inbound peer: $line"
	ok "v$fam :15008 to a local pod is TPROXY'd, getsockname = pod:15008"

	# plaintext from node1 itself (not a steered pod) to a STRICT pod
	before=$(counter node2 plain_strict_drop)
	if tp_connect node1 "$dst" 8080 2; then tp_fail "v$fam plaintext to STRICT pod got through"; fi
	[ "$(counter node2 plain_strict_drop)" -gt "$before" ] || tp_fail "strict drop counter"
	ok "v$fam plaintext to a STRICT pod is dropped and counted"

	if [ $fam = 4 ]; then want="local=$dst2:8080 "; else want="local=[$dst2]:8080 "; fi
	line=$(tp_connect node1 "$dst2" 8080) || tp_fail "v$fam plaintext to PERMISSIVE pod"
	[[ $line == "$want"* ]] || tp_fail "v$fam permissive: want $want: $line"
	grep -qF "$want" "$TP_DIR/plain2.log" || tp_fail "v$fam: :15006 listener did not see it"
	ok "v$fam plaintext to a PERMISSIVE pod is TPROXY'd to :15006"
done

# sluiced delivers to a local pod from a transparent socket bound to the
# remote client's address; the pod's replies must come back to it instead
# of being forwarded towards the real client
for fam in 4 6; do
	if [ $fam = 4 ]; then src=$p11 dst=$p21 peer="peer=$p11:"; else
		src=$p11_6 dst=$p21_6 peer="peer=[$p11_6]:"; fi
	line=$(n2 "$listen" -c "$src" "$dst" 8080) || tp_fail "v$fam spoofed-source delivery"
	[[ $line == *"$peer"* ]] || tp_fail "v$fam spoofed source not seen by the pod: $line"
	ok "v$fam transparent delivery to a local pod with the client's source address"
done

# switching a pod to PERMISSIVE and back, incrementally
nft_tool node2 pod-add "$p21" permissive
line=$(tp_connect node1 "$p21" 8080) || tp_fail "pod-add permissive"
[[ $line == "local=$p21:8080 "* ]] || tp_fail "pod-add permissive: $line"
nft_tool node2 pod-add "$p21" strict
if tp_connect node1 "$p21" 8080 2; then tp_fail "back to strict failed"; fi
ok "pod-add switches PERMISSIVE <-> STRICT in place"

# 4. crash and restart: a kill -9 after apply, then a new apply
tp_bg node1 "$TP_DIR/crash.log" "$tool" -t "$T" apply "$p11" + sleep 60
crash_pid=$TP_BG_PID
for _ in $(seq 50); do n1 nft list set inet "$T" pods4 | grep "$p12" >/dev/null || break; sleep 0.1; done
n1 nft list set inet "$T" pods4 | grep "$p12" >/dev/null && tp_fail "crash run did not apply"
kill -9 "$crash_pid"
nft_tool node1 apply "$p11" "$p12=permissive" "$p11_6" "$p12_6=permissive" + apply "$p11" "$p12=permissive" "$p11_6" "$p12_6=permissive" + check
[ "$(tables node1)" = 1 ] || tp_fail "not exactly one table after re-apply"
[ "$(n1 nft list chain inet "$T" outbound | grep -c 'redirect to :15001')" = 2 ] ||
	tp_fail "rules duplicated or missing after re-apply"
n1 nft list set inet "$T" pods4 | grep "$p12" >/dev/null || tp_fail "pods not restored"
line=$(tp_connect pod11 "$p21" 8080) || tp_fail "steering after restart"
[[ $line == *" orig=$p21:8080 "* ]] || tp_fail "steering after restart: $line"
ok "apply after kill -9 leaves exactly one correct table"

# 5. external flush is detected, re-apply restores
set +e
nft_tool node1 apply "$p11" "$p12=permissive" + check + sh "nft flush table inet $T" + check
rc=$?
set -e
[ $rc = 3 ] || tp_fail "check after flush: exit $rc, want 3"
set +e
nft_tool node1 apply "$p11" + sh "nft delete rule inet $T plaintext handle \$(nft -a list chain inet $T plaintext | sed -n 's/.*drop # handle //p' | head -1)" + check
rc=$?
nft_tool node1 apply "$p11" + sh "nft delete table inet $T" + check
rc2=$?
set -e
[ $rc = 3 ] || tp_fail "check after deleting one rule: exit $rc, want 3"
[ $rc2 = 4 ] || tp_fail "check after deleting the table: exit $rc2, want 4"
nft_tool node1 apply "$p11" "$p12=permissive" "$p11_6" "$p12_6=permissive" + pod-add 198.18.1.99 + pod-del "$p12" + check
[ "$(n1 nft list chain inet "$T" plaintext | grep -c drop)" = 2 ] || tp_fail "not restored"
ok "flush/rule delete/table delete are detected; apply restores; pod changes are not tampering"

# remove: table and policy routing gone, idempotent
nft_tool node1 remove + remove
[ "$(tables node1)" = 0 ] || tp_fail "table left after remove"
n1 ip rule list | grep 'fwmark 0x5100' >/dev/null && tp_fail "ip rule left after remove"
n1 ip -6 route show table 151 | grep . >/dev/null && tp_fail "v6 route left after remove"
# node1 no longer redirects; node2 still TPROXYs plaintext to PERMISSIVE pod22
line=$(tp_connect pod11 "$p22" 8080) || tp_fail "pod11 -> pod22 after remove"
[[ $line == "local=$p22:8080 "* ]] || tp_fail "after remove still redirected: $line"
ok "remove deletes table and policy routing (idempotent)"
echo "PASS"
