#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# sluiced --check (the unit's ExecStartPre) says OK only for what sluiced
# would start on: a configuration whose Node sets neither caDir nor certDir
# loads, but the start refuses it (config.h: sl_config_usable), so --check
# must refuse it too, naming why; one with caDir is OK.
# usage: sluiced-check.sh SLUICED
set -eu
sluiced=${1:?sluiced}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$tmp/node.yaml" <<'YAML'
apiVersion: sluice.io/v1alpha1
kind: Node
metadata: {name: n1}
spec:
  trustDomain: cluster.local
YAML
rc=0
out=$("$sluiced" --check --config "$tmp" --node n1 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "no caDir/certDir: --check exited $rc: $out"
case $out in
*"would refuse to start"*"sets caDir or certDir"*) ;;
*) fail "no caDir/certDir: --check said: $out" ;;
esac
case $out in *": OK"*) fail "no caDir/certDir: --check said OK: $out" ;; esac
echo "ok - --check refuses a Node without caDir or certDir, as the start does"

echo "  caDir: $tmp/ca" >>"$tmp/node.yaml"
out=$("$sluiced" --check --config "$tmp" --node n1 2>&1) ||
	fail "with caDir: --check exited $?: $out"
case $out in *": OK (generation "*) ;; *) fail "with caDir: --check said: $out" ;; esac
echo "ok - with caDir: OK"
