#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The one place that lists and installs msgw's Debian packages. Idempotent:
# packages already present are not touched, so a second run is quick and
# works offline.
set -euo pipefail

packages=(
  # build
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
  # libraries
  libdpdk-dev dpdk libspandsp-dev libbcg729-dev libosip2-dev libtomlplusplus-dev
  libsqlite3-dev nlohmann-json3-dev libfmt-dev libspdlog-dev libpcap-dev libc-ares-dev
  # tests and benchmarks
  googletest libgmock-dev libgtest-dev libbenchmark-dev sip-tester tshark iproute2 iputils-ping
  sox espeak-ng python3 procps psmisc ethtool util-linux
  gcovr  # scripts/coverage.sh
  dnsmasq  # the DNS server of the trunk-by-name check (control_trunk_dns.sh)
  dpdk-dev  # dpdk-testpmd, the benchmark's io-forward ceiling
  libmicrohttpd-dev  # msgw-control's /metrics endpoint
  prometheus  # promtool: checks the /metrics exposition
  debhelper lintian dpkg-dev fakeroot systemd  # the Debian package and its unit checks
  help2man  # the package's man pages, from each binary's --help
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer for it.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -q
apt-get install -y -q "${missing[@]}"
