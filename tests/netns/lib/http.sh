# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2034,SC2154 # the variables are the sourcing script's, "here" too
#
# http.sh - the start every L7 netns test (http-*.sh) shares.  Source it
# with the script's arguments, after setting "here" to tests/netns:
#
#   here=$(cd "$(dirname "$0")" && pwd)
#   # shellcheck source=lib/http.sh
#   . "$here/lib/http.sh" "$@"
#
# It sources topology.sh and tm.sh, takes SLUICED SLUICE NFT_TOOL SL_TCP
# from the arguments (tm_args), skips (77) without curl or python3, and
# sets:
#   py        Debian's python3 (/usr/bin/python3) when there, else PATH's:
#             a version manager's shim in PATH costs a process per call
#   UP CL     lib/http_upstream.py, lib/http_client.py
#   ALOGPY    lib/http_alog.py
#   failed    the number of failed assertions, 0
# Functions:
#   bad MSG        report "not ok - MSG" and count it (ok MSG is tm.sh's)
#   http_finish    stop both daemons (each must exit 0: ASan finds no
#                  leak), dump the logs and fail if an assertion failed,
#                  else print PASS
# Every assertion is reported, and the script fails at the end if any
# failed, so that one run shows every difference.

# shellcheck source=lib/topology.sh
. "$here/lib/topology.sh"
# shellcheck source=lib/tm.sh
. "$here/lib/tm.sh"

tm_args "$@"
command -v curl >/dev/null || tp_skip "curl not installed"
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || tp_skip "python3 not installed"
UP=$here/lib/http_upstream.py
CL=$here/lib/http_client.py
ALOGPY=$here/lib/http_alog.py
failed=0

bad() {
	echo "not ok - $*"
	failed=$((failed + 1))
}

http_finish() {
	tm_stop
	ok "both daemons stopped with exit 0"
	if [ "$failed" != 0 ]; then
		tm_dump_logs
		tp_fail "$failed assertion(s) failed"
	fi
	echo "PASS"
}
