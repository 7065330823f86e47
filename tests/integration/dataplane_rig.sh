#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The network-namespace rig with net_af_packet on veth pairs:
#   phone ns (10.1.0.10) ==veth== [gw ns: msgw-dataplane] ==veth== carrier ns (10.2.0.20)
# The gateway's veth ends have no address and the kernel ignores their
# traffic (arp_ignore=8, strict rp_filter), so anything the kernel answers
# must have crossed the dataplane's exception path (TAP); the telemetry
# counters of that path are checked too.
# Checks: ping of both port addresses through the exception path; RTP relayed
# both ways between the namespaces with address rewriting, latching the
# phone's real source; an RTP-bleed stream toward the latched flow dropped
# and counted (telemetry) and never delivered; RTP transcoded both ways
# (PCMU from the phone arrives as G.729 at the carrier, G.729 from the carrier
# as PCMU at the phone: payload type, size, continuity, and the payload
# decodes to the audio the other end sent); clean SIGTERM shutdown.
# Usage: dataplane_rig.sh MSGW_DATAPLANE DATAPLANE_TOOL   (root)
set -euo pipefail
dp=$1 tool=$2
here=$(cd "$(dirname "$0")" && pwd)
rtp="/usr/bin/python3 $here/dataplane_rtp.py"
if [[ $(id -u) -ne 0 ]]; then echo "needs root (namespaces)"; exit 77; fi
id=$(( $$ % 10000 ))
ph=dpph$id ca=dpca$id gw=dpgw$id inst=rig$id
work=$(mktemp -d /tmp/msgw-dp-rig.XXXXXX)
pid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  for ns in $ph $ca $gw; do ip netns del "$ns" 2>/dev/null || true; done
  rm -f "/dev/shm/msgw-$inst"
  rm -rf "$work"
}
trap cleanup EXIT

for ns in $ph $ca $gw; do ip netns add "$ns"; done
ip link add pa$id netns "$ph" type veth peer name ga$id netns "$gw"
ip link add ct$id netns "$ca" type veth peer name gt$id netns "$gw"
ip -n "$ph" addr add 10.1.0.10/24 dev pa$id
ip -n "$ph" addr add 10.1.0.66/24 dev pa$id      # the RTP-bleed attacker
ip -n "$ca" addr add 10.2.0.20/24 dev ct$id
for l in "$ph pa$id" "$ca ct$id" "$gw ga$id" "$gw gt$id" "$ph lo" "$ca lo" "$gw lo"; do
  set -- $l; ip -n "$1" link set "$2" up
done
# A real wire carries finished checksums: turn off the peers' veth TX
# checksum offload, or AF_PACKET hands the dataplane partial checksums.
ip netns exec "$ph" ethtool -K pa$id tx off >/dev/null
ip netns exec "$ca" ethtool -K ct$id tx off >/dev/null
for v in ga$id gt$id; do
  # The gateway kernel must not answer on the veths itself: no ARP replies
  # there, and strict reverse-path filtering drops IPv4 arriving on them (the
  # subnets route via the TAPs).  Only the TAPs can reach the kernel.
  ip netns exec "$gw" sysctl -qw net.ipv6.conf.$v.disable_ipv6=1 \
    net.ipv4.conf.$v.arp_ignore=8 net.ipv4.conf.$v.rp_filter=1
done

cat >"$work/dp.toml" <<EOT
[instance]
name = "$inst"
[dataplane]
main_lcore = 0
worker_lcores = [1]
memory_mb = 256
hugepages = "off"
flow_capacity = 1024
latch_packets = 3
[[port]]
name = "access"
device = "net_af_packet0,iface=ga$id"
address = "10.1.0.1/24"
tap_name = "tpa$id"
[[port]]
name = "trunk"
device = "net_af_packet1,iface=gt$id"
address = "10.2.0.1/24"
tap_name = "tpt$id"
EOT
ip netns exec "$gw" "$dp" --config "$work/dp.toml" >"$work/dp.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  "$tool" generation "$inst" 2>/dev/null | grep -q " up" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/dp.log"; exit 1; }
  sleep 0.1
done
"$tool" generation "$inst" | grep -q " up" || { cat "$work/dp.log"; echo "not up"; exit 1; }

echo "== ping through the exception path"
# The first answer may take a moment on a loaded host (TAP coming up, ARP).
for addr in "$ph 10.1.0.1" "$ca 10.2.0.1"; do
  set -- $addr
  for _ in $(seq 10); do ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null && break; done
  ip netns exec "$1" ping -c 3 -i 0.2 -W 2 "$2"
done

echo "== RTP relay phone <-> carrier"
# Phone leg: the SDP says 10.1.0.10:4000 but the phone really sends from
# :4444 (NAT): latching must learn it.  Carrier leg: fixed remote.
"$tool" add "$inst" 0 0:10.1.0.1:20000:10.1.0.10:4000:pcmu:0:101:latch \
                      1:10.2.0.1:30000:10.2.0.20:5000:pcmu:0:101
# Both ends listen at once; the phone talks from t=1 s (latched after
# latch_packets), the carrier from t=1.5 s, so every carrier packet finds the
# latch in place; the attacker floods once the latch is seen in a dump.
ip netns exec "$ca" $rtp duplex 10.2.0.20 5000 10.2.0.1 30000 0x2222 80 5 1.5 >"$work/carrier.json" &
c_pid=$!
ip netns exec "$ph" $rtp duplex 10.1.0.10 4444 10.1.0.1 20000 0x1111 100 5 1.0 >"$work/phone.json" &
p_pid=$!
# Wait for the latch on the phone's real source before the attack starts.
for _ in $(seq 50); do
  "$tool" dump "$inst" | grep -q "latched 10.1.0.10:4444" && break
  sleep 0.1
done
"$tool" dump "$inst" | grep -q "latched 10.1.0.10:4444" || { echo "phone never latched"; exit 1; }
# RTP bleed: another host floods the phone leg with its own SSRC.
ip netns exec "$ph" $rtp send 10.1.0.66 7777 10.1.0.1 20000 0x6666 50
wait $c_pid $p_pid
echo "carrier got: $(cat "$work/carrier.json")"
echo "phone got:   $(cat "$work/phone.json")"
"$tool" stats "$inst" 0
"$tool" dump "$inst"
sock=$(find /var/run/dpdk/msgw-$inst -name 'dpdk_telemetry.v2' 2>/dev/null | head -1)
[[ -n $sock ]] || { echo "no telemetry socket"; exit 1; }
$rtp telemetry "$sock" /msgw/workers >"$work/workers.json"
$rtp telemetry "$sock" /msgw/ports >"$work/ports.json"
echo "telemetry /msgw/ports: $(cat "$work/ports.json")"

/usr/bin/python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
car = json.load(open(w + "/carrier.json"))
pho = json.load(open(w + "/phone.json"))
wk = json.load(open(w + "/workers.json"))["/msgw/workers"]["worker0"]
ports = json.load(open(w + "/ports.json"))["/msgw/ports"]
errors = []
# The first latch_packets-1 packets come before the latch: dropped as bleed.
if not 96 <= car["packets"] <= 98: errors.append("carrier received %d of 100" % car["packets"])
if car["sources"] != ["10.2.0.1:30000"]: errors.append("carrier saw sources %s" % car["sources"])
if "00006666" in car["inner_ssrcs"]: errors.append("bleed stream reached the carrier")
if len(car["out_ssrcs"]) != 1: errors.append("carrier saw SSRCs %s" % car["out_ssrcs"])
if car["seq_gaps"] != 0: errors.append("carrier saw %d sequence gaps" % car["seq_gaps"])
if pho["packets"] < 79: errors.append("phone (latched :4444) received %d of 80" % pho["packets"])
if pho["sources"] != ["10.1.0.1:20000"]: errors.append("phone saw sources %s" % pho["sources"])
if wk["drop_rtp_bleed"] < 50: errors.append("rtp_bleed counted %d (< 50)" % wk["drop_rtp_bleed"])
if wk["latched"] != 1: errors.append("latched %d times" % wk["latched"])
for name in ("access", "trunk"):
    if ports[name]["to_kernel"] < 3 or ports[name]["from_kernel"] < 3:
        errors.append("exception path on %s: %s" % (name, ports[name]))
print("drops:", {k: v for k, v in wk.items() if k.startswith("drop_") and v})
if errors:
    print("FAILED:\n  " + "\n  ".join(errors)); sys.exit(1)
print("relay, latching, bleed protection and exception path: ok")
PY

echo "== RTP transcoded: phone PCMU <-> carrier G.729"
# Flow 1: the phone leg speaks PCMU (20 ms), the carrier leg G.729 (Annex B
# off); both ends send speech-like audio and record what they receive.
"$tool" rig-media "$work" 100
"$tool" add "$inst" 1 0:10.1.0.1:20002:10.1.0.10:4002:pcmu:0:101 \
                      1:10.2.0.1:30002:10.2.0.20:5002:g729:18:101:noannexb
ip netns exec "$ca" $rtp duplex 10.2.0.20 5002 10.2.0.1 30002 0x3333 100 4.5 0.5 \
  18 "$work/carrier.g729" "$work/carrier_recv.bin" >"$work/carrier_tc.json" &
c_pid=$!
ip netns exec "$ph" $rtp duplex 10.1.0.10 4002 10.1.0.1 20002 0x4444 100 4.5 0.5 \
  0 "$work/phone.ulaw" "$work/phone_recv.bin" >"$work/phone_tc.json" &
p_pid=$!
wait $c_pid $p_pid
echo "carrier got: $(cat "$work/carrier_tc.json")"
echo "phone got:   $(cat "$work/phone_tc.json")"
"$tool" stats "$inst" 1
/usr/bin/python3 - "$work" <<'PY2'
import json, sys
w = sys.argv[1]
car = json.load(open(w + "/carrier_tc.json"))
pho = json.load(open(w + "/phone_tc.json"))
errors = []
for name, got, pt, size, src in (("carrier", car, 18, 20, "10.2.0.1:30002"),
                                 ("phone", pho, 0, 160, "10.1.0.1:20002")):
    if got["sent"] != 100: errors.append("%s sent only %d" % (name, got["sent"]))
    if got["packets"] < 98: errors.append("%s received %d of 100" % (name, got["packets"]))
    if got["pts"] != [pt]: errors.append("%s saw payload types %s (want %d)" % (name, got["pts"], pt))
    if got["sizes"] != [size]: errors.append("%s saw payload sizes %s (want %d)" % (name, got["sizes"], size))
    if got["sources"] != [src]: errors.append("%s saw sources %s" % (name, got["sources"]))
    if len(got["out_ssrcs"]) != 1: errors.append("%s saw SSRCs %s" % (name, got["out_ssrcs"]))
    if got["seq_gaps"] or got["ts_gaps"] or got["bad_headers"]:
        errors.append("%s: %d sequence gaps, %d timestamp gaps, %d bad headers"
                      % (name, got["seq_gaps"], got["ts_gaps"], got["bad_headers"]))
if errors:
    print("FAILED:\n  " + "\n  ".join(errors)); sys.exit(1)
print("transcoded both ways: payload types, sizes, sources, SSRC/seq/ts continuity: ok")
PY2
"$tool" rig-check "$work"
$rtp telemetry "$sock" /msgw/workers >"$work/workers.json"
/usr/bin/python3 - "$work" <<'PY2'
import json, sys
wk = json.load(open(sys.argv[1] + "/workers.json"))["/msgw/workers"]["worker0"]
tc = {k: v for k, v in wk.items() if k.startswith("transcoded")}
print("telemetry transcoding counters:", tc)
if not tc or min(tc.values()) < 196:
    print("FAILED: transcoding counters too low"); sys.exit(1)
PY2

echo "== shutdown"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=""
grep -E "totals|marked down" "$work/dp.log"
[[ $rc -eq 0 ]] || { echo "dataplane exit code $rc"; exit 1; }
[[ $("$tool" generation "$inst" | cut -d' ' -f2) == down ]] || { echo "segment not down"; exit 1; }
echo "dataplane_rig: ok"
