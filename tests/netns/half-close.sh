#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The half-close timeout end to end (issue 24), two nodes (tests/netns/lib),
# node-a with --half-close-timeout 1s, node-b with 2s:
#  1. pod11 sends a request and its FIN to pod21, which never reads,
#     answers or closes: node-a resets the flow about 1 s after the FIN
#     (not after the 1 h idle timeout), the client sees an RST, node-a
#     counts relay_half_close_timeouts and logs end half_close_timeout /
#     response flag SI.  node-b's relay reads nothing more from the mesh
#     side once it has passed the FIN on, so it meets node-a's RST only
#     when its own half-close timeout ends the flow (2 s): then pod21's
#     socket is reset too, counted on node-b
#  2. pod22 answers pod11's request slowly after its FIN (a line every
#     0.3 s for 3 s, three timeouts): the flow is not cut, every byte
#     arrives, then a clean EOF
#
# usage: half-close.sh SLUICED SLUICE NFT_TOOL SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"
# shellcheck source=lib/tm.sh
. "$here/lib/tm.sh"

tm_args "$@"
HC="$here/tools/halfclose.py"

command -v python3 >/dev/null || tp_skip "python3 not installed"
tm_init
p11=$(tp_pod_ip pod11) p21=$(tp_pod_ip pod21) p22=$(tp_pod_ip pod22)

mkcfg() { # dir node
	tm_node_yaml "$1" "$2"
	{
		tm_we pod11 "$p11" node-a "app: client"
		tm_we pod21 "$p21" node-b "app: stuck"
		tm_we pod22 "$p22" node-b "app: slow"
	} >"$1/workloads.yaml"
}
mkcfg "$TM_CFG_A" node-a
mkcfg "$TM_CFG_B" node-b

tp_exec node1 "$NFT_TOOL" apply "$p11"
tp_bg pod21 "$TP_DIR/pod21.log" python3 "$HC" serve 7000 stuck
tp_bg pod22 "$TP_DIR/pod22.log" python3 "$HC" serve 7001 slow 10 0.3
tp_wait_port pod21 7000
tp_wait_port pod22 7001
tm_start_b --half-close-timeout 2s
tm_start_a --half-close-timeout 1s
for ((i = 0; i < 50; i++)); do
	tp_exec node2 nft list set inet sluice pods4 2>/dev/null | grep -q "$p22" && break
	sleep 0.1
done

# ---- 1. a stuck upstream is reset after the half-close timeout -------------
h0=$(tm_stat "$TM_SOCK_A" relay_half_close_timeouts)
hb0=$(tm_stat "$TM_SOCK_B" relay_half_close_timeouts)
out=$(tp_exec pod11 timeout 30 python3 "$HC" check "$p21" 7000 20) ||
	{ tm_dump_logs; tp_fail "halfclose.py check failed"; }
note "stuck upstream: $out"
read -r how secs _ <<<"$out"
[ "$how" = reset ] || { tm_dump_logs; tp_fail "stuck upstream: '$out', expected a reset"; }
# at least the timeout after the FIN, well before anything else would end it
awk -v s="$secs" 'BEGIN { exit !(s >= 0.9 && s < 5) }' ||
	{ tm_dump_logs; tp_fail "stuck upstream reset after $secs s, expected about 1 s"; }
tm_expect "$TM_SOCK_A" relay_half_close_timeouts $((h0 + 1)) "half-close timeout"
grep -q '"end":"half_close_timeout","response_flags":"SI"' "$TP_DIR/sluiced-a.log" ||
	{ tm_dump_logs; tp_fail "no access log line with end half_close_timeout / SI"; }
# pod21 never closed: its socket was reset by node-b's own timeout (no
# connection left on :7000)
for ((i = 0; i < 50; i++)); do
	[ -z "$(tp_exec pod21 ss -Htn state connected "sport = :7000")" ] && break
	sleep 0.1
done
[ -z "$(tp_exec pod21 ss -Htn state connected "sport = :7000")" ] ||
	{ tp_exec pod21 ss -tn; tp_fail "pod21's connection is still there"; }
tm_expect "$TM_SOCK_B" relay_half_close_timeouts $((hb0 + 1)) "half-close timeout on node-b"
ok "stuck upstream: reset $secs s after the client's FIN, both ends, counted (SI)"

# ---- 2. a response streaming after the FIN is not cut ----------------------
out=$(tp_exec pod11 timeout 30 python3 "$HC" check "$p22" 7001 20) ||
	{ tm_dump_logs; tp_fail "halfclose.py check failed"; }
note "slow upstream: $out"
read -r how secs bytes <<<"$out"
if [ "$how" != eof ] || [ "$bytes" != 160 ]; then
	tm_dump_logs
	tp_fail "slow upstream: '$out', expected eof after 160 bytes"
fi
if [ "$(tm_stat "$TM_SOCK_A" relay_half_close_timeouts)" != $((h0 + 1)) ] ||
	[ "$(tm_stat "$TM_SOCK_B" relay_half_close_timeouts)" != $((hb0 + 1)) ]; then
	tm_dump_logs
	tp_fail "the slow response was counted as a half-close timeout"
fi
ok "slow upstream: 10 lines over $secs s after the client's FIN, clean EOF, not cut"

tm_stop
echo "PASS"
