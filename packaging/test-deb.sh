#!/bin/bash
# The Debian package holds what an installation needs and says what it
# depends on: built from the build under test with packaging/deb/build,
# then inspected with dpkg-deb (nothing is installed on this machine).
# usage: test-deb.sh BUILDDIR
set -euo pipefail
build=${1:?build dir}
top=$(cd "$(dirname "$0")/.." && pwd)
for t in dpkg-deb dpkg-shlibdeps; do
	if ! command -v $t >/dev/null; then
		[ "${SL_NO_SKIP:-}" = 1 ] && { echo "FAIL: $t missing (dpkg-dev)" >&2; exit 1; }
		echo "SKIP: $t missing (apt-get install dpkg-dev)" >&2
		exit 77
	fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

deb=$("$top/packaging/deb/build" -B "$build" -o "$tmp" | tail -1)
[ -f "$deb" ] || fail "no package built"
info=$(dpkg-deb --field "$deb")
echo "$info"
[ "$(dpkg-deb --field "$deb" Package)" = sluice ] || fail "package name"
ver=$(meson introspect --projectinfo "$build" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
[ "$(dpkg-deb --field "$deb" Version)" = "$ver" ] || fail "version is not the project's $ver"
deps=$(dpkg-deb --field "$deb" Depends)
for lib in libc6 libssl3 liburing2 libnl-3-200 libnl-route-3-200 libyaml-0-2 libnftables1 libre2-9 nftables; do
	grep -qw -- "$lib" <<<"$deps" || fail "Depends lacks $lib: $deps"
done

contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
for f in ./usr/sbin/sluiced ./usr/bin/sluice ./lib/systemd/system/sluiced.service \
	./usr/share/doc/sluice/sluiced.8.md ./usr/share/doc/sluice/ARCHITECTURE.md \
	./usr/share/doc/sluice/copyright ./usr/share/doc/sluice/kubernetes/daemonset.yaml; do
	grep -qx -- "$f" <<<"$contents" || fail "$f is not in the package"
done
# nothing from the build tree or the tests leaks in
if grep -E 'build-|/tests?/|\.o$|\.a$' <<<"$contents"; then
	fail "build or test files in the package"
fi
dpkg-deb --contents "$deb" | awk '$2 != "root/root" { print; bad=1 } END { exit bad }' ||
	fail "files not owned by root"

# the files work where they land
dpkg-deb -x "$deb" "$tmp/x"
"$tmp/x/usr/bin/sluice" help >/dev/null || fail "packaged sluice does not run"
"$tmp/x/usr/sbin/sluiced" --help >/dev/null || fail "packaged sluiced does not run"
unit=$tmp/x/lib/systemd/system/sluiced.service
grep -q '^ExecStart=/usr/sbin/sluiced --config /etc/sluice ' "$unit" ||
	fail "unit does not start /usr/sbin/sluiced with /etc/sluice: $(grep ^ExecStart "$unit")"
grep -q 'file:///usr/share/doc/sluice/sluiced.8.md' "$unit" || fail "unit Documentation= path"
# the list first: "tar -t | grep -q" fails under pipefail when grep exits
# early and tar gets SIGPIPE on its next line
ctrl=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)
grep -qx './postinst' <<<"$ctrl" || fail "no postinst: $ctrl"
echo "package OK: $(basename "$deb")"
