#!/bin/bash
# The Debian packages: built from this tree by packaging/deb/build
# (dpkg-buildpackage with debhelper and meson, from packaging/debian),
# clean for lintian (no error, no warning), with the files, conffiles,
# dependencies and maintainer scripts Debian expects; then installed with
# dpkg into an empty root (its own dpkg database; nothing is installed on
# this machine), where the installed sluiced --check accepts the shipped
# /etc/sluice and sluice --version names the project's version; finally
# purged, leaving nothing behind.
#
# usage: test-deb.sh BUILDDIR   (a configured meson build: the version)
# The package is built with DEB_BUILD_OPTIONS=nocheck: the unit suite it
# would run has just run on the CI build.  SL_DEB_CHECK=1 builds and runs
# it inside the package build too (minutes more).
set -euo pipefail
build=${1:?build dir}
top=$(cd "$(dirname "$0")/.." && pwd)
for t in dpkg-buildpackage dh lintian; do
	if ! command -v $t >/dev/null; then
		[ "${SL_NO_SKIP:-}" = 1 ] && { echo "FAIL: $t missing (packaging/install-deps)" >&2; exit 1; }
		echo "SKIP: $t missing (packaging/install-deps installs dpkg-dev, debhelper, lintian)" >&2
		exit 77
	fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

ver=$(meson introspect --projectinfo "$build" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
# the package's version is the project's
clver=$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -SVersion)
[ "$clver" = "$ver" ] ||
	fail "packaging/debian/changelog is at $clver, meson.build at $ver: add a changelog entry"

mkdir "$tmp/out"
if [ "${SL_DEB_CHECK:-}" = 1 ]; then
	opts=() bo=
else
	opts=(-us -uc -b -Pnocheck) bo=nocheck
fi
start=$(date +%s)
DEB_BUILD_OPTIONS="${bo:+$bo }${DEB_BUILD_OPTIONS:-}" \
	"$top/packaging/deb/build" -o "$tmp/out" -- "${opts[@]}" >"$tmp/build.log" 2>&1 ||
	{ tail -50 "$tmp/build.log"; fail "packaging/deb/build failed"; }
echo "packages built in $(($(date +%s) - start)) s"
changes=$(tail -1 "$tmp/build.log")
[ -f "$changes" ] || fail "no .changes: $changes"
cd "$tmp/out"
# lintian: no error, no warning (informational tags are listed)
lrc=0
lint=$(lintian --fail-on error,warning --display-info --pedantic "$changes" 2>&1) || lrc=$?
lint=$(grep -v 'running with root privileges' <<<"$lint") || true
[ -z "$lint" ] || echo "$lint"
if [ "$lrc" != 0 ] || grep -qE '^[EW]: ' <<<"$lint"; then
	fail "lintian reports errors or warnings (above; exit $lrc)"
fi
echo "lintian: no error, no warning"

for p in sluice sluiced sluice-dbgsym sluiced-dbgsym; do
	[ -f "${p}_${ver}_${arch}.deb" ] || fail "${p}_${ver}_${arch}.deb was not built: $(ls)"
done
# nothing else: a new binary package must be added here on purpose
n=$(ls ./*.deb | wc -l)
[ "$n" = 4 ] || fail "$n packages built, want 4: $(ls ./*.deb)"

# what each package holds and needs
deb_cli=sluice_${ver}_${arch}.deb deb_d=sluiced_${ver}_${arch}.deb
has() { # deb file...
	local deb=$1 list
	shift
	list=$(dpkg-deb --contents "$deb" | awk '{print $6}')
	for f in "$@"; do
		grep -qx -- "$f" <<<"$list" || fail "$f is not in $deb"
	done
}
has "$deb_cli" ./usr/bin/sluice ./usr/share/man/man8/sluice.8.gz \
	./usr/share/man/man5/sluice-config.5.gz ./usr/share/bash-completion/completions/sluice \
	./usr/share/doc/sluice/copyright \
	./usr/share/doc/sluice/changelog.gz ./usr/share/doc/sluice/sluiced.8.md \
	./usr/share/doc/sluice/ARCHITECTURE.md ./usr/share/doc/sluice/examples/sluiced.yaml \
	./usr/share/doc/sluice/examples/kubernetes/daemonset.yaml \
	./usr/share/doc/sluice/examples/kubernetes/configmap.yaml \
	./usr/share/doc/sluice/examples/kubernetes/seccomp/sluiced.json
has "$deb_d" ./usr/sbin/sluiced ./usr/share/man/man8/sluiced.8.gz \
	./lib/systemd/system/sluiced.service ./etc/sluice/sluiced.yaml
for deb in ./*.deb; do
	if dpkg-deb --contents "$deb" | awk '{print $6}' | grep -E '/(obj-[^/]*|build[^/]*|tests?)/|\.o$|\.a$'; then
		fail "build or test files in $deb"
	fi
	dpkg-deb --contents "$deb" | awk '$2 != "root/root" { print; bad=1 } END { exit bad }' ||
		fail "files in $deb not owned by root"
done
dpkg-deb --contents "$deb_cli" | grep -q ' \./usr/sbin/sluiced' && fail "the CLI package holds the daemon"
dpkg-deb --contents "$deb_d" | grep -q ' \./usr/bin/sluice$' && fail "the daemon package holds the CLI"
ddeps=$(dpkg-deb --field "$deb_d" Depends)
for lib in "sluice (= $ver)" libc6 libssl3 liburing2 libnl-3-200 libnl-route-3-200 \
	libyaml-0-2 libnftables1 libre2-9 libsystemd0; do
	grep -qF -- "$lib" <<<"$ddeps" || fail "sluiced's Depends lacks $lib: $ddeps"
done
[ "$(dpkg-deb --field "$deb_d" Source)" = sluice ] || fail "sluiced does not come from source sluice"
mkdir "$tmp/ctrl"
dpkg-deb --control "$deb_d" "$tmp/ctrl"
grep -qx /etc/sluice/sluiced.yaml "$tmp/ctrl/conffiles" || fail "/etc/sluice/sluiced.yaml is not a conffile"
# dh_installsystemd's scripts: the unit is registered but not enabled on a
# fresh install, restarted after an upgrade, stopped on removal
grep -q "deb-systemd-helper update-state 'sluiced.service'" "$tmp/ctrl/postinst" ||
	fail "postinst does not register the unit with deb-systemd-helper"
grep -q "deb-systemd-helper debian-installed 'sluiced.service'" "$tmp/ctrl/postinst" ||
	fail "postinst enables the unit on a fresh install (want dh_installsystemd --no-enable)"
# an upgrade hands over instead of restarting (sluiced(8), "Restarts and
# upgrades"): no restart by dh_installsystemd, `sluice upgrade` instead;
# removal takes the kept steering table away; neither touches the running
# system when installing into another root
! grep -q '_dh_action=restart' "$tmp/ctrl/postinst" ||
	fail "postinst restarts sluiced after an upgrade (want the handover)"
grep -q '^	if ! sluice upgrade; then' "$tmp/ctrl/postinst" ||
	fail "postinst does not run sluice upgrade"
grep -q 'DPKG_ROOT' "$tmp/ctrl/postinst" || fail "postinst upgrades a sluiced even under DPKG_ROOT"
grep -q '/usr/sbin/sluiced --remove-steering' "$tmp/ctrl/prerm" ||
	fail "prerm does not remove the steering table"
grep -q 'DPKG_ROOT' "$tmp/ctrl/prerm" || fail "prerm touches the kernel even under DPKG_ROOT"
grep -q "deb-systemd-invoke stop 'sluiced.service'" "$tmp/ctrl/prerm" || fail "prerm does not stop the unit"

# install into an empty root with its own dpkg database.  The libraries
# the packages depend on are recorded there as this machine has them (the
# records only: the binaries run on this machine's libraries), so dpkg
# checks the dependencies against Debian's real versions.  Maintainer
# scripts run outside the root with DPKG_ROOT set; systemctl and
# deb-systemd-invoke are stubs, so nothing reaches this machine's systemd.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/log" "$tmp/bin"
: >"$root/var/lib/dpkg/available"
deps=$( (dpkg-deb --field "$deb_cli" Depends; dpkg-deb --field "$deb_d" Depends) |
	tr ',' '\n' | sed 's/^ *//; s/[ (].*//' | grep -v '^sluice$' | sort -u)
for p in $deps; do
	dpkg-query -s "$p" 2>/dev/null >>"$root/var/lib/dpkg/status" ||
		fail "dependency $p is not installed on this machine (packaging/install-deps)"
	echo >>"$root/var/lib/dpkg/status"
	: >"$root/var/lib/dpkg/info/$(dpkg-query -W -f='${binary:Package}' "$p").list"
done
for s in systemctl deb-systemd-invoke; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$s" "$tmp" >"$tmp/bin/$s"
	chmod +x "$tmp/bin/$s"
done
dpkg_root() {
	local f=(--root="$root" --force-script-chrootless)
	[ "$(id -u)" = 0 ] || f+=(--force-not-root)
	PATH=$tmp/bin:$PATH dpkg "${f[@]}" "$@"
}
dpkg_root -i "$deb_cli" "$deb_d" >"$tmp/dpkg.log" 2>&1 ||
	{ cat "$tmp/dpkg.log"; fail "dpkg could not install the packages"; }
for p in sluice sluiced; do
	[ "$(dpkg_root -s $p | sed -n 's/^Status: //p')" = "install ok installed" ] ||
		fail "$p is not installed: $(dpkg_root -s $p)"
done
dpkg_root -s sluiced | grep -q '^ /etc/sluice/sluiced.yaml ' || fail "dpkg did not record the conffile"
[ -z "$(find "$root/etc" -path '*systemd*' -name sluiced.service)" ] ||
	fail "the unit was enabled on installation"
[ -f "$root/var/lib/systemd/deb-systemd-helper-enabled/sluiced.service.dsh-also" ] ||
	fail "deb-systemd-helper did not register the unit"

# the installed files work
out=$("$root/usr/sbin/sluiced" --check --config "$root/etc/sluice" 2>&1) ||
	fail "installed sluiced --check rejects the shipped /etc/sluice: $out"
echo "$out"
grep -q ': OK' <<<"$out" || fail "sluiced --check did not say OK: $out"
"$root/usr/sbin/sluiced" --check --config "$root/usr/share/doc/sluice/examples" >/dev/null ||
	fail "installed sluiced --check rejects the shipped examples"
out=$("$root/usr/bin/sluice" --version)
[ "$out" = "sluice $ver" ] || fail "installed sluice --version says '$out', want 'sluice $ver'"
echo "$out"
"$root/usr/bin/sluice" check "$root/etc/sluice" >/dev/null || fail "installed sluice check rejects /etc/sluice"
# man finds the installed pages; bash loads the completion
if command -v man >/dev/null; then
	for page in sluiced sluice sluice-config; do
		found=$(man --manpath="$root/usr/share/man" -w "$page" 2>&1) || fail "man does not find $page: $found"
		case $found in "$root"/*) ;; *) fail "man $page finds $found, not the installed page" ;; esac
	done
fi
bash -c '. "$1" && complete -p sluice' _ "$root/usr/share/bash-completion/completions/sluice" >/dev/null ||
	fail "the installed bash completion does not complete sluice"
unit=$root/lib/systemd/system/sluiced.service
grep -q '^ExecStart=/usr/sbin/sluiced --config /etc/sluice ' "$unit" ||
	fail "unit does not start /usr/sbin/sluiced with /etc/sluice: $(grep ^ExecStart "$unit")"
grep -q '^ExecStartPre=/usr/sbin/sluiced --check --config /etc/sluice$' "$unit" ||
	fail "unit does not check /etc/sluice first: $(grep ^ExecStartPre "$unit")"
for d in $(sed -n 's/^Documentation=//p' "$unit"); do
	case $d in
	file://*) [ -e "$root${d#file://}" ] || fail "unit's Documentation= $d is not installed" ;;
	man:*)
		page=${d#man:} sec=${d##*(} sec=${sec%)}
		page=${page%(*}
		found=$(man --manpath="$root/usr/share/man" -w "$sec" "$page" 2>&1) ||
			fail "unit's Documentation= $d is not installed: $found"
		;;
	*) fail "unit's Documentation= $d: neither file:// nor man:" ;;
	esac
done

# an upgrade (here: the same version again) keeps the admin's edits of
# the conffile, and leaves the unit disabled
echo "# edited by the admin" >>"$root/etc/sluice/sluiced.yaml"
dpkg_root -i "$deb_cli" "$deb_d" >"$tmp/dpkg.log" 2>&1 ||
	{ cat "$tmp/dpkg.log"; fail "dpkg could not reinstall the packages"; }
grep -qx '# edited by the admin' "$root/etc/sluice/sluiced.yaml" ||
	fail "reinstalling overwrote the edited /etc/sluice/sluiced.yaml"
[ -z "$(find "$root/etc" -path '*systemd*' -name sluiced.service)" ] ||
	fail "the unit was enabled on upgrade"

# purge: nothing left of either package (the state directory included)
mkdir -p "$root/var/lib/sluice/ca"
dpkg_root --purge sluiced sluice >"$tmp/dpkg.log" 2>&1 ||
	{ cat "$tmp/dpkg.log"; fail "dpkg could not purge the packages"; }
left=$(cd "$root" && find . -path ./var/lib/dpkg -prune -o -path ./var/log -prune -o \
	\( -type f -o -type l \) -print)
[ -z "$left" ] || fail "left after purge: $left"
[ ! -e "$root/etc/sluice" ] || fail "/etc/sluice left after purge"
echo "package OK: $(cd "$tmp/out" && ls ./*.deb | tr '\n' ' ')"
