#!/bin/sh
# The man pages built from docs/*.md (docs/meson.build): each is a man(7)
# page with the right title and section, the sections man(7) expects, a
# whatis line mandb can index, and formats without a single warning,
# neither from groff (-ww: every warning) nor from man(1) at 80 columns
# (what lintian runs).
# Usage: test-man.sh PAGE...   (paths of the built pages, e.g. build/docs/sluiced.8)
set -u
fail=0
n=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

check() { # description, command...
	desc=$1
	shift
	n=$((n + 1))
	if "$@" >"$tmp" 2>&1; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		sed 's/^/#   /' "$tmp" | head -20
		fail=1
	fi
}
# the command must succeed and print nothing on stderr (stdout: the page)
silent() {
	err=$("$@" 2>&1 >/dev/null) || { echo "$err"; echo "exit status $?"; return 1; }
	[ -z "$err" ] || { echo "$err"; return 1; }
}
has_section() { # page, name: a .SH with that name (lowdown puts it on the next line)
	awk -v want="$2" '
		prev == ".SH" && $0 == want { found = 1 }
		/^\.SH "?[^"]*"?$/ && $0 != ".SH" { t = $0; sub(/^\.SH "?/, "", t); sub(/"$/, "", t); if (t == want) found = 1 }
		{ prev = $0 }
		END { exit !found }' "$1"
}

for page in "$@"; do
	base=$(basename "$page")
	name=${base%.*}
	sec=${base##*.}
	check "$base: .TH $name $sec" grep -q "^\.TH \"$name\" \"$sec\" " "$page"
	for s in NAME SYNOPSIS DESCRIPTION; do
		check "$base: section $s" has_section "$page" "$s"
	done
	check "$base: no stray section before NAME" sh -c \
		"awk '/^\.SH/ { getline t; print t; exit }' '$page' | grep -qx NAME"
	check "$base: groff -ww -z -t -man -Tutf8 warns about nothing" \
		silent groff -ww -z -t -man -Tutf8 "$page"
	if command -v man >/dev/null; then
		check "$base: man --warnings at 80 columns warns about nothing" \
			silent env LC_ALL=C.UTF-8 MANWIDTH=80 MAN_DISABLE_SECCOMP=1 \
			man --warnings -E UTF-8 -l -Tutf8 -Z "$page"
	fi
	if command -v lexgrog >/dev/null; then
		check "$base: whatis line '$name - ...'" sh -c \
			"lexgrog '$page' | grep -q ': \"$name - .'"
	fi
done
echo "1..$n"
exit $fail
