#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Admission on the inbound mTLS port (issue 24, "Unauthenticated exhaustion
# of the mesh port").  Two nodes (tests/netns/lib), pooling off so that
# every flow is a new mTLS handshake.  node2 runs with small caps:
# --max-pending 50 --max-pending-per-source 20, and 40 outbound and 40
# inbound flows.  pod12 (not a workload, not steered) is the attacker: for
# 4 s it keeps bare connections (nothing sent) to 15008 open, reopening
# each one 50 ms after it ends (sl-tcp hold): 200 from 198.18.1.12, then
# 70 from each of 198.18.1.12, 198.18.1.13 and fd00:5a1c:1::12.
#  1. meanwhile new flows still work both ways: pod11 -> pod21 (an inbound
#     authenticated flow on node2) and pod22 -> pod11 (an outbound flow of
#     node2); on today's main the silent connections fill the one
#     node-wide cap that both share, and both fail
#     (phase 1: 200 connections from one source; phase 2: 70 from each of
#     three sources, which together fill the pending cap: silent ones are
#     reset to make room, so the flows' handshakes still get in)
#  2. no bare connection ever sees a clean EOF or data (today's main
#     close()s shed connections: clean EOFs): the ones over a cap are
#     reset at once (one source: at most 20 held), the held ones are reset
#     after ~1 s (--hello-timeout 1s: between 0.8 and 1.9 s after the
#     connect)
#  3. the counters show it: shed, shed_per_source, shed_pending,
#     hello_timeouts, no shed_outbound/shed_inbound; pending_handshakes
#     never above 20 with one source, 50 with three
#  4. fds run out: node2 restarted under prlimit with RLIMIT_NOFILE 45
#     above what sluiced opens at start, --fd-reserve 16, no pending caps
#     in the way.  Under the same flood, connections that would take the
#     last 16 fds are reset (shed_fd_reserve) and accepts pause with a
#     backoff (accept_paused, "pausing accept" logged); `sluice status`
#     answers within 1 s throughout (on today's main, with the same flood
#     and --max-connections above the fds, it answers nothing until the
#     handshake timeout frees fds); once the flood is over flows work
#  5. both daemons stop with exit 0 (ASan: no leaks)
#
# usage: admission.sh SLUICED SLUICE NFT_TOOL SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"
# shellcheck source=lib/tm.sh
. "$here/lib/tm.sh"

tm_args "$@"

command -v prlimit >/dev/null || tp_skip "prlimit (util-linux) not installed"
tm_init
p11=$(tp_pod_ip pod11) p21=$(tp_pod_ip pod21) p22=$(tp_pod_ip pod22)
p12=$(tp_pod_ip pod12) p12_6=$(tp_pod_ip pod12 6)
p13=198.18.1.13 # a second IPv4 source on pod12
node2_6=fd00:5a1c::2

mkcfg() { # dir node
	tm_node_yaml "$1" "$2"
	{
		tm_we pod11 "$p11" node-a "app: client"
		tm_we pod21 "$p21" node-b "app: echo"
		tm_we pod22 "$p22" node-b "app: client2"
	} >"$1/workloads.yaml"
}
mkcfg "$TM_CFG_A" node-a
mkcfg "$TM_CFG_B" node-b

# the attacker's second IPv4 source
tp_exec pod12 ip addr add "$p13/32" dev eth0
ip -n "$TP_NODE1" route add "$p13/32" dev veth-pod12

tp_exec node1 "$NFT_TOOL" apply "$p11"
tp_bg pod21 "$TP_DIR/pod21.log" "$SL_TCP" serve 7000 echo
tp_bg pod11 "$TP_DIR/pod11.log" "$SL_TCP" serve 7000 echo
tp_wait_port pod21 7000
tp_wait_port pod11 7000

caps_b=(--pool-size 0 --max-pending 50 --max-pending-per-source 20
	--max-outbound 40 --max-inbound 40)
tm_start_b "${caps_b[@]}"
tm_start_a --pool-size 0

flow_in() { # pod11 -> pod21: inbound (authenticated) on node2
	timeout 10 ip netns exec "$TP_POD11" "$SL_TCP" echo-check "$p21" 7000 2000 >/dev/null
}
flow_out() { # pod22 -> pod11: outbound on node2
	timeout 10 ip netns exec "$TP_POD22" "$SL_TCP" echo-check "$p11" 7000 2000 >/dev/null
}
for ((i = 0; i < 50; i++)); do
	flow_in && flow_out && break
	sleep 0.2
done
flow_in && flow_out || { tm_dump_logs; tp_fail "no flow before the flood"; }
ok "flows both ways before the flood"

flood() { # secs n1 [n2 n3]: bare connections from one, or three, sources
	h2='' h3=''
	rm -f "$TP_DIR"/hold-*.out
	tp_bg pod12 "$TP_DIR/hold-a.out" "$SL_TCP" hold "$p21" 15008 "$2" "$1" "$p12"
	h1=$TP_BG_PID
	[ -n "${3:-}" ] || return 0
	tp_bg pod12 "$TP_DIR/hold-b.out" "$SL_TCP" hold "$p21" 15008 "$3" "$1" "$p13"
	h2=$TP_BG_PID
	tp_bg pod12 "$TP_DIR/hold-c.out" "$SL_TCP" hold "$node2_6" 15008 "$4" "$1" "$p12_6"
	h3=$TP_BG_PID
}
flood_wait() {
	local h
	for h in $h1 $h2 $h3; do
		wait "$h" || { cat "$TP_DIR"/hold-*.out; tp_fail "sl-tcp hold failed"; }
	done
}
field() { # file key
	grep -o " $2=-\?[0-9]*" "$1" | cut -d= -f2
}
flows_meanwhile() { # secs what: new flows both ways, every one must work
	local t_end=$((SECONDS + $1)) p
	ok_in=0 ok_out=0 max_pending=0
	while [ $SECONDS -lt $t_end ]; do
		flow_in && ok_in=$((ok_in + 1)) || {
			tm_admin "$TM_SOCK_B" stats; tm_dump_logs; tp_fail "$2: an inbound flow to pod21 failed ($ok_in worked before)"
		}
		flow_out && ok_out=$((ok_out + 1)) || {
			tm_admin "$TM_SOCK_B" stats; tm_dump_logs; tp_fail "$2: an outbound flow from pod22 failed ($ok_out worked before)"
		}
		p=$(tm_stat "$TM_SOCK_B" pending_handshakes)
		[ "${p:-0}" -gt "$max_pending" ] && max_pending=$p
	done
	[ "$ok_in" -ge 2 ] && [ "$ok_out" -ge 2 ] ||
		tp_fail "$2: too few flows: $ok_in in, $ok_out out"
}
no_eof() { # every bare connection ended with a reset (or is still open)
	local f
	for f in "$TP_DIR"/hold-*.out; do
		note "$(basename "$f"): $(cat "$f")"
		[ "$(field "$f" eof)" = 0 ] && [ "$(field "$f" data)" = 0 ] ||
			tp_fail "a bare connection saw a clean EOF or data, not a reset: $(cat "$f")"
	done
}

# ---- 1. one source, 200 bare connections -----------------------------------
hs0=$(tm_stat "$TM_SOCK_B" handshakes_ok)
flood 4 200
sleep 0.5
flows_meanwhile 3 "one source flooding"
flood_wait
hs1=$(tm_stat "$TM_SOCK_B" handshakes_ok)
[ "$hs1" -ge $((hs0 + ok_in)) ] ||
	tp_fail "node2 did fewer handshakes ($hs0 -> $hs1) than inbound flows ($ok_in)"
ok "200 bare connections from one source: $ok_in inbound flows (new mTLS handshakes) and $ok_out outbound flows worked meanwhile"
no_eof
f=$TP_DIR/hold-a.out
[ "$(field "$f" fast)" -ge 150 ] ||
	tp_fail "connections over the per-source cap were not reset at once: $(cat "$f")"
[ "$(field "$f" peak)" -le 20 ] && [ "$(field "$f" peak)" -ge 10 ] ||
	tp_fail "the source held other than up to --max-pending-per-source 20: $(cat "$f")"
cut=$(field "$f" cut) cmin=$(field "$f" cut_min_ms) cmax=$(field "$f" cut_max_ms)
[ "$cut" -ge 20 ] && [ "$cmin" -ge 800 ] && [ "$cmax" -le 1900 ] ||
	tp_fail "silent connections were not reset ~1 s after the connect: $(cat "$f")"
ok "no clean EOF: over-cap connections reset at once, at most 20 held, silent ones reset after $cmin..$cmax ms"
tm_expect "$TM_SOCK_B" shed_per_source 150 "per-source cap"
tm_expect "$TM_SOCK_B" hello_timeouts 20 "silent peers"
[ "$max_pending" -le 20 ] ||
	tp_fail "pending_handshakes peaked at $max_pending with one source (cap 20)"

# ---- 2. three sources: the pending cap --------------------------------------
flood 4 70 70 70
sleep 0.5
flows_meanwhile 3 "three sources flooding"
flood_wait
ok "3 x 70 bare connections from three sources (IPv4, IPv4, IPv6): $ok_in inbound and $ok_out outbound flows worked meanwhile"
no_eof
[ "$max_pending" -le 50 ] && [ "$max_pending" -ge 30 ] ||
	tp_fail "pending_handshakes peaked at $max_pending (cap 50)"
tm_expect "$TM_SOCK_B" shed_pending 1 "pending cap"
tm_expect "$TM_SOCK_B" shed "$(($(tm_stat "$TM_SOCK_B" shed_per_source) + $(tm_stat "$TM_SOCK_B" shed_pending)))" "shed total"
[ "$(tm_stat "$TM_SOCK_B" shed_outbound)" = 0 ] && [ "$(tm_stat "$TM_SOCK_B" shed_inbound)" = 0 ] ||
	tp_fail "flows were shed: outbound $(tm_stat "$TM_SOCK_B" shed_outbound), inbound $(tm_stat "$TM_SOCK_B" shed_inbound)"
ok "counters: shed_per_source $(tm_stat "$TM_SOCK_B" shed_per_source), shed_pending $(tm_stat "$TM_SOCK_B" shed_pending), hello_timeouts $(tm_stat "$TM_SOCK_B" hello_timeouts); pending peaked at $max_pending"

# ---- 4. out of fds: reserve, accept backoff, the admin socket ----------------
kill -TERM "$TM_PID_B"
rc=0
wait "$TM_PID_B" || rc=$?
[ $rc = 0 ] || { tm_dump_logs; tp_fail "sluiced on node2 exited with $rc"; }
# sluiced under a low RLIMIT_NOFILE (soft = hard: it cannot raise it):
# what it opens at start (about 30 fds with 2 workers) plus 45
lim=$(($(find "/proc/$TM_PID_A/fd" -mindepth 1 | wc -l) + 45))
cat >"$TP_DIR/sluiced-lowfd" <<EOT
#!/bin/sh
exec prlimit --nofile=$lim:$lim -- "$SLUICED" "\$@"
EOT
chmod +x "$TP_DIR/sluiced-lowfd"
sluiced_real=$SLUICED
SLUICED=$TP_DIR/sluiced-lowfd
tm_start_b --pool-size 0 --fd-reserve 16 --max-pending 1000 \
	--max-pending-per-source 1000
SLUICED=$sluiced_real
sleep 0.5
note "node2 runs with RLIMIT_NOFILE $lim, $(find "/proc/$TM_PID_B/fd" -mindepth 1 | wc -l) fds open"
flood 4 70 70 70
sleep 0.3
answers=0
t_end=$((SECONDS + 3))
while [ $SECONDS -lt $t_end ]; do
	out=$(timeout 1 "$SLUICE" -s "$TM_SOCK_B" status 2>&1) || true
	case $out in
	*generation*) answers=$((answers + 1)) ;;
	*) tm_dump_logs; tp_fail "sluice status got no answer while fds ran out: '$out'" ;;
	esac
	sleep 0.2
done
flood_wait
no_eof
tm_expect "$TM_SOCK_B" shed_fd_reserve 1 "fd reserve"
tm_expect "$TM_SOCK_B" accept_paused 1 "accept backoff"
grep -q "pausing accept" "$TP_DIR/sluiced-b.log" ||
	tp_fail "no 'pausing accept' in node2's log"
ok "fds short: $answers status answers during the flood, shed_fd_reserve $(tm_stat "$TM_SOCK_B" shed_fd_reserve), accept_paused $(tm_stat "$TM_SOCK_B" accept_paused)"

for ((i = 0; i < 30; i++)); do
	flow_in && flow_out && break
	sleep 0.2
done
flow_in && flow_out || { tm_dump_logs; tp_fail "no flow after the limit was raised again"; }
ok "flows work again once the flood is over"

tm_stop
ok "both daemons stopped cleanly"
