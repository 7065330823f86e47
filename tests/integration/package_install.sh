#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The Debian package from end to end, on this machine:
#  1. scripts/package.sh packages the build dir (no second compile); lintian
#     finds no error in it;
#  2. dpkg -i installs it: dpkg -L lists the binaries, the conffile, the
#     units, tmpfiles.d and the man pages; tmpfiles made /var/lib/msgw and
#     /run/msgw; systemd-analyze verify passes on the installed units;
#  3. the installed binaries (/usr/sbin/msgw-dataplane, /usr/sbin/msgw-control)
#     run on the namespace rig with the installed /etc/msgw/msgw.toml as it is
#     (the reference deployment is the rig's), and carry one call: SIPp phone
#     to SIPp carrier, G.729 relayed both ways; the installed msgwctl, on its
#     default socket /run/msgw/control.sock, shows its CDR with media packets
#     on both legs, written to the packaged /var/lib/msgw/state.db;
#  4. dpkg -r removes the binaries and units and keeps the conffile (dpkg:
#     "config-files"); dpkg -P then removes it and /var/lib/msgw.
# A machine where msgw is installed already is left alone (skipped).
# Usage: package_install.sh BUILD_DIR   (root; 77 = skipped)
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then echo "needs root (dpkg, network namespaces)"; exit 77; fi
build=$(cd "$1" && pwd)
if dpkg-query -W -f='${Status}' msgw 2>/dev/null | grep -qv '^unknown\|not-installed'; then
  echo "msgw is installed on this machine ($(dpkg-query -W -f='${Status} ${Version}' msgw)): not touching it"
  exit 77
fi
source "$(dirname "$0")/control_lib.sh"
msgwctl=/usr/bin/msgwctl  # the installed one, not the build's
instance=msgw             # [instance] name of the packaged configuration

installed_by_us=false
cleanup() {
  rig_cleanup
  rm -f "/dev/shm/msgw-$instance"
  if $installed_by_us; then dpkg -P msgw >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# 0. debian/control builds with what scripts/setup.sh installs: every -dev
# package there but the test-only ones (and dpkg-dev, a tool) is a Build-Depends.
test_only=" googletest libgmock-dev libgtest-dev libbenchmark-dev libclang-rt-14-dev dpdk-dev dpkg-dev "
build_deps=$(sed -n '/^Build-Depends:/,/^$/p' "$root/debian/control" | grep -o '[a-z0-9][a-z0-9.+-]*-dev')
for p in $(sed -n '/^packages=(/,/^)/p' "$root/scripts/setup.sh" | sed 's/#.*//' | grep -o '[a-z0-9][a-z0-9.+-]*-dev\b'); do
  [[ $test_only == *" $p "* ]] && continue
  grep -qx "$p" <<<"$build_deps" || fail "scripts/setup.sh installs $p, debian/control's Build-Depends lacks it"
done
echo "ok   debian/control's Build-Depends has every library package of scripts/setup.sh"

# 1. package
t0=$SECONDS
deb=$(DEB_BUILD_OPTIONS=noautodbgsym "$root/scripts/package.sh" "$build" | tail -n 1)
[[ -f $deb ]] || fail "scripts/package.sh gave no .deb"
version=$(dpkg-deb -f "$deb" Version)
echo "ok   packaged $(basename "$deb") in $((SECONDS - t0)) s"
lintian_rc=0
lintian_out=$(lintian --fail-on error "$deb" 2>&1) || lintian_rc=$?
lintian_out=$(grep -v 'running with root privileges' <<<"$lintian_out" || true)
((lintian_rc == 0)) || fail "lintian: $lintian_out"
echo "ok   lintian: no error${lintian_out:+; $(grep -c '^W:' <<<"$lintian_out") warning(s): $(grep '^W:' <<<"$lintian_out" | cut -d' ' -f3 | sort -u | tr '\n' ' ')}"

# 2. install
dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1 || { cat "$work/dpkg-i.log"; fail "dpkg -i"; }
installed_by_us=true
expected=(
  /usr/sbin/msgw-dataplane /usr/sbin/msgw-control /usr/bin/msgwctl /usr/bin/msgw-loadtest
  /etc/msgw/msgw.toml
  /lib/systemd/system/msgw-dataplane.service /lib/systemd/system/msgw-control.service
  /lib/systemd/system/msgw-host-prepare.service
  /usr/lib/tmpfiles.d/msgw.conf
  /usr/share/man/man8/msgw-dataplane.8.gz /usr/share/man/man8/msgw-control.8.gz
  /usr/share/man/man1/msgwctl.1.gz /usr/share/man/man1/msgw-loadtest.1.gz
  /usr/share/doc/msgw/copyright
)
listed=$(dpkg -L msgw)
for f in "${expected[@]}"; do
  grep -qx "$f" <<<"$listed" || fail "dpkg -L msgw does not list $f"
  [[ -e $f ]] || fail "$f is listed but not on disk"
done
dpkg-query -W -f='${Conffiles}\n' msgw | grep -q '^ /etc/msgw/msgw.toml ' || fail "/etc/msgw/msgw.toml is not a conffile"
for d in /var/lib/msgw /run/msgw; do [[ -d $d ]] || fail "$d not created (tmpfiles.d)"; done
for b in /usr/sbin/msgw-dataplane /usr/sbin/msgw-control; do
  v=$("$b" --version) && [[ $v == "$(basename "$b") $version" ]] || fail "$b --version says '$v', the package is $version"
done
echo "ok   dpkg -i: dpkg -L lists the ${#expected[@]} expected files; conffile /etc/msgw/msgw.toml; /var/lib/msgw, /run/msgw made; daemons say $version"

# The units as installed, with the binaries they name. Without man(1) the
# Documentation= man pages cannot be looked up (their files are checked above).
man_check=yes
command -v man >/dev/null || man_check=no
verify=$(systemd-analyze verify --man=$man_check /lib/systemd/system/msgw-host-prepare.service \
  /lib/systemd/system/msgw-dataplane.service /lib/systemd/system/msgw-control.service 2>&1) ||
  fail "systemd-analyze verify: $verify"
[[ -z $verify ]] || fail "systemd-analyze verify is not clean: $verify"
echo "ok   systemd-analyze verify: msgw-host-prepare, msgw-dataplane, msgw-control clean"

# 3. the installed daemons on the rig, with the installed configuration. rig.sh
# runs BUILD/dataplane/msgw-dataplane and BUILD/control/msgw-control: a build
# dir of links to the installed binaries.
mkdir -p "$work/installed/dataplane" "$work/installed/control"
ln -s /usr/sbin/msgw-dataplane "$work/installed/dataplane/msgw-dataplane"
ln -s /usr/sbin/msgw-control "$work/installed/control/msgw-control"
MSGW_BUILD=$work/installed MSGW_RIG_RUN=$work/run "$root/scripts/rig.sh" up /etc/msgw/msgw.toml \
  >"$work/rig.log" 2>&1 || { cat "$work/rig.log"; fail "rig up with the installed binaries and config"; }
echo "ok   installed msgw-dataplane and msgw-control up on the rig with /etc/msgw/msgw.toml"

# One call, relayed G.729 both ways: two seconds of tone each way.
sox -n -r 8000 -c 1 -b 16 -e signed "$work/tone.raw" synth 2 sine 440 2>/dev/null
"$audio_check" make-pcap "$work/tone.raw" "$work/g729.pcap" --codec G729/20 >/dev/null
TALK_MS=2000 carrier_uas "$sippdir/control_carrier_uas.xml" "$work/g729.pcap"
uac_scenario "$work/uac.xml" "2 0 4 8 18 96 97 98 100 101" "$work/g729.pcap" 2000
phone_uac "$work/uac.xml" || fail "phone call (SIPp): $(tail -n 5 "$work/uac.xml.err" 2>/dev/null)"
wait "$carrier_pid" || fail "carrier UAS"
cdrs=$("$msgwctl" show cdrs --json) || fail "installed msgwctl on the default socket: show cdrs"
python3 - "$cdrs" <<'PY' || fail "the call's CDR"
import json, sys
c = json.loads(sys.argv[1])
assert len(c) == 1, c
r = c[0]
assert r["result"] == 200 and r["trunk"] == "carrier" and r["end_reason"] == "caller BYE", r
assert (r["a_codec"], r["b_codec"]) == ("G729", "G729"), r
assert r["a_packets"] > 50 and r["b_packets"] > 50, r
print("ok   call carried: 200, G729/G729 relayed, %d and %d packets, CDR from the installed msgwctl"
      % (r["a_packets"], r["b_packets"]))
PY
[[ -s /var/lib/msgw/state.db ]] || fail "no state database at the packaged path /var/lib/msgw/state.db"
MSGW_RIG_RUN=$work/run "$root/scripts/rig.sh" down >/dev/null 2>&1

# 4. remove, then purge
dpkg -r msgw >"$work/dpkg-r.log" 2>&1 || { cat "$work/dpkg-r.log"; fail "dpkg -r"; }
for f in /usr/sbin/msgw-dataplane /usr/sbin/msgw-control /usr/bin/msgwctl /usr/bin/msgw-loadtest \
         /lib/systemd/system/msgw-dataplane.service /usr/share/man/man8/msgw-control.8.gz; do
  [[ ! -e $f ]] || fail "dpkg -r left $f"
done
[[ -f /etc/msgw/msgw.toml ]] || fail "dpkg -r removed the conffile /etc/msgw/msgw.toml"
status=$(dpkg-query -W -f='${Status}' msgw)
[[ $status == "deinstall ok config-files" ]] || fail "after dpkg -r: status '$status'"
dpkg -P msgw >"$work/dpkg-p.log" 2>&1 || { cat "$work/dpkg-p.log"; fail "dpkg -P"; }
installed_by_us=false
for f in /etc/msgw /var/lib/msgw; do [[ ! -e $f ]] || fail "dpkg -P left $f"; done
echo "ok   dpkg -r: binaries, units and man pages gone, conffile kept (config-files); dpkg -P: /etc/msgw, /var/lib/msgw gone"
