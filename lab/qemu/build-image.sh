#!/usr/bin/env bash
# Builds the qemu Soft-RoCE lab's VM image from Debian bookworm packages (debootstrap), or
# reuses the cached one when nothing that goes into it changed. Run as root (debootstrap,
# chroot). Its last line on stdout is "cached DIR" or "built DIR" (the image directory);
# progress goes to stderr.
#
#   lab/qemu/build-image.sh [--cache DIR] [--force]
#
# Cache (default $IPOIB_QEMU_CACHE, else ~/.cache/ipoib-lab/qemu):
#   ssh/id_ed25519{,.pub}         the lab's client key (made once; root's authorized key in the VM)
#   ssh/host_ed25519_key{,.pub}   the VMs' host key (made once, baked into every image)
#   ssh/known_hosts               that host key for [127.0.0.1]:* (the lab file pins it)
#   debs/                         downloaded .debs, kept for the next build
#   images/<key>/                 rootfs.qcow2 (zstd-compressed qcow2), vmlinuz, initrd.img, manifest.json
#   current -> images/<key>       the image built or reused last
# The key is a sha256 over this script, the guest/ files, the package list, the suite, the
# host's Node.js version and the two public keys: any change there builds a new image. Debian's
# point updates of the same packages do not (use --force to pick them up).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${IPOIB_QEMU_CACHE:-$HOME/.cache/ipoib-lab/qemu}
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

suite=bookworm
mirror=${IPOIB_QEMU_MIRROR:-http://deb.debian.org/debian}
# What a lab node needs: the kernel (rdma_rxe, ib_uverbs), rdma-core's user space and tools,
# sshd, busybox (init and the initramfs), and what the reference stack needs to run and to
# build its addon there (Node.js itself is copied from this host: bookworm's nodejs is 18).
packages=(
  linux-image-amd64 kmod busybox-static
  rdma-core ibverbs-providers ibverbs-utils rdmacm-utils perftest libibverbs-dev librdmacm-dev
  iproute2 iputils-ping procps socat tcpdump ethtool openssh-server
  g++ make cmake python3 pkg-config zlib1g-dev libboost-dev
)
# Kernel module trees no lab VM loads (hardware drivers, sound, graphics): dropped to keep the
# image small. A module the lab needs and its dependencies are checked after depmod.
prune_modules=(
  sound drivers/gpu drivers/media drivers/net/wireless drivers/net/ethernet drivers/scsi
  drivers/usb drivers/iio drivers/staging drivers/comedi drivers/infiniband/hw drivers/isdn
  drivers/mtd drivers/target drivers/hwmon drivers/bluetooth net/bluetooth drivers/md
)
needed_modules=(virtio_pci virtio_blk virtio_net ext4 crc32c_generic rdma_rxe ib_uverbs rdma_ucm ib_umad ib_ipoib tun)
# Loaded by the initramfs, before the root disk can be mounted.
initramfs_modules=(virtio_pci virtio_blk crc32c_generic ext4)

say() { echo "build-image: $*" >&2; }
die() { echo "build-image: $*" >&2; exit 1; }

# --- prerequisites ---------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap and chroot)"
missing=()
for tool in debootstrap:debootstrap qemu-img:qemu-utils mke2fs:e2fsprogs ssh-keygen:openssh-client flock:util-linux sha256sum:coreutils; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
[ ${#missing[@]} -eq 0 ] || die "missing tools; install them with: apt-get install --no-install-recommends ${missing[*]}"
node_bin=$(readlink -f "$(command -v node || true)")
[ -x "$node_bin" ] || die "no node on PATH: the image gets this host's Node.js binary"
node_version=$("$node_bin" -p process.version)
node_major=${node_version#v}; node_major=${node_major%%.*}
[ "$node_major" -ge 20 ] || die "node $node_version is too old (the stack needs 20 or later)"
[ "$(uname -m)" = x86_64 ] || die "the image is amd64; this host is $(uname -m)"

# --- keys (made once per cache) --------------------------------------------------------------
mkdir -p "$cache/ssh" "$cache/images" "$cache/debs"
chmod 700 "$cache/ssh"
[ -f "$cache/ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C ipoib-lab-qemu -f "$cache/ssh/id_ed25519"
[ -f "$cache/ssh/host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C ipoib-lab-qemu-vm -f "$cache/ssh/host_ed25519_key"
# One pinned host key for every loopback port: the VMs' forwarded sshd ports vary per run.
printf '[127.0.0.1]:* %s\n' "$(cut -d' ' -f1,2 "$cache/ssh/host_ed25519_key.pub")" > "$cache/ssh/known_hosts"

# --- cache key -------------------------------------------------------------------------------
key=$(
  {
    echo "suite=$suite arch=amd64 node=$node_version"
    printf '%s\n' "${packages[@]}"
    sha256sum "$0" | cut -d' ' -f1
    for f in "$here"/guest/*; do echo "$(basename "$f") $(sha256sum < "$f" | cut -d' ' -f1)"; done
    cat "$cache/ssh/id_ed25519.pub" "$cache/ssh/host_ed25519_key.pub"
  } | sha256sum | cut -c1-16
)
image="$cache/images/$key"

exec 9>"$cache/.build.lock"
flock -w 1800 9 || die "another build holds $cache/.build.lock"

if [ "$force" -eq 0 ] && [ -f "$image/manifest.json" ]; then
  say "cached image $key"
  ln -sfn "images/$key" "$cache/current"
  echo "cached $image"
  exit 0
fi

# --- build -----------------------------------------------------------------------------------
started=$(date +%s)
work="$cache/images/.$key.partial"
root="$work/root"
# Unmounts whatever debootstrap may have left mounted under $1 (proc, sys, dev), deepest first.
unmount_under() {
  awk -v r="$1/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
}
cleanup_work() {
  unmount_under "$root"
  rm -rf -- "$work"
}
trap cleanup_work EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cleanup_work
mkdir -p "$work"

say "debootstrap $suite ($mirror) into $root"
include=$(IFS=,; echo "${packages[*]}")
# INITRD=No: the kernel package's hook makes no Debian initramfs; the lab has its own (below).
if ! INITRD=No debootstrap --variant=minbase --cache-dir="$cache/debs" --include="$include" \
    "$suite" "$root" "$mirror" > "$work/debootstrap.log" 2>&1; then
  tail -30 "$work/debootstrap.log" >&2
  die "debootstrap failed (the end of its log is above)"
fi
kver=$(basename "$(ls -d "$root"/lib/modules/*)")
say "kernel $kver"

say "configuring the guest"
rm -f "$root"/etc/ssh/ssh_host_*
install -m 600 "$cache/ssh/host_ed25519_key" "$root/etc/ssh/ssh_host_ed25519_key"
install -m 644 "$cache/ssh/host_ed25519_key.pub" "$root/etc/ssh/ssh_host_ed25519_key.pub"
install -m 644 "$here/guest/sshd.conf" "$root/etc/ssh/sshd_config.d/ipoib-lab.conf"
install -d -m 700 "$root/root/.ssh"
install -m 600 "$cache/ssh/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
install -m 644 "$here/guest/inittab" "$root/etc/inittab"
install -m 755 "$here/guest/ipoib-lab-rc" "$root/usr/local/sbin/ipoib-lab-rc"
install -m 755 "$node_bin" "$root/usr/local/bin/node"
echo ipoib-lab > "$root/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$root/etc/hosts"
: > "$root/etc/fstab"
env -u NODE_EXTRA_CA_CERTS -u NODE_OPTIONS chroot "$root" /usr/local/bin/node -e 'process.exit(0)' || die "the copied node does not run in the guest"

say "pruning kernel modules and documentation"
for d in "${prune_modules[@]}"; do rm -rf -- "$root/lib/modules/$kver/kernel/$d"; done
rm -rf -- "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* \
  "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
chroot "$root" depmod "$kver"
chroot "$root" modprobe -S "$kver" --show-depends "${needed_modules[@]}" > /dev/null \
  || die "a module the lab needs, or one it depends on, is missing after pruning"

say "initramfs"
ird="$work/initramfs"
mkdir -p "$ird/bin"
cp "$root/bin/busybox" "$ird/bin/busybox"
install -m 755 "$here/guest/initramfs-init" "$ird/init"
: > "$ird/modules.load"
for m in "${initramfs_modules[@]}"; do
  chroot "$root" modprobe -S "$kver" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
  mkdir -p "$ird$(dirname "$ko")"
  cp "$root$ko" "$ird$ko"
  echo "$ko" >> "$ird/modules.load"
done
# busybox's own cpio writes the archive, so the host needs no cpio package.
(cd "$ird" && find . | "$root/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.img"
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"

say "root file system (ext4) and compressed qcow2"
used_mib=$(du -sm "$root" | cut -f1)
size_mib=$((used_mib + used_mib / 5 + 1024)) # room for deployed releases; the snapshot keeps writes off the image
mke2fs -q -F -t ext4 -L ipoib-lab -d "$root" "$work/rootfs.raw" "${size_mib}M"
qemu-img convert -c -O qcow2 -o compression_type=zstd "$work/rootfs.raw" "$work/rootfs.qcow2"
rm -f "$work/rootfs.raw"

built=$(($(date +%s) - started))
pkgs_json=$(printf '"%s",' "${packages[@]}")
cat > "$work/manifest.json" <<JSON
{
  "key": "$key",
  "suite": "$suite",
  "kernel": "$kver",
  "node": "$node_version",
  "packages": [${pkgs_json%,}],
  "rootUsedMiB": $used_mib,
  "rootSizeMiB": $size_mib,
  "qcow2Bytes": $(stat -c %s "$work/rootfs.qcow2"),
  "buildSeconds": $built,
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
JSON

unmount_under "$root"
rm -rf -- "$root" "$ird"
rm -rf -- "$image"
mv -- "$work" "$image"
trap - EXIT
ln -sfn "images/$key" "$cache/current"
# Keep the two newest images (the one just built and its predecessor).
ls -1dt "$cache"/images/*/ 2>/dev/null | tail -n +3 | while read -r old; do rm -rf -- "$old"; done
say "image $key built in ${built} s ($(du -h "$image/rootfs.qcow2" | cut -f1) qcow2, ${used_mib} MiB used)"
echo "built $image"
