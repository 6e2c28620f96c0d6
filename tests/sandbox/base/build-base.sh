#!/bin/bash
# Build the sandbox's base image: a minimal Debian 12 root file system made with debootstrap,
# imported into the local Docker Engine (no registry is reachable, so nothing is pulled).
#
#   build-base.sh IMAGE:TAG [DEBIAN_MIRROR]
#
# Called by `dlrs-provision sandbox up` when no image with the recipe's hash exists; the tag it
# passes is dlrs-sandbox/base:<hash of this directory>. Every image of the sandbox builds on it.
set -euo pipefail

tag=${1:?usage: build-base.sh IMAGE:TAG [DEBIAN_MIRROR]}
mirror=${2:-http://deb.debian.org/debian}
suite=bookworm

# What every sandbox host needs: systemd as PID 1, sshd, Python for Ansible, sudo for become,
# and the small tools that later roles expect on a server (lscpu is in util-linux).
packages=(
    systemd systemd-sysv dbus
    openssh-server sudo
    python3 python3-apt
    iproute2 iputils-ping procps util-linux kmod
    ca-certificates curl gnupg
)

work=$(mktemp -d "${TMPDIR:-/var/tmp}/dlrs-sandbox-base.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
root=$work/root

echo "debootstrap $suite into $root (from $mirror)" >&2
debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
    "$suite" "$root" "$mirror" >&2

# Keep documentation, manual pages and translations out of this image and of everything that
# later installs on top of it (as Debian's and Ubuntu's minimal container images do).
cat > "$root/etc/dpkg/dpkg.cfg.d/01-dlrs-sandbox-nodoc" <<'CFG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
CFG
find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +

# Each container is its own machine: no baked machine id, no shared ssh host keys (the
# dlrs-sandbox-ssh-keygen unit below makes fresh keys on first boot), no host name of this machine.
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
echo localhost > "$root/etc/hostname"

cat > "$root/etc/systemd/system/dlrs-sandbox-ssh-keygen.service" <<'UNIT'
[Unit]
Description=Generate this container's ssh host keys (dlrs-provision sandbox)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
RequiredBy=ssh.service
UNIT
chroot "$root" systemctl enable dlrs-sandbox-ssh-keygen.service

# Units that make no sense in a container and would leave systemd "degraded": there is no
# console, no file system to remount, no kernel module to load, no e2fs to scrub.
chroot "$root" systemctl mask \
    getty@tty1.service console-getty.service serial-getty@.service \
    systemd-remount-fs.service systemd-modules-load.service \
    e2scrub_reap.service e2scrub_all.timer >/dev/null

# The package lists and downloaded packages are stale the moment the image exists:
# hosts run `apt-get update` (directly or through the sandbox's apt-cacher-ng) before installing.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
rm -rf "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*

echo "importing as $tag" >&2
tar --numeric-owner -C "$root" -c . | docker import \
    -c 'CMD ["/lib/systemd/systemd"]' \
    -c 'LABEL dlrs-provision.sandbox.image=base' \
    -m "dlrs-provision sandbox base: debootstrap --variant=minbase $suite" \
    - "$tag" >&2
