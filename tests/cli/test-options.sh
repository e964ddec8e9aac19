#!/usr/bin/env bash
# sluice's command line: the common options (-o, -s, --help) before or
# after the command, --help exit 0 for sluice and every command (with that
# command's usage), unknown options exit 2 naming the option, and the
# output format the help promises on a terminal and piped.  sluiced --help
# exits 0 too.
# Usage: test-options.sh SLUICE SLUICED SRCDIR
set -u
sluice=$1
sluiced=$2
src=$3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
out=$tmp/out
err=$tmp/err
fake_pid=
cleanup() {
	[ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
n=0

check() { # description, command...: the command must succeed
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		echo "# stdout:"; sed 's/^/#   /' "$out"
		echo "# stderr:"; sed 's/^/#   /' "$err"
		fail=1
	fi
}
run() { # args...: run sluice, sets rc
	rc=0
	"$sluice" "$@" >"$out" 2>"$err" </dev/null || rc=$?
}
is_json() { python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out"; }

cfg=$src/examples
canary=$src/tests/config/data/canary

# ---- options after the command (issue 29: `routes --config DIR -o json` exited 2)
run routes --config "$cfg" -o json
check "routes --config DIR -o json exits 0" test "$rc" = 0
check "routes --config DIR -o json prints JSON" is_json
run routes -o json --config "$cfg"
check "routes -o json --config DIR prints JSON" is_json
"$sluice" -o dump routes --config "$canary" my-service >"$tmp/before" 2>/dev/null
run routes --config "$canary" my-service --output dump
check "routes ... HOST --output dump equals -o dump before the command" \
	cmp -s "$out" "$tmp/before"
check "the dump is not empty" test -s "$tmp/before"
run routes --config="$canary" -odump my-service
check "--config=DIR and -oFMT forms after the command" cmp -s "$out" "$tmp/before"
run check "$cfg" -o json
check "check DIR -o json prints JSON" sh -c "grep -q '\"ok\": true' '$out'"
run check -o json "$cfg"
check "check -o json DIR prints JSON" sh -c "grep -q '\"ok\": true' '$out'"
run check -o xml "$cfg"
check "check -o xml: exit 2, names the format" sh -c \
	"[ $rc = 2 ] && grep -q \"unknown output format 'xml'\" '$err'"
run routes --config
check "routes --config without DIR: exit 2, names the option" sh -c \
	"[ $rc = 2 ] && grep -q \"option '--config' needs a value\" '$err'"

# ---- --help and -h: exit 0, the command's usage on stdout, nothing on stderr
for h in --help -h; do
	run $h
	check "sluice $h exits 0 with the usage" sh -c \
		"[ $rc = 0 ] && grep -q '^Usage: sluice ' '$out' && [ ! -s '$err' ]"
done
run --help
cmds=$(sed -n '/^Commands:/,/^$/p' "$out" | awk 'NR > 1 && NF {print $1}')
check "the help lists the commands" test "$(echo $cmds | wc -w)" -ge 12
for c in $cmds; do
	for h in --help -h; do
		run "$c" $h
		check "sluice $c $h exits 0 with its usage" sh -c \
			"[ $rc = 0 ] && grep -q '^Usage: sluice $c' '$out' && [ ! -s '$err' ]"
	done
	run -s "$tmp/none.sock" "$c" -o json --help
	check "sluice $c -o json --help: --help wins, exit 0" sh -c \
		"[ $rc = 0 ] && grep -q '^Usage: sluice $c' '$out'"
	run help "$c"
	check "sluice help $c prints its usage" sh -c \
		"[ $rc = 0 ] && grep -q '^Usage: sluice $c' '$out'"
done
for sub in init issue; do
	run ca "$sub" --help
	check "sluice ca $sub --help exits 0 with the ca usage" sh -c \
		"[ $rc = 0 ] && grep -q '^Usage: sluice ca init' '$out' && grep -q 'sluice ca issue' '$out'"
done
run routes --help
check "routes --help lists --config and the common options" sh -c \
	"grep -q -- '--config DIR' '$out' && grep -q -- '--output FMT' '$out' && grep -q -- '--socket PATH' '$out'"

# ---- unknown options: exit 2, one line naming the option, nothing on stdout
run --bogus
check "sluice --bogus: exit 2, names it" sh -c \
	"[ $rc = 2 ] && grep -q \"unknown option '--bogus'\" '$err' && [ ! -s '$out' ]"
for c in $cmds "ca init" "ca issue"; do
	# shellcheck disable=SC2086
	run $c --bogus
	check "sluice $c --bogus: exit 2, names it" sh -c \
		"[ $rc = 2 ] && grep -q \"^sluice ${c%% *}: unknown option '--bogus'\" '$err' && [ ! -s '$out' ]"
	# shellcheck disable=SC2086
	run $c -Z
	check "sluice $c -Z: exit 2, names it" sh -c \
		"[ $rc = 2 ] && grep -q \"unknown option '-Z'\" '$err' && [ ! -s '$out' ]"
done
run status extra
check "status extra: exit 2, names the argument" sh -c \
	"[ $rc = 2 ] && grep -q \"unexpected argument 'extra'\" '$err'"
run reload --allow-empty=yes
check "reload --allow-empty=yes: exit 2, the option takes no value" sh -c \
	"[ $rc = 2 ] && grep -q \"option '--allow-empty' takes no value\" '$err'"

# ---- -s and -o after the command reach the daemon (a fake admin socket)
sock=$tmp/admin.sock
log=$tmp/requests
python3 "$here/fake-admin.py" "$sock" "$log" &
fake_pid=$!
for _ in $(seq 100); do [ -e "$log.ready" ] && break; sleep 0.05; done
check "the fake admin socket is up" test -e "$log.ready"
: >"$log"
run status -s "$sock" -o dump
run workloads --socket "$sock" --output json
run reload --allow-empty -s "$sock"
run log-level debug -o json -s "$sock"
run routes my.host -s "$sock"
run -o json -s "$tmp/none.sock" conns -s "$sock" -o dump
printf '%s\n' 'status format=dump' 'workloads' 'reload allow-empty format=table' \
	'log-level debug' 'routes my.host format=table' 'conns format=dump' >"$tmp/want"
cp "$log" "$out"
check "-s and -o after the command: the requests the daemon got" cmp -s "$log" "$tmp/want"
run workloads -s "$sock" --output json
check "--output json prints the daemon's object" sh -c "grep -qx '{\"fake\":true}' '$out'"

# ---- the output format: what --help says is what a pipe and a terminal get
run --help
check "--help: table is the default on a terminal and piped alike" \
	grep -q 'table (the default, on a terminal and piped' "$out"
: >"$log"
"$sluice" -s "$sock" status | cat >"$out"
check "piped: the table" grep -qx 'FAKE table' "$out"
if script -qec "'$sluice' -s '$sock' status" /dev/null </dev/null >"$out" 2>&1; then
	check "on a terminal: the table" grep -q '^FAKE table' "$out"
else
	check "script(1) runs sluice on a terminal" false
fi
printf 'status format=table\nstatus format=table\n' >"$tmp/want"
cp "$log" "$out"
check "piped and on a terminal, sluice asked for the table" cmp -s "$log" "$tmp/want"

# ---- sluiced: --help exits 0, unknown options exit 2
rc=0; "$sluiced" --help >"$out" 2>"$err" || rc=$?
check "sluiced --help exits 0 with the usage" sh -c \
	"[ $rc = 0 ] && grep -q -- '--config DIR' '$out' && [ ! -s '$err' ]"
rc=0; "$sluiced" -h >"$out" 2>"$err" || rc=$?
check "sluiced -h exits 0" test "$rc" = 0
rc=0; "$sluiced" --config /nonexistent --bogus >"$out" 2>"$err" || rc=$?
check "sluiced --bogus: exit 2, names it" sh -c \
	"[ $rc = 2 ] && grep -q \"unknown option '--bogus'\" '$err'"

echo "1..$n"
exit $fail
