#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Pool of ready mTLS connections (issue 8, daemon/flow/pool.h), two nodes
# (tests/netns/lib), pod11 on node1 -> pod21 on node2.  node1 runs one
# worker (pools are per worker: with one, every flow meets the same pool).
# Kernel TLS on both nodes when available (required with SL_REQUIRE_KTLS=1:
# in the VM, tests/vm/suite.list runs this through pool-vm).
#  1. a first flow misses and fills the pool; then 5 flows, each started
#     once an entry is ready, are all hits: pool_hits +5, and no handshake
#     on the flows' path (handshakes_ok - pool_handshakes unchanged); an
#     entry older than node2's --handshake-timeout (2 s) is still served
#     (node2 waits --preamble-timeout after the handshake); refills get a
#     session ticket each and resume the key's last session (both nodes
#     count handshakes_resumed)
#  2. the data of a pooled flow is still mTLS: tcpdump on the node link
#     sees no plaintext marker and sees TLS application records
#  3. node2's sluiced restarts: it closes the pooled connections waiting
#     for a preamble at once (no grace-period cut), node1 drops them
#     (pool_dropped rises) and the next flow still works
#  3b. node1 stops while a refill is in its handshake (node2 held with
#     SIGSTOP): the refill finishes (node2 completes it), is closed unused,
#     node2 counts no failed handshake; the flow in flight still completes
#  3c. node2 stops while a client holds its Finished (tools/hs-hold.py):
#     the handshake completes during the stop, no preamble follows, node2
#     closes it after SL_STOP_PREAMBLE_WAIT_NS (1 s) and exits well within
#     its 10 s grace period
#  4. rotation: node1 with --cert-lifetime 40s (renewed 20-24 s after
#     issue) and --pool-idle-timeout 60s: a flow once the leaf is due gets
#     a new serial, misses (the pooled entries were made with the old
#     leaf: dropped) and works
#  5. --pool-idle-timeout 1s: unused entries expire, node2 closes them
#     without a preamble error; --pool-size 0: no pool counters move,
#     every flow handshakes
#  5b. --pool-refill-delay 2s --pool-max 5: 10 flows one after another make
#     the key busy, its target grows past --pool-size 2 (4 or 5 ready),
#     never above --pool-max 5
#  5c. node2 with --tls-resumption off: no ticket, nothing resumed, the
#     pool still serves every flow (section 1 checks that refills resume)
#  6. both daemons stop with exit 0 (ASan: no leaks)
#
# usage: pool.sh SLUICED SLUICE NFT_TOOL SL_TCP
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
command -v tcpdump >/dev/null || tp_skip "tcpdump not installed"
tm_init
p11=$(tp_pod_ip pod11) p21=$(tp_pod_ip pod21)

# kernel TLS on both nodes when the kernel has it (required in the VM:
# kTLS is installed on a connection whose handshake was done by the pool)
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
for n in a b; do
	tm_node_yaml "$TP_DIR/cfg-$n" "node-$n"
	{
		tm_we pod11 "$p11" node-a "app: client"
		tm_we pod21 "$p21" node-b "app: echo"
	} >"$TP_DIR/cfg-$n/workloads.yaml"
done
tp_exec node1 "$NFT_TOOL" apply "$p11"
tp_bg pod21 "$TP_DIR/pod21.log" "$SL_TCP" serve 7020 echo
tp_wait_port pod21 7020

wait_pods4() {
	local i
	for ((i = 0; i < 50; i++)); do
		tp_exec node2 nft list set inet sluice pods4 2>/dev/null | grep -q "$p21" && return 0
		sleep 0.1
	done
	tp_fail "node2's steering table lacks $p21"
}

flow() { # what [bytes [marker]]
	tp_exec pod11 timeout 30 "$SL_TCP" echo-check "$p21" 7020 "${2:-10000}" ${3:+"$3"} >/dev/null ||
		{ tm_dump_logs; tp_fail "$1: echo-check failed"; }
}

st() { tm_stat "$TM_SOCK_A" "$1"; }
path_hs() { # handshakes on the flows' path, from one snapshot
	tm_admin "$TM_SOCK_A" stats |
		python3 -c 'import json,sys
o = json.load(sys.stdin)
print(o["handshakes_ok"] - o["pool_handshakes"])'
}

wait_ready() { # min: node1 has at least min ready pooled connections
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(st pool_ready)" -ge "$1" ] && return 0
		sleep 0.1
	done
	tm_admin "$TM_SOCK_A" stats
	tm_dump_logs
	tp_fail "node1's pool did not reach $1 ready connections"
}

serial() { # spiffe-id on node1
	tp_exec node1 "$SLUICE" -s "$TM_SOCK_A" -o json certs |
		python3 -c 'import json,sys
o = json.load(sys.stdin)
c = [c for c in o["certs"] if c["spiffe_id"] == sys.argv[1]]
print(c[0]["serial"] if c else "")' "$1"
}

tm_start_b --ktls $kt --preamble-timeout 120s
wait_pods4
tm_start_a --workers 1 --ktls $kt --pool-idle-timeout 60s

# ---- 1. hits ----------------------------------------------------------------
flow "first flow"
[ "$(st pool_misses)" -ge 1 ] || tp_fail "the first flow was not counted as a miss"
wait_ready 2
h0=$(st pool_hits) hs0=$(path_hs)
for ((i = 0; i < 5; i++)); do
	wait_ready 1
	flow "pooled flow $i"
done
wait_ready 2
h1=$(st pool_hits) hs1=$(path_hs)
[ "$h1" -eq $((h0 + 5)) ] || { tm_dump_logs; tp_fail "pool_hits $h0 -> $h1, expected +5"; }
[ "$hs1" -eq "$hs0" ] || { tm_dump_logs; tp_fail "handshakes on the flows' path $hs0 -> $hs1"; }
[ "$(st pool_handshakes)" -ge 6 ] || tp_fail "pool refills not counted ($(st pool_handshakes))"
[ "$(tm_stat "$TM_SOCK_B" relays_started)" -ge 6 ] || tp_fail "node2 relayed fewer than 6 flows"
if [ $kt = on ]; then
	[ "$(st flows_ktls)" -ge 6 ] || { tm_admin "$TM_SOCK_A" stats; tp_fail "node1: pooled flows not on kTLS"; }
	[ "$(st ktls_install_failed)" = 0 ] || tp_fail "node1: kTLS install failures"
	[ "$(tm_stat "$TM_SOCK_B" ktls_install_failed)" = 0 ] || tp_fail "node2: kTLS install failures"
	ok "pooled flows run on kernel TLS (node1 flows_ktls $(st flows_ktls))"
	[ "$(st pool_record_layer)" = 0 ] || tp_fail "node1: pooled sessions taken over by the record layer under kTLS"
	[ "$(tm_stat "$TM_SOCK_B" inbound_record_layer)" = 0 ] || tp_fail "node2: inbound sessions taken over by the record layer under kTLS"
else
	# userspace TLS: each pooled session is on the record layer before
	# use, and the flows relayed on it
	[ "$(st pool_record_layer)" -ge 6 ] || { tm_admin "$TM_SOCK_A" stats; tp_fail "node1: pool_record_layer $(st pool_record_layer), expected >= 6"; }
	[ "$(st flows_userspace)" -ge 6 ] || tp_fail "node1: fewer than 6 userspace relays"
	# and node2 moves each inbound session to it after the handshake
	[ "$(tm_stat "$TM_SOCK_B" inbound_record_layer)" -ge 6 ] || { tm_admin "$TM_SOCK_B" stats; tp_fail "node2: inbound_record_layer $(tm_stat "$TM_SOCK_B" inbound_record_layer), expected >= 6"; }
	ok "sessions on the record layer before use (node1 pool_record_layer $(st pool_record_layer), node2 inbound_record_layer $(tm_stat "$TM_SOCK_B" inbound_record_layer))"
fi
ok "5 flows served from the pool: pool_hits $h0 -> $h1, path handshakes stay $hs0 ($(st pool_handshakes) refill handshakes)"
# resumption (handshake/tls.h): every refill asked for a session ticket and
# read it before its connection was ready; each refill after the key's
# first ones resumed the key's last session, and node2 counted the same.
# Under kTLS the pooled flows above ran at record sequence 1 (the ticket).
[ "$(st pool_tickets)" -ge 6 ] || { tm_admin "$TM_SOCK_A" stats; tp_fail "node1: pool_tickets $(st pool_tickets), expected >= 6"; }
[ "$(st handshakes_resumed)" -ge 5 ] || { tm_admin "$TM_SOCK_A" stats; tp_fail "node1: handshakes_resumed $(st handshakes_resumed), expected >= 5"; }
[ "$(tm_stat "$TM_SOCK_B" handshakes_resumed)" -ge 5 ] || { tm_admin "$TM_SOCK_B" stats; tp_fail "node2: handshakes_resumed $(tm_stat "$TM_SOCK_B" handshakes_resumed), expected >= 5"; }
ok "refills resume TLS 1.3 sessions: node1 pool_tickets $(st pool_tickets), handshakes_resumed $(st handshakes_resumed) (node2 $(tm_stat "$TM_SOCK_B" handshakes_resumed))"

# node2 runs --handshake-timeout 2s: after the handshake its deadline is
# the preamble wait (--preamble-timeout, 120 s here; node1 keeps entries
# 60 s, so a slow VM does not expire them), so an entry older than 2 s is
# still served
sleep 3
[ "$(st pool_dropped)" = 0 ] || { tm_dump_logs; tp_fail "pooled connections closed by node2 before its preamble wait"; }
h0=$(st pool_hits)
flow "flow on a 3 s old pooled connection"
[ "$(st pool_hits)" -eq $((h0 + 1)) ] || tp_fail "the 3 s old pooled connection was not used"
ok "a pooled connection older than the peer's handshake timeout is served (preamble wait)"

# ---- 2. still mTLS on the wire --------------------------------------------------
marker=SLUICE-POOL-PLAINTEXT-MARKER-51c2
tp_bg node1 "$TP_DIR/tcpdump.log" tcpdump --immediate-mode -i nl0 -U -n -s 0 -w "$TP_DIR/link.pcap" tcp
tcpdump_pid=$TP_BG_PID
for ((i = 0; i < 50; i++)); do
	grep -q "listening on" "$TP_DIR/tcpdump.log" 2>/dev/null && break
	sleep 0.1
done
wait_ready 1
h0=$(st pool_hits)
flow "marker flow" 200000 "$marker"
[ "$(st pool_hits)" -eq $((h0 + 1)) ] || tp_fail "the marker flow was not served from the pool"
sleep 0.5
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
[ -s "$TP_DIR/link.pcap" ] || tp_fail "empty capture"
if LC_ALL=C grep -qa "$marker" "$TP_DIR/link.pcap"; then
	tp_fail "plaintext marker seen on the node link"
fi
LC_ALL=C grep -qaP '\x17\x03\x03' "$TP_DIR/link.pcap" ||
	tp_fail "no TLS application data records on the node link"
ok "a pooled flow is mTLS on the node link: no plaintext marker, TLS records present"

# ---- 3. the peer restarts --------------------------------------------------------
wait_ready 2
d0=$(st pool_dropped)
rc=0
kill -TERM "$TM_PID_B"
wait "$TM_PID_B" || rc=$?
[ $rc = 0 ] || { tm_dump_logs; tp_fail "sluiced on node2 exited with $rc"; }
mv "$TP_DIR/sluiced-b.log" "$TP_DIR/sluiced-b.1.log"
tm_start_b --ktls $kt --preamble-timeout 120s
wait_pods4
for ((i = 0; i < 100; i++)); do
	[ "$(st pool_dropped)" -ge $((d0 + 2)) ] && break
	sleep 0.1
done
d1=$(st pool_dropped)
[ "$d1" -ge $((d0 + 2)) ] || { tm_dump_logs; tp_fail "pooled connections to the restarted peer not dropped ($d0 -> $d1)"; }
# the waiting pooled connections were closed at its stop, not cut after
# the grace period
if grep -q "grace period over" "$TP_DIR/sluiced-b.1.log"; then
	tp_fail "node2's stop waited for the grace period (pooled connections)"
fi
flow "flow after the peer restarted"
ok "peer restart: pooled connections dropped ($d0 -> $d1), the next flow works"

# ---- 3b. node1 stops in the middle of a refill's handshake -----------------------
# settle first: the refills of the last flow are done
prev=-1
for ((i = 0; i < 40; i++)); do
	r=$(st pool_ready)
	[ "$r" = "$prev" ] && [ "$r" -ge 2 ] && break
	prev=$r
	sleep 0.5
done
tm_stop_a
mv "$TP_DIR/sluiced-a.log" "$TP_DIR/sluiced-a.1.log"
tm_start_a --workers 1 --ktls $kt --pool-idle-timeout 60s --grace 20s \
	--handshake-timeout 20s
flow "first flow (node1 restarted)"
wait_ready 2
sleep 0.5
est15008() { # node1's connections to the mesh port (node2's kernel accepts
	# them, into its listeners' queue, while sluiced is stopped); the
	# flow's own is half-closed at once (FIN-WAIT-2)
	tp_exec node1 ss -Htn state established state fin-wait-1 state fin-wait-2 \
		'( dport = :15008 )' | wc -l
}
hf0=$(tm_stat "$TM_SOCK_B" handshakes_failed)
ho0=$(tm_stat "$TM_SOCK_B" handshakes_ok)
e0=$(est15008)
kill -STOP "$TM_PID_B"
# a pooled flow: its use starts a refill, which node2's kernel accepts and
# whose ClientHello then waits, unread, for node2
tp_bg pod11 "$TP_DIR/flow-3b.log" timeout 60 "$SL_TCP" echo-check "$p21" 7020 10000
fpid=$TP_BG_PID
for ((i = 0; i < 100; i++)); do
	[ "$(est15008)" -gt "$e0" ] && break
	sleep 0.1
done
[ "$(est15008)" -gt "$e0" ] || {
	kill -CONT "$TM_PID_B"
	tp_exec node1 ss -tan
	tm_admin "$TM_SOCK_A" stats
	tp_fail "no refill connection reached node2 ($e0 before)"
}
sleep 1 # node1 handles the connect's completion
kill -TERM "$TM_PID_A"
sleep 1
kill -CONT "$TM_PID_B"
wait "$fpid" || { tm_dump_logs; tp_fail "the flow in flight during node1's stop failed"; }
rc=0
wait "$TM_PID_A" || rc=$?
[ $rc = 0 ] || { tm_dump_logs; tp_fail "sluiced on node1 exited with $rc"; }
grep -q "done while stopping: closed unused" "$TP_DIR/sluiced-a.log" ||
	{ tm_dump_logs; tp_fail "node1 did not finish the refill it had in flight at its stop"; }
if grep -q "grace period over" "$TP_DIR/sluiced-a.log"; then
	tp_fail "node1's stop was cut at the end of its grace period"
fi
for ((i = 0; i < 50; i++)); do
	[ "$(tm_stat "$TM_SOCK_B" flows_active)" = 0 ] && break
	sleep 0.1
done
# node2 completed the refill's handshake (cut at node1's stop, as before,
# the refill's reset reaches node2 before it has read the ClientHello
# here, so it would simply never complete) and counted no failure
hf1=$(tm_stat "$TM_SOCK_B" handshakes_failed)
ho1=$(tm_stat "$TM_SOCK_B" handshakes_ok)
[ "$hf1" = "$hf0" ] || { tm_dump_logs; tp_fail "node2 counted $((hf1 - hf0)) failed handshakes from node1's stop"; }
[ "$ho1" -gt "$ho0" ] || { tm_dump_logs; tp_fail "node2 completed no handshake after node1's stop ($ho0 -> $ho1)"; }
mv "$TP_DIR/sluiced-a.log" "$TP_DIR/sluiced-a.1b.log"
ok "node1 stopped during a refill's handshake: the refill finished (node2 handshakes_ok $ho0 -> $ho1) and was closed unused, node2 counted no failure"

# ---- 3c. node2 stops while a handshake is still to complete ------------------------
"$SLUICE" ca issue --ca "$TM_CA" --ns default --sa pod11 --trust-domain "$TM_TD" \
	--out "$TP_DIR/holder" >/dev/null
kill -TERM "$TM_PID_B"
wait "$TM_PID_B" || { tm_dump_logs; tp_fail "sluiced on node2 did not stop cleanly"; }
mv "$TP_DIR/sluiced-b.log" "$TP_DIR/sluiced-b.2.log"
# --handshake-timeout 30s: the held handshake must still be open when it
# is released (the default 2 s of tm_start_b runs out under emulation)
tm_start_b --ktls $kt --preamble-timeout 120s --grace 10s --log-level debug \
	--workers 1 --handshake-timeout 30s
wait_pods4
mkfifo "$TP_DIR/hold.fifo"
exec 7<>"$TP_DIR/hold.fifo" # read-write: this open does not wait for a reader
tp_bg node1 "$TP_DIR/hold.out" python3 "$here/tools/hs-hold.py" "$p21" 15008 \
	"$TP_DIR/holder.crt" "$TP_DIR/holder.key" "$TM_CA/ca.crt" "$TP_DIR/hold.fifo"
hpid=$TP_BG_PID
for ((i = 0; i < 100; i++)); do
	grep -q '^held' "$TP_DIR/hold.out" && break
	sleep 0.1
done
grep -q '^held' "$TP_DIR/hold.out" || { exec 7>&-; cat "$TP_DIR/hold.out"; tp_fail "hs-hold did not reach its last flight"; }
t0=$(date +%s%N)
kill -TERM "$TM_PID_B"
for ((i = 0; i < 50; i++)); do
	grep -q "stopping (grace" "$TP_DIR/sluiced-b.log" && break
	sleep 0.1
done
sleep 0.5 # the worker's stop hook ran (listeners closed, waiting flows cut)
if grep -q '^sent' "$TP_DIR/hold.out"; then
	tp_fail "hs-hold sent its last flight before it was told to"
fi
echo go >&7
exec 7>&-
rc=0
wait "$TM_PID_B" || rc=$?
t1=$(date +%s%N)
wait "$hpid" || true
[ $rc = 0 ] || { tm_dump_logs; tp_fail "sluiced on node2 exited with $rc"; }
note "hs-hold: $(tr '\n' ' ' <"$TP_DIR/hold.out")"
grep -q '^sent' "$TP_DIR/hold.out" || tp_fail "hs-hold did not send its Finished"
grep -q "stopping, no preamble after the handshake: closed" "$TP_DIR/sluiced-b.log" ||
	{ grep -v '^{' "$TP_DIR/sluiced-b.log" | tail -20; tp_fail "node2 did not close the handshake completed during its stop"; }
# no process substitution: the VM's chroot has no /dev/fd
end=$(grep -E '^(reset|eof) ' "$TP_DIR/hold.out" | head -1) || true
how=${end%% *} secs=${end#* } # both empty when no such line
case "${secs:-x}" in
0.[0-8]* | x) tp_fail "hs-hold's connection ended ${how:-?} after ${secs:-?} s, not after the 1 s wait" ;;
esac
if grep -q "grace period over" "$TP_DIR/sluiced-b.log"; then
	tp_fail "node2's stop waited for its grace period (a handshake completed during the stop)"
fi
ms=$(((t1 - t0) / 1000000))
[ "$ms" -lt 8000 ] || tp_fail "node2 took $ms ms to stop"
mv "$TP_DIR/sluiced-b.log" "$TP_DIR/sluiced-b.3.log"
tm_start_b --ktls $kt --preamble-timeout 120s
wait_pods4
ok "node2 stopped in $ms ms with a handshake completed during its stop (closed, $how, $secs s after it: the short wait, not the grace period)"

# ---- 4. rotation -----------------------------------------------------------------
tm_start_a --workers 1 --ktls $kt --cert-lifetime 40s --pool-idle-timeout 60s
ida=spiffe://cluster.local/ns/default/sa/pod11
flow "first flow (20 s leaves)"
t0=$(date +%s)
s1=$(serial "$ida")
[ -n "$s1" ] || tp_fail "no serial for $ida"
wait_ready 2
h0=$(st pool_hits)
flow "flow before the renewal"
[ "$(st pool_hits)" -eq $((h0 + 1)) ] || tp_fail "the flow before the renewal was not served from the pool"
[ "$(serial "$ida")" = "$s1" ] || tp_fail "the leaf was renewed too early for this test"
while [ $(($(date +%s) - t0)) -lt 25 ]; do sleep 0.5; done
wait_ready 1
h0=$(st pool_hits) m0=$(st pool_misses) d0=$(st pool_dropped) hs0=$(path_hs)
flow "flow after the renewal time"
s2=$(serial "$ida")
[ -n "$s2" ] && [ "$s2" != "$s1" ] || { tm_dump_logs; tp_fail "pod11 not renewed: $s1 -> '$s2'"; }
[ "$(st pool_hits)" -eq "$h0" ] || { tm_dump_logs; tp_fail "a pooled connection made with the old leaf was used"; }
[ "$(st pool_misses)" -eq $((m0 + 1)) ] || tp_fail "the flow after the renewal was not a miss"
[ "$(st pool_dropped)" -ge $((d0 + 1)) ] || tp_fail "stale pooled connections were not dropped"
[ "$(path_hs)" -eq $((hs0 + 1)) ] || tp_fail "the flow after the renewal did not handshake itself"
ok "rotation: serial $s1 -> $s2, the next flow handshakes with the new leaf, old pooled connections dropped"
[ "$(st handshakes_failed)" = 0 ] || { tm_dump_logs; tp_fail "failed handshakes on node1"; }
[ "$(tm_stat "$TM_SOCK_B" handshakes_failed)" = 0 ] || { tm_dump_logs; tp_fail "failed handshakes on node2"; }

# ---- 5. expiry, --pool-size 0 ----------------------------------------------------
tm_stop_a
mv "$TP_DIR/sluiced-a.log" "$TP_DIR/sluiced-a.2.log"
tm_start_a --workers 1 --ktls $kt --pool-idle-timeout 1s
pe0=$(tm_stat "$TM_SOCK_B" preamble_errors)
flow "flow with 1 s pool idle time"
for ((i = 0; i < 100; i++)); do
	[ "$(st pool_expired)" -ge 2 ] && break
	sleep 0.1
done
[ "$(st pool_expired)" -ge 2 ] || { tm_admin "$TM_SOCK_A" stats; tp_fail "pooled connections did not expire"; }
[ "$(st pool_ready)" = 0 ] || tp_fail "expired connections still counted ready"
for ((i = 0; i < 50; i++)); do
	[ "$(tm_stat "$TM_SOCK_B" flows_active)" = 0 ] && break
	sleep 0.1
done
[ "$(tm_stat "$TM_SOCK_B" flows_active)" = 0 ] || tp_fail "node2 still holds the expired connections"
[ "$(tm_stat "$TM_SOCK_B" preamble_errors)" = "$pe0" ] ||
	tp_fail "node2 counted closed unused pooled connections as preamble errors"
ok "expiry: unused pooled connections closed after 1 s, quietly on node2"
tm_stop_a
mv "$TP_DIR/sluiced-a.log" "$TP_DIR/sluiced-a.3.log"
tm_start_a --ktls $kt --pool-size 0
for ((i = 0; i < 4; i++)); do
	flow "unpooled flow $i"
done
sleep 0.5
for k in pool_hits pool_misses pool_handshakes pool_ready; do
	[ "$(st $k)" = 0 ] || { tm_admin "$TM_SOCK_A" stats; tp_fail "--pool-size 0: $k is $(st $k)"; }
done
[ "$(st handshakes_ok)" -ge 4 ] || tp_fail "--pool-size 0: fewer than 4 handshakes"
ok "--pool-size 0: every flow handshakes, no pool activity"

# ---- 5b. a busy key grows past --pool-size, up to --pool-max ----------------------
# with a 2 s refill delay, flows one after another are busy enough: the key's
# target, ceil(2 * (delay + fill) / gap) + 1, exceeds --pool-max 5 for any
# gap under 1 s, so the refill after the last flow fills it to 5 (and never
# more).  One after another, not at once: a burst of handshakes on the
# flows' path outlasts the 2 s handshake timeout under emulation (the VM)
tm_stop_a
mv "$TP_DIR/sluiced-a.log" "$TP_DIR/sluiced-a.4.log"
tm_start_a --workers 1 --ktls $kt --pool-refill-delay 2s --pool-max 5
for ((i = 0; i < 10; i++)); do
	flow "busy flow $i"
done
maxr=0
for ((i = 0; i < 250; i++)); do
	r=$(st pool_ready)
	[ "$r" -gt "$maxr" ] && maxr=$r
	[ "$maxr" -ge 5 ] && break
	sleep 0.1
done
[ "$maxr" -ge 4 ] || { tm_admin "$TM_SOCK_A" stats; tm_dump_logs; tp_fail "the busy key's pool did not grow past --pool-size 2 (at most $maxr ready)"; }
for ((i = 0; i < 10; i++)); do
	r=$(st pool_ready)
	[ "$r" -gt "$maxr" ] && maxr=$r
	sleep 0.1
done
[ "$maxr" -le 5 ] || { tm_admin "$TM_SOCK_A" stats; tp_fail "pool_ready $maxr is above --pool-max 5"; }
ok "a busy key's pool grows past --pool-size 2 to $maxr ready (at most --pool-max 5)"

# ---- 5c. node2 with --tls-resumption off ------------------------------------------
# node2 selects plain "sluice/1": no ticket, nothing resumed; the pool still
# serves every flow, each refill a full handshake
tm_stop
mv "$TP_DIR/sluiced-a.log" "$TP_DIR/sluiced-a.5.log"
mv "$TP_DIR/sluiced-b.log" "$TP_DIR/sluiced-b.5.log"
# (a 20 s handshake timeout: every refill is a full handshake here, and
# in the emulated VM two of them at once outlast the default 2 s: red CI
# of 7362430, "set-up timed out" on node2)
tm_start_b --ktls $kt --preamble-timeout 120s --tls-resumption off \
	--handshake-timeout 20s
wait_pods4
tm_start_a --workers 1 --ktls $kt
flow "first flow, resumption off on node2"
wait_ready 2
h0=$(st pool_hits)
for ((i = 0; i < 3; i++)); do
	wait_ready 1
	flow "pooled flow $i, resumption off on node2"
done
[ "$(st pool_hits)" -eq $((h0 + 3)) ] || { tm_dump_logs; tp_fail "resumption off: pool_hits $h0 -> $(st pool_hits), expected +3"; }
for k in pool_tickets handshakes_resumed; do
	[ "$(st $k)" = 0 ] || { tm_admin "$TM_SOCK_A" stats; tp_fail "resumption off on node2: node1 $k is $(st $k)"; }
done
[ "$(tm_stat "$TM_SOCK_B" handshakes_resumed)" = 0 ] || tp_fail "resumption off: node2 resumed a session"
[ "$(st handshakes_failed)" = 0 ] && [ "$(tm_stat "$TM_SOCK_B" handshakes_failed)" = 0 ] ||
	{ tm_dump_logs; tp_fail "resumption off: failed handshakes"; }
ok "--tls-resumption off on node2: no tickets, no resumption, pooled flows served ($(st pool_handshakes) full refill handshakes)"

# ---- 6 -----------------------------------------------------------------------------
tm_stop
ok "both daemons stopped cleanly"
echo "PASS"
