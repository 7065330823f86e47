#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# msgw-loadtest --media-dpdk against msgw on the memif rig (RIG_PORTS=memif
# scripts/rig.sh): the calls' RTP from the tool's two DPDK ports (net_memif
# clients of msgw-dataplane's access and trunk ports), the signalling
# through the TAPs phone0/carrier0 it bridges to them. Short, at low rates:
# checks the DPDK engine's own arithmetic, not msgw's capacity.
#  1. capacity, 30 calls/s to 30 calls, 1 s holds, confirmed: 30 calls held
#     with media, the phone side (UAC) and the carrier side (UAS) count the
#     same calls in every step, every stream of every answered call received
#     packets, no packet lost, no send error; the engine learned the
#     gateway's MAC on both sides (the rig's memif servers' MACs) and
#     bridged the signalling both ways.
#  2. establishment, 10 calls/s for 2 s with media, the carrier side
#     withholding every 10th RTP packet: the phone side reports that loss
#     (the withheld packets, less those that fell after the stream's last
#     packet received: RFC 3550 counts gaps only), the carrier side none.
#     After the last received come the packets the carrier side sent between
#     the gateway's removing the flow (the phone's BYE) and its own BYE
#     stopping the stream: one withheld packet in 200 ms, two per stream when
#     that window passes 200 ms on a busy host (seen: 1 to 2 streams in 20).
#  3. capacity as in 1, on the xdp rig (RIG_PORTS=xdp): the same engine on
#     two net_af_xdp ports on the veths to msgw-dataplane's AF_PACKET ports,
#     as scripts/bench-peers.sh drives msgw and the peer: the same counts,
#     the gateway's MACs those of its veths, the ports dropping nothing.
# Every run writes JSON (also stdout's last line) and HTML: both parse.
# Each run gets a fresh rig, stopped before the tool exits (net_memif's
# server hangs up first: packet_rate.hpp); the tool runs without hugepages,
# and the trap removes its EAL runtime directory whatever happens.
# Usage: loadtest_dpdk_media.sh BUILD_DIR   (root; 77 = skipped). Run it
# under flock /tmp/msgw-rig.lock.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then echo "needs root (network namespaces, TAPs, EAL)"; exit 77; fi
command -v sipp >/dev/null || { echo "sipp is not installed"; exit 77; }
build=$(cd "$1" && pwd)
source "$(dirname "$0")/control_lib.sh"
export RIG_PORTS=memif
tool=$build/loadtest/msgw-loadtest
prefix=lt-dm$$
lt_pid=""
cleanup() {
  [[ -n $lt_pid ]] && kill -KILL "$lt_pid" 2>/dev/null && wait "$lt_pid" 2>/dev/null
  rig_cleanup
  rm -rf "/var/run/dpdk/$prefix"
}
trap cleanup EXIT
rig() { MSGW_BUILD=$build MSGW_RIG_RUN=$work/run "$root/scripts/rig.sh" "$@"; }

make_config </dev/null
# PCMU relayed (the trunk takes PCMU first): sequence numbers pass unchanged,
# so the loss the carrier side makes is the loss the phone side sees.
sed -i 's/^codecs = \["G729"\]/codecs = ["PCMU", "G729"]/' "$work/gw.toml"
grep -q '^codecs = \["PCMU", "G729"\]' "$work/gw.toml" || fail "could not set the trunk's codecs"
# No shedding: a gateway just started on a loaded host (CI) answered a few
# first INVITEs 503 (queue age over 200 ms); this test is the tool's
# arithmetic, not msgw's overload control (loadtest_smoke.sh has that).
sed -i 's/^overload_queue_age_ms = .*/overload_queue_age_ms = 0/' "$work/gw.toml"
grep -q '^overload_queue_age_ms = 0$' "$work/gw.toml" || fail "could not turn shedding off"

sides=(--target 10.10.0.1:5060 --phone 10.10.0.2:5062 --phone-netns msgw-phone
       --carrier 10.20.0.2:5060 --carrier-netns msgw-carrier --user spa1 --password spa1-secret
       --number 1-800-555-1212 --codec PCMU --media-dpdk --linger-s 20)

# run NAME TEST OPTIONS...: a fresh rig (RIG_PORTS), one tool run; its JSON is the
# last line of its stdout, then the rig goes down first and the tool exits.
# The gateway's MACs the engine must learn go to $work/NAME.macs: the memif
# servers' (scripts/rig.sh), or the veths' the dataplane sends from.
run() {
  local name=$1 line="" rc=0
  shift
  rig_up >"$work/$name.rig" 2>&1 || { cat "$work/$name.rig"; fail "$name: rig up"; }
  if [[ $RIG_PORTS == memif ]]; then
    echo "02:00:0A:0A:00:01 02:00:0A:14:00:01" >"$work/$name.macs"
  else
    echo "$(ip netns exec msgw-gw cat /sys/class/net/gw-access/address) $(ip netns exec msgw-gw cat /sys/class/net/gw-trunk/address)" |
      tr a-f A-F >"$work/$name.macs"
  fi
  rm -f "$work/lt.fifo"
  mkfifo "$work/lt.fifo"
  # shellcheck disable=SC2046 # the EAL's arguments are words
  timeout -s KILL 120 "$tool" "$@" "${sides[@]}" --json "$work/$name.json" --html "$work/$name.html" \
    --work-dir "$work/lt-$name" -- -l 0 --file-prefix "$prefix" --no-pci --no-huge -m 256 $(rig "$RIG_PORTS-eal") \
    >"$work/lt.fifo" 2>"$work/$name.err" &
  lt_pid=$!
  while IFS= read -r line; do
    echo "$line" >>"$work/$name.out"
    [[ $line == "{"*"}" ]] && break
  done <"$work/lt.fifo"
  rig down >/dev/null 2>&1
  wait "$lt_pid" || rc=$?
  lt_pid=""
  (( rc == 0 )) || fail "$name: msgw-loadtest exited $rc: $(tail -n 5 "$work/$name.err")"
  tail -n 1 "$work/$name.out" | cmp -s - "$work/$name.json" || fail "$name: stdout's last line differs from --json"
  grep '^media-dpdk ' "$work/$name.err" >"$work/$name.bridge" || fail "$name: no media-dpdk lines on stderr"
}

# check NAME PYTHON: runs PYTHON with r = the run's JSON, bridge = the
# engine's per-side lines, after the checks every run passes.
check() {
  python3 - "$work/$1.json" "$work/$1.html" "$work/$1.bridge" "$2" "$(cat "$work/$1.macs")" <<'PY' || fail "$1 (stderr: $(tail -n 5 "$work/$1.err"))"
import json, re, sys
from html.parser import HTMLParser
r = json.load(open(sys.argv[1]))
assert "error" not in r, r.get("error")
html = open(sys.argv[2]).read()
HTMLParser().feed(html)
assert "DPDK ports" in html, "the HTML does not name the DPDK engine"
m = r["media"]
assert m["engine"] == "dpdk", m["engine"]
# (unmatched packets are not checked: the target may relay a call's first
# packets before the tool has read that call's start from SIPp's log, as
# with the socket engine)
assert m["send_errors"] == 0, m
assert m["tool_receive_drops"] == 0, m
bridge = {}
for line in open(sys.argv[3]):
    side = line.split()[1]
    bridge[side] = {k: int(v) for v, k in re.findall(r"(\d+) (frames to the TAP|to the port|RTP packets due)", line)}
    bridge[side]["mac"] = re.search(r"gateway MAC (\S+)", line).group(1)
# The gateway's MACs (run above): learned from what the gateway sent.
access_mac, trunk_mac = sys.argv[5].split()
assert bridge["phone"]["mac"] == access_mac, (bridge, access_mac)
assert bridge["carrier"]["mac"] == trunk_mac, (bridge, trunk_mac)
for side, b in bridge.items():
    assert b["frames to the TAP"] > 0 and b["to the port"] > 0, (side, b)  # SIP both ways
    assert b["RTP packets due"] == 0, (side, b)
for s in r["steps"]:
    uac, uas = s["uac"], s["uas"]
    assert uac["successful"] == uas["successful"] > 0, (s["step"], uac, uas)
    # Every answered call's two streams received packets (a step counts
    # the streams that received any).
    assert s["media"]["streams"] == 2 * uac["successful"], (s["step"], s["media"]["streams"], uac)
exec(sys.argv[4])
PY
}

capacity_checks='
assert r["found_rate"] == 30 and r["confirmed"], (r["found_rate"], r["confirmed"], [s["verdict"] for s in r["steps"]])
assert m["packets_lost"] == 0 and m["loss_percent"] == 0, m
assert m["packets_received"] > 0.9 * m["packets_sent"], m
for t in r["capacity"]["samples"]:
    assert t["packets_lost"] == 0 and t["silent_streams"] == 0 and t["failed"] == 0, t
assert max(t["calls_with_media"] for t in r["capacity"]["samples"]) == 30, r["capacity"]["samples"]
print("ok   %s: 30 calls with media held and confirmed; UAC/UAS %s; %d streams, %d packets sent, %d received, 0 lost; RTP thread %.1f us/packet"
      % (name, "/".join("%d=%d" % (s["uac"]["successful"], s["uas"]["successful"]) for s in r["steps"]),
         m["streams"], m["packets_sent"], m["packets_received"], m["rtp_cpu_us_per_packet"]))
for side, b in bridge.items():
    print("     %s side: gateway MAC %s learned; bridged %d frames to the TAP, %d to the port"
          % (side, b["mac"], b["frames to the TAP"], b["to the port"]))'
capacity() {  # NAME: the 30-call capacity run and its checks on the rig RIG_PORTS names
  run "$1" capacity --capacity-rate 30 --capacity-max-calls 30 --step-s 1 --confirm-s 1
  check "$1" "name = \"$1\"
$capacity_checks"
}

capacity capacity

run withheld establishment --rates 10 --step-s 2 --hold-ms 1000 --media --withhold-rtp-every 10
check withheld '
s = r["steps"][0]
assert s["uac"]["attempted"] == 20 and s["uac"]["successful"] == 20 and s["uas"]["successful"] == 20, s
ph, ca = m["received_by"]["phone"], m["received_by"]["carrier"]
withheld = m["packets_withheld_by_test_aid"]
assert withheld > 0, m
# What the carrier side withheld is what the phone side lost, less at most
# two per stream withheld after the last packet that stream received (the
# teardown window above), never more.
assert withheld - 2 * ph["streams"] <= ph["packets_lost"] <= withheld, (withheld, ph)
assert ca["packets_lost"] == 0, ca
print("ok   withheld: 20 calls, the carrier side withheld %d packets, the phone side lost %d of %d (%.2f %%) over %d streams, the carrier side 0"
      % (withheld, ph["packets_lost"], ph["packets_expected"], ph["loss_percent"], ph["streams"]))'

RIG_PORTS=xdp
capacity capacity-xdp
echo "PASS loadtest_dpdk_media"
