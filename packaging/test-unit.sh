#!/bin/sh
# The hardened systemd unit stays valid and hardened: systemd-analyze verify
# finds no error, and its security exposure stays at or below 3.0 ("OK").
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
rc=0
out=$(systemd-analyze security --offline=true --threshold=30 "$unit") || rc=$?
echo "$out" | tail -1
if [ "$rc" != 0 ]; then
	echo "the unit's exposure is above 3.0: hardening was lost" >&2
	exit 1
fi
