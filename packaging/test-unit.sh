#!/bin/sh
# The hardened systemd unit stays valid and hardened: systemd-analyze verify
# finds no error, and its security exposure stays at or below 3.0 ("OK").
# It is a Type=notify unit (docs/sluiced.8.md, "systemd"): NotifyAccess=main,
# a WatchdogSec sluiced can feed (>= 4 s: each feed needs a new heartbeat
# from every worker, one a second), and an ExecStart binary that speaks
# sd_notify.
# usage: test-unit.sh UNIT-FILE
set -eu
unit=${1:?unit file}
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze not installed" >&2
	exit 77
fi
out=$(systemd-analyze verify "$unit" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
	echo "systemd-analyze verify complained:"; echo "$out"; exit 1
fi

# the notify protocol: the last assignment of a key wins, as in systemd
val() { sed -n "s/^$1=//p" "$unit" | tail -1; }
[ "$(val Type)" = notify ] || { echo "Type=$(val Type), want notify" >&2; exit 1; }
[ "$(val NotifyAccess)" = main ] ||
	{ echo "NotifyAccess=$(val NotifyAccess), want main" >&2; exit 1; }
wd=$(val WatchdogSec)
[ -n "$wd" ] || { echo "no WatchdogSec" >&2; exit 1; }
us=$(systemd-analyze timespan "$wd" | sed -n 's/^ *μs: *//p')
[ -n "$us" ] && [ "$us" -ge 4000000 ] ||
	{ echo "WatchdogSec=$wd ($us us): below 4 s a healthy sluiced may miss a feed" >&2; exit 1; }
bin=$(val ExecStart | cut -d' ' -f1)
[ -x "$bin" ] || { echo "ExecStart binary $bin not found" >&2; exit 1; }
grep -q sd_notify "$bin" ||
	{ echo "$bin does not call sd_notify: Type=notify would never start" >&2; exit 1; }
echo "Type=notify, NotifyAccess=main, WatchdogSec=$wd, $bin calls sd_notify"

rc=0
out=$(systemd-analyze security --offline=true --threshold=30 "$unit") || rc=$?
echo "$out" | tail -1
if [ "$rc" != 0 ]; then
	echo "the unit's exposure is above 3.0: hardening was lost" >&2
	exit 1
fi
