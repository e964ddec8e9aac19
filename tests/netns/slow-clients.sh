#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Liveness that slow local clients cannot stall (issue 24), one sluiced on
# node1 (tests/netns/lib):
#  1. telemetry port 15020: 30 slow clients (silent or trickling a request
#     head), then 100 more, past the cap of 64: /healthz answers within
#     1 s each time, and every slow client is closed by the 2 s deadline;
#     sluice_telemetry_timeouts_total and _shed_total count them
#  2. admin socket: 200 idle connections held, `sluice status` still
#     succeeds; a request of one NUL byte is answered with an error; the
#     idle connections are closed by the 5 s deadline; admin_shed and
#     admin_timeouts count them
#  3. SIGTERM: sluiced exits 0
# The clients are tools/slow-clients.py.
#
# usage: slow-clients.sh SLUICED SLUICE
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"
# shellcheck source=lib/tm.sh
. "$here/lib/tm.sh"

SLUICED=${1:?sluiced path}
SLUICE=${2:?sluice path}

py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
command -v $py >/dev/null || tp_skip "python3 not installed"
command -v curl >/dev/null || tp_skip "curl not installed"
tm_init
tm_node_yaml "$TM_CFG_A" node-a
tm_we pod11 "$(tp_pod_ip pod11)" node-a "app: client" >"$TM_CFG_A/workloads.yaml"
tm_start_a
tp_wait_port node1 15020 10 || { tm_dump_logs; tp_fail "no telemetry port"; }

metric() { # name: its value in /metrics
	tp_exec node1 curl -sf --max-time 5 http://127.0.0.1:15020/metrics |
		awk -v n="$1" '$1 == n { print $2 }'
}

# ---- 1. telemetry --------------------------------------------------------
tp_exec node1 $py "$here/tools/slow-clients.py" http 15020 ||
	{ tm_dump_logs; tp_fail "telemetry port stalled by slow clients"; }
to=$(metric sluice_telemetry_timeouts_total)
shed=$(metric sluice_telemetry_shed_total)
# 130 slow clients, 64 at most open: at least 66 shed (67 with the second
# /healthz), every other one cut at the deadline
if ! [ -n "$shed" ] || ! [ -n "$to" ] || [ "$shed" -lt 66 ] ||
	[ $((shed + to)) != 130 ]; then
	tp_fail "telemetry counters: shed '$shed' + timeouts '$to', want >= 66 shed and 130 in all"
fi
ok "telemetry: $shed shed, $to timed out"

# ---- 2. admin socket -----------------------------------------------------
tp_exec node1 $py "$here/tools/slow-clients.py" admin "$TM_SOCK_A" "$SLUICE" ||
	{ tm_dump_logs; tp_fail "admin socket stalled by idle connections"; }
# 200 idle + sluice status over the cap of 64: 137 closed at the cap, the
# other 63 at the deadline (the NUL request came after the shed ones left)
tm_expect "$TM_SOCK_A" admin_shed 137 "idle admin connections over the cap"
tm_expect "$TM_SOCK_A" admin_timeouts 63 "idle admin connections past the deadline"
ok "admin: $(tm_stat "$TM_SOCK_A" admin_shed) shed, $(tm_stat "$TM_SOCK_A" admin_timeouts) timed out"

# ---- 3. clean stop -------------------------------------------------------
tm_stop_a
ok "sluiced stopped cleanly"
