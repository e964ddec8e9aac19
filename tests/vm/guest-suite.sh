#!/usr/bin/env bash
# Run the commands listed in suite.list, one after the other, inside the kTLS
# VM (run by run-in-vm.sh, see meson.build).  Usage:
#   guest-suite.sh BUILDDIR LIST
# Prints one result line per command; exits 0 only if every command that runs
# exits 0 (77 counts as a failure: kTLS is required here).
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: guest-suite.sh BUILDDIR LIST" >&2; exit 2; }
build=$1
list=$2
[ -r "$list" ] || { echo "vm-suite: cannot read $list" >&2; exit 1; }
cd "$build" || exit 1

echo "vm-suite: kernel $(uname -r), SL_REQUIRE_KTLS=${SL_REQUIRE_KTLS:-}"
pass=0 fail=0 notbuilt=0
results=()
while IFS= read -r line || [ -n "$line" ]; do
	line=${line%%#*}
	read -r -a argv <<<"$line"
	[ ${#argv[@]} -gt 0 ] || continue
	optional=0
	if [ "${argv[0]:0:1}" = '?' ]; then
		optional=1
		argv[0]=${argv[0]:1}
	fi
	name=${argv[0]}
	case $name in
	/*) exe=$name ;;
	*) exe=$build/$name ;;
	esac
	if [ ! -x "$exe" ]; then
		if [ "$optional" = 1 ]; then
			results+=("NOTBUILT $name")
			notbuilt=$((notbuilt + 1))
		else
			results+=("FAIL     $name (not built: $exe)")
			fail=$((fail + 1))
		fi
		echo "vm-suite: ${results[-1]}"
		continue
	fi
	echo "vm-suite: ===== $name ${argv[*]:1}"
	start=$(date +%s)
	"$exe" "${argv[@]:1}" </dev/null
	rc=$?
	secs=$(($(date +%s) - start))
	if [ "$rc" = 0 ]; then
		results+=("PASS     $name (${secs}s)")
		pass=$((pass + 1))
	else
		why="exit $rc"
		[ "$rc" = 77 ] && why="exit 77: skipped, but kTLS is required in the VM"
		[ "$rc" -gt 128 ] && why="killed by signal $((rc - 128))"
		results+=("FAIL     $name ($why, ${secs}s)")
		fail=$((fail + 1))
	fi
	echo "vm-suite: ${results[-1]}"
done <"$list"

echo "vm-suite: ----- results"
for r in "${results[@]}"; do
	echo "vm-suite: $r"
done
echo "vm-suite: $pass passed, $fail failed, $notbuilt not built"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
