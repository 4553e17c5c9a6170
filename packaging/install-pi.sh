#!/bin/sh
# Installs boltcharge on a Raspberry Pi (Raspberry Pi OS / Debian 12, arm64 or armhf) as systemd services.
# Run as root from the directory holding the package tarball:
#   sudo sh install-pi.sh boltcharge-<version>.tgz [wall|vehicle]
# Idempotent: re-running upgrades the package and leaves configuration and data alone.
set -eu

tarball=${1:?usage: install-pi.sh <boltcharge-x.y.z.tgz> [wall|vehicle]}
role=${2:-wall}
case "$role" in wall | vehicle) ;; *) echo "role must be wall or vehicle" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }

# 1. Node.js >= 20.19, a compiler for better-sqlite3's native module, python3 for sd_notify
apt-get update
apt-get install -y --no-install-recommends nodejs npm build-essential python3
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  { echo "Node.js >= 20.19 is needed (see https://deb.nodesource.com)" >&2; exit 1; }

# 2. the package, globally under /usr (binary /usr/bin/boltcharge); npm 11 blocks dependency install scripts
#    unless allowed: better-sqlite3 (SQLite store) and @serialport/bindings-cpp (serial ports) need theirs
npm install --global --prefix /usr --allow-scripts=better-sqlite3,@serialport/bindings-cpp "$tarball"
pkg=/usr/lib/node_modules/boltcharge

# 3. a dedicated system user in group dialout (serial ports), its state and configuration directories
id boltcharge >/dev/null 2>&1 || useradd --system --home-dir /var/lib/boltcharge --shell /usr/sbin/nologin \
  --groups dialout boltcharge
install -d -o boltcharge -g boltcharge -m 0750 /var/lib/boltcharge
install -d -o root -g boltcharge -m 0750 /etc/boltcharge
if [ ! -e "/etc/boltcharge/$role.yaml" ]; then
  sed "s#^  path: $role.sqlite#  path: /var/lib/boltcharge/$role.sqlite#" "$pkg/$role-module/$role.example.yaml" \
    > "/etc/boltcharge/$role.yaml"
  chown root:boltcharge "/etc/boltcharge/$role.yaml"
  chmod 0640 "/etc/boltcharge/$role.yaml"
  echo "edit /etc/boltcharge/$role.yaml (node, serial devices, prices), then: boltcharge doctor --config /etc/boltcharge/$role.yaml"
fi

# 4. stable serial device names, and the service
install -m 0644 "$pkg/packaging/udev/99-boltcharge.rules" /etc/udev/rules.d/99-boltcharge.rules
udevadm control --reload && udevadm trigger --subsystem-match=tty || true
install -m 0644 "$pkg/packaging/systemd/boltcharge-$role.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable "boltcharge-$role.service"
echo "installed; start with: systemctl start boltcharge-$role && journalctl -fu boltcharge-$role"
