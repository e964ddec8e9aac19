#!/usr/bin/env bash
# Build the busybox initramfs of the sluice kTLS test VM.
#
# Usage: mkinitramfs.sh OUTPUT
#
# OUTPUT becomes a gzip'd cpio (newc) archive holding a static busybox,
# tests/vm/guest-init as /init, the modprobe wrapper and the few kernel
# modules needed to mount the host's root over virtio-9p.  Everything else
# (tls, AES-GCM, veth, nf_tables, ...) is loaded later from the host's
# /lib/modules through the wrapper.
#
# Environment:
#   KVER     kernel version (default: newest /lib/modules/6.1.*)
#   BUSYBOX  static busybox binary (default: busybox in PATH)
#
# The archive is cached: it is rebuilt only when OUTPUT is missing or one of
# its inputs (this script, guest-init, the wrapper, busybox, the modules, KVER)
# changed.  A digest of the inputs is kept in OUTPUT.stamp.
set -euo pipefail

die() { echo "mkinitramfs: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: mkinitramfs.sh OUTPUT"
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ -z "${KVER:-}" ]; then
	KVER=$(cd /lib/modules 2>/dev/null && ls -d 6.1.* 2>/dev/null | sort -V | tail -n 1) ||
		true
	[ -n "$KVER" ] || die "no /lib/modules/6.1.* (install linux-image-amd64)"
fi
moddir=/lib/modules/$KVER
[ -d "$moddir" ] || die "$moddir missing"

bb=${BUSYBOX:-$(command -v busybox || true)}
if [ -z "$bb" ] || [ ! -x "$bb" ]; then
	die "busybox not found (install busybox-static)"
fi
# A dynamic busybox would need its libraries in the initramfs.
if command -v file >/dev/null &&
	! LC_ALL=C file -L "$bb" | grep -q 'statically linked'; then
	die "$bb is not statically linked (install busybox-static)"
fi

# Order matters: busybox insmod does not resolve dependencies.
mods="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
netfs fscache 9pnet 9pnet_virtio 9p"

modfiles=()
for m in $mods; do
	f=$(find "$moddir/kernel" \( -name "$m.ko" -o -name "$m.ko.xz" \
		-o -name "$m.ko.zst" -o -name "$m.ko.gz" \) -print -quit)
	if [ -z "$f" ]; then
		# built into this kernel? then there is nothing to load
		if grep -q "/$m.ko\$" "$moddir/modules.builtin" 2>/dev/null; then
			continue
		fi
		die "module $m not found under $moddir"
	fi
	modfiles+=("$f")
done

inputs=("$0" "$here/guest-init" "$here/modprobe-host" "$bb" "${modfiles[@]}")
digest=$( {
	echo "KVER=$KVER"
	sha256sum "${inputs[@]}"
} | sha256sum | cut -d' ' -f1)

if [ -f "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$digest" ]; then
	exit 0
fi

mkdir -p "$(dirname "$out")"
stage=$(mktemp -d "${TMPDIR:-/tmp}/sluice-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,dev,proc,sys,host,res,mods,etc}
cp "$bb" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
install -m 0755 "$here/guest-init" "$stage/init"
install -m 0755 "$here/modprobe-host" "$stage/sbin/modprobe-host"
echo "$KVER" >"$stage/etc/kver"

: >"$stage/mods/order"
for f in "${modfiles[@]}"; do
	b=$(basename "$f")
	case $b in
	*.ko.xz) xz -dc "$f" >"$stage/mods/${b%.xz}"; b=${b%.xz} ;;
	*.ko.zst) zstd -qdc "$f" >"$stage/mods/${b%.zst}"; b=${b%.zst} ;;
	*.ko.gz) gzip -dc "$f" >"$stage/mods/${b%.gz}"; b=${b%.gz} ;;
	*) cp "$f" "$stage/mods/$b" ;;
	esac
	echo "$b" >>"$stage/mods/order"
done

tmp=$out.tmp.$$
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet -R 0:0) | gzip -9 >"$tmp"
mv -f "$tmp" "$out"
echo "$digest" >"$out.stamp"
echo "mkinitramfs: built $out for $KVER" >&2
