#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Deterministic relay test over net_pcap: a pcap of RTP (with hostile and
# malformed frames interleaved) enters port 0, a flow is programmed through
# the client library, and port 1's output pcap is checked packet by packet
# (addresses, ports, checksums, SSRC/seq/ts continuity across a source
# change, payload), plus the dataplane's own ARP request for an unknown
# neighbour.  A transcoded flow (PCMU 20 ms -> G.729) is checked the same
# way, with its G.729 payload bit-exact with bcg729 encoding the G.711-decoded
# input frame by frame, and the reverse direction (G.729 in on the trunk ->
# PCMU) equal to bcg729's decoding G.711-encoded.  Also checks the generation bump on restart.
# Usage: dataplane_pcap.sh MSGW_DATAPLANE DATAPLANE_TOOL   (root: TAP devices)
set -euo pipefail
dp=$1 tool=$2
if [[ $(id -u) -ne 0 ]]; then echo "needs root (TAP interfaces)"; exit 77; fi
work=$(mktemp -d /tmp/msgw-dp-pcap.XXXXXX)
inst="pcap$$"
pid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
  rm -f "/dev/shm/msgw-$inst"
}
trap cleanup EXIT

cat >"$work/dp.toml" <<EOT
[instance]
name = "$inst"
[dataplane]
main_lcore = 0
worker_lcores = [1]
memory_mb = 256
hugepages = "off"
flow_capacity = 1024
media_timeout_ms = 60000
[[port]]
name = "access"
device = "net_pcap0,rx_pcap=$work/in0.pcap,tx_pcap=$work/out0.pcap"
address = "10.1.0.1/24"
tap_name = "pc$$a"
[[port]]
name = "trunk"
device = "net_pcap1,rx_pcap=$work/in1.pcap,tx_pcap=$work/out1.pcap"
address = "10.2.0.1/24"
tap_name = "pc$$t"
EOT

"$tool" pcap-gen "$work/in0.pcap" "$work/in1.pcap"

start() {
  "$dp" --config "$work/dp.toml" --hold-rx-until-flows 3 \
    --static-neighbour 1,10.2.0.20,02:00:00:00:20:14 \
    --static-neighbour 0,10.1.0.10,02:00:00:00:10:0a >"$work/dp.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    "$tool" generation "$inst" 2>/dev/null | grep -q " up" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$work/dp.log"; echo "dataplane did not come up"; exit 1
}
stop() {
  kill -TERM "$pid"; wait "$pid"; rc=$?; pid=""
  [[ $rc -eq 0 ]] || { cat "$work/dp.log"; echo "dataplane exit code $rc"; exit 1; }
}

start
gen1=$("$tool" generation "$inst" | cut -d' ' -f1)
# Flow 0: phone leg (signalled remote, latching) -> trunk leg.  Flow 1: unresolved remote.
"$tool" add "$inst" 0 0:10.1.0.1:20000:10.1.0.10:4000:pcmu:0:255:latch 1:10.2.0.1:30000:10.2.0.20:5000:pcmu:0
# Invalid commands get error acks and change nothing.
if "$tool" add "$inst" 5 0:10.1.0.1:20000:0:0:pcmu:0 1:10.2.0.1:30100:0:0:pcmu:0; then
  echo "duplicate local address accepted"; exit 1; fi
if "$tool" add "$inst" 5 0:10.1.0.1:20100:0:0:opus:0 1:10.2.0.1:30100:0:0:pcmu:0; then
  echo "unknown codec accepted"; exit 1; fi
if "$tool" add "$inst" 5 9:10.1.0.1:20100:0:0:pcmu:0 1:10.2.0.1:30100:0:0:pcmu:0; then
  echo "port out of range accepted"; exit 1; fi
"$tool" add "$inst" 1 0:10.1.0.1:20002:10.1.0.10:4000:pcmu:0 1:10.2.0.1:30002:10.2.0.21:5000:pcmu:0
# Flow 2: transcoded, PCMU (20 ms) from the phone -> G.729 (Annex B off) to the
# carrier, and the carrier's G.729 (port 1 input) -> PCMU to the phone.
"$tool" add "$inst" 2 0:10.1.0.1:20004:10.1.0.10:4002:pcmu:0:255 \
                      1:10.2.0.1:30004:10.2.0.20:5002:g729:18:255:noannexb
"$tool" wait-sent "$inst" 0 1 100 10000
"$tool" wait-sent "$inst" 2 1 100 10000
"$tool" wait-sent "$inst" 2 0 100 10000
sleep 0.5   # let the ARP request for flow 1 leave as well
"$tool" stats "$inst" 0
"$tool" stats "$inst" 2
stop
grep -E "totals|marked down" "$work/dp.log"
# Every hostile frame was dropped under its reason; SIP went to the kernel.
totals=$(grep totals "$work/dp.log")
for reason in rtp_bleed=10 bad_rtp_version=10 truncated_ip=10 no_neighbour=1; do
  grep -q "$reason\b" <<<"$totals" || { echo "expected drop counter $reason"; exit 1; }
done
grep -q "exception 10 " <<<"$totals" || { echo "expected 10 frames to the exception path"; exit 1; }
"$tool" pcap-check "$work/out1.pcap"
"$tool" pcap-check-transcode "$work/in0.pcap" "$work/in1.pcap" "$work/out1.pcap" "$work/out0.pcap"

# Restart: a new generation, visible to a client.
start
gen2=$("$tool" generation "$inst" | cut -d' ' -f1)
stop
echo "generation $gen1 -> $gen2"
[[ $gen2 -eq $((gen1 + 1)) ]] || { echo "generation did not bump"; exit 1; }
[[ $("$tool" generation "$inst") == "$gen2 down" ]] || { echo "segment not marked down"; exit 1; }
echo "dataplane_pcap: ok"
