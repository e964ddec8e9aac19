#!/bin/sh
# Build one man page from its Markdown with lowdown(1) (Debian package
# lowdown).  Usage: md2man.sh LOWDOWN INPUT.md OUTPUT VERSION
#
# The page's title, section and volume come from the metadata block at the
# top of INPUT.md (lowdown(5): the first paragraph, "key: value" lines);
# its headings are shifted up one level there (shiftheadinglevelby: -1),
# so that `## NAME` becomes .SH NAME as man(7) wants.
#
# Two typesetting hints are added to lowdown's output, so that the pages
# format without a warning at 80 columns (groff -ww, tests/docs/test-man.sh):
#  - .ad l: ragged right; justified text in narrow table columns cannot
#    always be adjusted;
#  - \: (a break point that prints nothing) before '.', after '/' and after
#    '_' inside words, so that field paths, file names and constants
#    (spec.trafficPolicy.connectionPool..., tests/netns/authz.sh,
#    DECODE_AND_MERGE_SLASHES) may break in table cells.  Only text lines
#    are touched (not requests, which start with '.' or "'"), never next to
#    a backslash (troff escapes) or a space.
set -eu
lowdown=$1
in=$2
out=$3
version=$4

"$lowdown" -s -Tman -M "source=sluice $version" "$in" |
	sed -e '/^\.TH /a\
.ad l' \
	    -e "/^[.']/!{
s/\([^ \\\\]\)\.\([^ \\\\]\)/\1\\\\:.\2/g
s/\([^ \\\\]\)\.\([^ \\\\]\)/\1\\\\:.\2/g
s/\/\([^ \\\\]\)/\/\\\\:\1/g
s/\([A-Za-z]\)_\([A-Za-z]\)/\1_\\\\:\2/g
s/\([A-Za-z]\)_\([A-Za-z]\)/\1_\\\\:\2/g
}" >"$out.tmp"
mv "$out.tmp" "$out"
