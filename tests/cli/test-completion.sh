#!/usr/bin/env bash
# The bash completion of sluice (cli/sluice.bash-completion): source it,
# complete a few command lines as readline would (COMP_WORDS, COMP_CWORD),
# and check COMPREPLY.  The commands it offers are those `sluice --help`
# lists.
# Usage: test-completion.sh COMPLETION-FILE SLUICE
set -u
comp=$1
sluice=$2
fail=0
n=0

# shellcheck source=/dev/null
source "$comp" || { echo "not ok 1 - source $comp"; exit 1; }
complete -p sluice >/dev/null 2>&1 || { echo "not ok 1 - complete -F for sluice"; exit 1; }

# complete LINE: the words of LINE, the last one being completed ("" when
# LINE ends with a space); prints COMPREPLY sorted, one line
complete_line() {
	local line=$1
	# split as readline does with the default COMP_WORDBREAKS: '=' apart
	read -r -a COMP_WORDS <<<"${line//=/ = }"
	[[ $line == *' ' || $line == *= ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	_sluice sluice "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

expect() { # line, expected reply (sorted, space-separated)
	local got
	n=$((n + 1))
	got=$(complete_line "$1")
	if [[ $got == "$2" ]]; then
		echo "ok $n - '$1' completes to '$2'"
	else
		echo "not ok $n - '$1'"
		echo "#   want: '$2'"
		echo "#   got:  '$got'"
		fail=1
	fi
}

# the commands of the table (sluice --help), sorted
cmds=$("$sluice" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}' | sort | tr '\n' ' ' | sed 's/ $//')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/cfg-a" "$tmp/cfg-b"
: >"$tmp/cfg-file.yaml"
cd "$tmp" || exit 1

# every command of the table, and nothing else
expect "sluice " "$cmds"
expect "sluice r" "reload routes rules"
expect "sluice -o json st" "stats status"
expect "sluice -s /run/x.sock w" "workloads"
expect "sluice --" "--help --output --socket --version"
# formats, wherever -o goes
expect "sluice -o " "dump json table"
expect "sluice routes -o j" "json"
expect "sluice routes --output=" "dump json table"
expect "sluice status --output d" "dump"
# a command's own options and the common ones
expect "sluice routes --" "--config --help --output --socket"
expect "sluice reload --a" "--allow-empty"
expect "sluice status -" "--help --output --socket -h -o -s"
expect "sluice log-level " "debug err info notice warn"
expect "sluice help rou" "routes"
expect "sluice ca " "init issue"
expect "sluice ca init --f" "--force"
expect "sluice ca issue --s" "--sa --socket --spiffe-id"
# directories only after --config, check and ca init
expect "sluice routes --config " "cfg-a cfg-b"
expect "sluice routes --config=cfg-" "cfg-a cfg-b"
expect "sluice routes -o json --config cfg-" "cfg-a cfg-b"
expect "sluice check " "cfg-a cfg-b"
expect "sluice -o json check cfg-b" "cfg-b"
expect "sluice ca init " "cfg-a cfg-b"
expect "sluice ca issue --ca cfg-" "cfg-a cfg-b"
# a file after --out and after ca issue's -o (its --out)
expect "sluice ca issue --out cfg-f" "cfg-file.yaml"
expect "sluice ca issue -o cfg-f" "cfg-file.yaml"
# nothing to offer where a value is typed
expect "sluice ca init --days " ""

echo "1..$n"
exit $fail
