#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Media parameters end to end and early media (issue 21, items 5 and 6),
# through the running appliance on the rig, one bring-up, four calls:
#  1. annexb=no from the carrier (G.729), a PCMU phone whose speech ends in
#     silence: towards the carrier only 20-byte G.729 payloads (no 2-byte SID
#     frames), no sequence gaps and a 160-tick timestamp step throughout (no
#     DTX gaps); the carrier hears the speech.
#  2. a phone packing G.726-32 as AAL2 under the plain name (its subscriber's
#     g726_packing = "aal2") and an RFC 3551 carrier, G.726-32 on both legs:
#     the audio check passes both ways (waveform and envelope).
#     MEDIA_PHONE_G726_PACKING=rfc3551 sets the phone's packing wrong (the
#     gateway then relays unchanged): this check must fail.
#  3. a PCMU phone at 30 ms and a PCMU carrier that states no ptime (20 ms):
#     the carrier receives 160-byte packets, the phone 240-byte ones, the
#     audio check passes both ways.
#  4. 183 with SDP and a ringback tone from the carrier, 200 two seconds later:
#     the phone receives the ringback before the 200; after the answer the
#     phone sends PCMU on the call relayed as G.729: nothing of it reaches the
#     carrier and the dataplane counts it (drop_payload_type_not_negotiated).
# Usage: control_media.sh BUILD_DIR   (root; 77 = skipped)
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then echo "needs root (network namespaces)"; exit 77; fi
build=$(cd "$1" && pwd)
source "$(dirname "$0")/control_lib.sh"
trap rig_cleanup EXIT
rtp_pcap() { python3 "$(dirname "$0")/rtp_pcap.py" "$@"; }
# A capture into a file of its own: capture() returns once the file is not
# empty, which the previous call's file already is (the first packets of the
# next call would be missed).
fresh_capture() { rm -f "$4"; capture "$@"; }

# One trunk per codec on the carrier's address, reached by number prefix.
make_config <<'EOF'

[[trunk]]
name = "carrier-g726"
address = "10.20.0.2:5060"
codecs = ["G726-32"]
port = "trunk"

[[trunk]]
name = "carrier-pcmu"
address = "10.20.0.2:5060"
codecs = ["PCMU"]
port = "trunk"

[[route]]
name = "g726"
prefix = "1726"
trunks = ["carrier-g726"]

[[route]]
name = "pcmu"
prefix = "1720"
trunks = ["carrier-pcmu"]
EOF
# The phone packs G.726-32 as AAL2 under the plain name "G726-32" (SPAs do).
sed -i "s|^dids = \[\"15550001000\"\]|&\ng726_packing = \"${MEDIA_PHONE_G726_PACKING:-aal2}\"|" "$work/gw.toml"

# Three seconds of speech, then 1.5 s of digital silence (what VAD turns into
# SID frames and DTX), and a ringback tone (440 + 480 Hz).
espeak-ng -v en-us -s 160 -w "$work/speech.wav" "Hello. This is the media check. One, two, three, four."
sox "$work/speech.wav" -r 8000 -c 1 -b 16 -e signed "$work/speech.raw" pad 0 1.5
sox -n -r 8000 -c 1 -b 16 -e signed "$work/ring.raw" synth 2 sin 440 sin 480 remix - gain -6
speech_ms=$(( $(stat -c %s "$work/speech.raw") / 16 ))
mk() { "$audio_check" make-pcap "$1" "$work/$2" --codec "$3" "${@:4}" >/dev/null || fail "make-pcap $2"; }
mk "$work/speech.raw" pcmu20.pcap PCMU/20
mk "$work/speech.raw" pcmu30.pcap PCMU/30
mk "$work/speech.raw" g729.pcap G729/20
mk "$work/speech.raw" g726aal2.pcap AAL2-G726-32/20 --pt 2
mk "$work/speech.raw" g726rfc.pcap G726-32/20 --pt 2
mk "$work/ring.raw" ring.pcap G729/20

rig_up >/dev/null || fail "rig up"
tel_sock=$(find /var/run/dpdk/msgw-ctlit -name 'dpdk_telemetry.v2' 2>/dev/null | head -1)
[[ -n $tel_sock ]] || fail "no dataplane telemetry socket under /var/run/dpdk/msgw-ctlit"
drops() {
  /usr/bin/python3 "$(dirname "$0")/dataplane_rtp.py" telemetry "$tel_sock" /msgw/workers | python3 -c '
import json,sys; print(sum(w["drop_'"$1"'"] for w in json.load(sys.stdin)["/msgw/workers"].values() if isinstance(w, dict)))'
}

# carrier_media PTS MEDIA_LINES PCAP: the generic carrier answering with those codec lines.
carrier_media() {
  python3 - "$sippdir/control_media_carrier.xml" "$work/carrier_media.xml" "$1" "$2" <<'PY'
import sys
src, out, pts, media = sys.argv[1:]
t = open(src).read().replace("@PTS@", pts)
t = t.replace("@MEDIA@", "\n".join("      " + l for l in media.split("|")))
open(out, "w").write(t)
PY
  carrier_uas "$work/carrier_media.xml" "$3"
}
# phone_call NAME PTS PCAP [PTIME]: the SPA's call with that offer, talking for the speech's length.
phone_call() {
  uac_scenario "$work/$1.xml" "$2" "$3" $((speech_ms + 400))
  [[ -z ${4:-} ]] || sed -i "s|a=ptime:20|a=ptime:$4|" "$work/$1.xml"
  phone_uac "$work/$1.xml" || fail "$1: phone side (SIPp) $(tail -n 3 "$work/$1.xml.err" 2>/dev/null)"
  wait "$carrier_pid" || fail "$1: carrier side (SIPp)"
  stop_captures
}
# check_both NAME PHONE_CODEC CARRIER_CODEC PT: the audio check each way; also
# the waveform for waveform codecs (G.711, G.726), where a wrong packing
# keeps some of the envelope.
check_both() {
  local s=0 j
  for way in "phone -> carrier|$work/carrier.pcap|$3|10.20.0.1" "carrier -> phone|$work/phone.pcap|$2|10.10.0.1"; do
    IFS='|' read -r dir cap codec src <<<"$way"
    j=$("$audio_check" from-pcap "$cap" "$work/speech.raw" --codec "$codec" --src "$src" --pt "$4") ||
      { echo "FAIL $1 $dir: no $codec RTP"; s=1; continue; }
    python3 -c '
import json,sys; d=json.loads(sys.argv[1]); ok=d["envelope_corr"]>=float(sys.argv[2]) and d["waveform_corr"]>=0.8
print("%-4s %-40s %-13s packets %-4d lost %d envelope %.3f (>= %s) waveform %.3f (>= 0.8)" % (
  "pass" if ok else "FAIL", sys.argv[3], sys.argv[4], d["packets"], d["lost"], d["envelope_corr"], sys.argv[2],
  d["waveform_corr"])); sys.exit(0 if ok else 1)' "$j" "$audio_threshold" "$1 $dir" "$codec" || s=1
  done
  return $s
}
status=0

# --- 1. annexb=no from the carrier: no Annex B silence frames towards it
fresh_capture msgw-carrier carrier0 10.20.0.1 "$work/carrier.pcap"
carrier_uas "$sippdir/control_carrier_uas.xml" "$work/g729.pcap"   # G.729, annexb=no
phone_call annexb "0 101" "$work/pcmu20.pcap"
j=$(rtp_pcap stream "$work/carrier.pcap" 10.20.0.1)
python3 - "$j" "$speech_ms" <<'PY' || status=1
import json, sys
d, ms = json.loads(sys.argv[1]), int(sys.argv[2])
ok = (d["by_pt"].get("18", 0) >= ms // 20 * 0.9 and list(d["sizes"]) == ["20"] and d["seq_gaps"] == 0
      and list(d["ts_steps"]) == ["160"])
print("%-4s annexb=no carrier: %d G.729 packets for %d ms of speech and silence, payload sizes %s,"
      " sequence gaps %d, timestamp steps %s" % ("ok" if ok else "FAIL", d["by_pt"].get("18", 0), ms,
      d["sizes"], d["seq_gaps"], d["ts_steps"]))
sys.exit(0 if ok else 1)
PY
check_audio "annexb=no: phone -> carrier (PCMU -> G.729)" "$work/carrier.pcap" G729 10.20.0.1 || status=1

# --- 2. G.726-32, AAL2 phone and RFC 3551 carrier
fresh_capture msgw-carrier carrier0 10.20.0.1 "$work/carrier.pcap"
fresh_capture msgw-phone phone0 10.10.0.1 "$work/phone.pcap"
carrier_media 2 "a=rtpmap:2 G726-32/8000|a=ptime:20" "$work/g726rfc.pcap"
NUMBER=1-726-555-0100 phone_call g726 "2 101" "$work/g726aal2.pcap"
check_both "G.726-32" AAL2-G726-32 G726-32 2 || status=1

# --- 3. PCMU at 30 ms (phone) and 20 ms (carrier)
fresh_capture msgw-carrier carrier0 10.20.0.1 "$work/carrier.pcap"
fresh_capture msgw-phone phone0 10.10.0.1 "$work/phone.pcap"
carrier_media 0 "a=rtpmap:0 PCMU/8000" "$work/pcmu20.pcap"
NUMBER=1-720-555-0100 phone_call ptime "0 101" "$work/pcmu30.pcap" 30
python3 - "$(rtp_pcap stream "$work/carrier.pcap" 10.20.0.1)" "$(rtp_pcap stream "$work/phone.pcap" 10.10.0.1)" <<'PY' || status=1
import json, sys
c, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ok = list(c["sizes"]) == ["160"] and list(p["sizes"]) == ["240"] and c["seq_gaps"] == 0 and c["packets"] > 100
print("%-4s PCMU re-framed: to the carrier %d packets sized %s, to the phone %d packets sized %s" % (
  "ok" if ok else "FAIL", c["packets"], c["sizes"], p["packets"], p["sizes"]))
sys.exit(0 if ok else 1)
PY
check_both "PCMU 30/20 ms" PCMU PCMU 0 || status=1

# --- 4. early media, then PCMU from the phone on a G.729 relay
drops_before=$(drops payload_type_not_negotiated)
fresh_capture msgw-carrier carrier0 10.20.0.1 "$work/carrier.pcap"
ip netns exec msgw-phone tshark -q -i phone0 -F pcap -w "$work/phone-all.pcap" -f "udp and src host 10.10.0.1" \
  >"$work/phone-all.log" 2>&1 &
capture_pids+=($!)
for _ in $(seq 50); do [[ -s $work/phone-all.pcap ]] && break; sleep 0.1; done
sed -e "s|@PCAP@|$work/ring.pcap|" -e "s|@EARLY_MS@|2000|" "$sippdir/control_media_carrier_early.xml" >"$work/early.xml"
carrier_uas "$work/early.xml" "$work/ring.pcap"
phone_call early "2 0 4 8 18 96 97 98 100 101" "$work/pcmu20.pcap"   # G.729 negotiated, PCMU sent
drops_after=$(drops payload_type_not_negotiated)
j=$(rtp_pcap before "$work/phone-all.pcap" 10.10.0.1 "SIP/2.0 200")
python3 - "$j" <<'PY' || status=1
import json, sys
d = json.loads(sys.argv[1])
ok = d["seen"] and d["rtp_before"] >= 50   # 2 s of ringback at 20 ms, less the setup
print("%-4s early media: %d RTP packets reached the phone before the 200 OK (of 100 sent in 2 s)" % (
  "ok" if ok else "FAIL", d["rtp_before"]))
sys.exit(0 if ok else 1)
PY
j=$(rtp_pcap stream "$work/carrier.pcap" 10.20.0.1)
python3 - "$j" "$drops_before" "$drops_after" "$speech_ms" <<'PY' || status=1
import json, sys
d, before, after, ms = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ok = d["packets"] == 0 and after - before >= ms // 20 * 0.9
print("%-4s PCMU on a G.729 relay: %d RTP packets reached the carrier (by PT %s);"
      " drop_payload_type_not_negotiated +%d" % ("ok" if ok else "FAIL", d["packets"], d["by_pt"], after - before))
sys.exit(0 if ok else 1)
PY
ctl show calls --json | python3 -c 'import json,sys; c=json.load(sys.stdin); assert not c, c' || fail "calls left over"
exit $status
