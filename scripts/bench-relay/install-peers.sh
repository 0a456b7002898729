#!/usr/bin/env bash
# Unpacks the relay peers that conflict with Postfix as Debian packages (one
# mail-transport-agent at a time) into a private prefix, so that each runs beside the
# others: Exim 4 (exim4-daemon-light) and OpenSMTPD (opensmtpd), as `apt-get download` +
# `dpkg-deb -x` into PREFIX/<package>/. Installs their shared-library dependencies with
# apt (whatever `ldd` reports missing), and creates the system users each daemon's binary
# has compiled in (what the packages' postinst scripts would do): Debian-exim, opensmtpd,
# opensmtpq, and OpenSMTPD's empty chroot directory. Idempotent.
#
# Usage: scripts/bench-relay/install-peers.sh PREFIX     (PREFIX: e.g. target/peers)
set -euo pipefail
prefix="${1:?usage: install-peers.sh PREFIX}"
mkdir -p "$prefix/debs"
prefix="$(cd "$prefix" && pwd)"
export DEBIAN_FRONTEND=noninteractive

# package -> the binary that must be there after unpacking
declare -A bins=([exim4-daemon-light]=usr/sbin/exim4 [opensmtpd]=usr/sbin/smtpd)
# Libraries they link, from the packages' Depends (ldd below catches anything else).
libs=(libidn12 libidn2-0 libgnutls30 libgnutls-dane0 libnsl2 libpcre2-8-0 libdb5.3
      libevent-2.1-7 libssl3 zlib1g libpam0g libcrypt1)

for pkg in "${!bins[@]}"; do
  dir="$prefix/$pkg"
  if [ ! -x "$dir/${bins[$pkg]}" ]; then
    (cd "$prefix/debs" && rm -f "${pkg}"_*.deb && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    deb="$(ls "$prefix/debs/${pkg}"_*.deb)"
    rm -rf "$dir"
    mkdir -p "$dir"
    dpkg-deb -x "$deb" "$dir"
    echo "unpacked $(basename "$deb") into $dir"
  fi
done

missing=()
for l in "${libs[@]}"; do
  dpkg-query -W -f='${Status}\n' "$l" 2>/dev/null | grep -q 'install ok installed' || missing+=("$l")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for pkg in "${!bins[@]}"; do
  if ldd "$prefix/$pkg/${bins[$pkg]}" | grep -q 'not found'; then
    echo "FAIL: $pkg: libraries still missing:" >&2
    ldd "$prefix/$pkg/${bins[$pkg]}" | grep 'not found' >&2
    exit 1
  fi
done

# Users compiled into the binaries (as the packages' postinst scripts create them).
getent passwd Debian-exim >/dev/null || adduser --system --group --quiet \
  --home /var/spool/exim4 --no-create-home --disabled-login --force-badname Debian-exim
for name in opensmtpd opensmtpq; do
  getent group "$name" >/dev/null || addgroup --system --quiet "$name"
  getent passwd "$name" >/dev/null || adduser --system --quiet --ingroup "$name" \
    --home /var/lib/opensmtpd/empty --no-create-home --disabled-password "$name"
done
# OpenSMTPD's unprivileged processes chroot here (compiled in); its spool
# (/var/spool/smtpd, compiled in) is bind-mounted per run from the run's own directory.
install -d -m 0755 /var/lib/opensmtpd/empty
install -d -m 0711 /var/spool/smtpd
echo "relay peers ready: $prefix/exim4-daemon-light/usr/sbin/exim4 $prefix/opensmtpd/usr/sbin/smtpd"
