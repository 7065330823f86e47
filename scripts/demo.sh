#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The README's first command: installs, builds, and shows msgw carrying the
# reference SPA call end to end (needs root: network namespaces, hugepages).
#
#   phone (SIPp as the SPA3000)  ->  msgw-dataplane + msgw-control  ->  carrier (SIPp, G.729)
#
# The phone reproduces the reference call (its headers, its SDP offer, digest
# answered after the gateway's 407) and talks: espeak-ng speech sent as PCMU.
# The carrier answers G.729 only and talks back the same speech as G.729.
# Captures on both sides are decoded and compared with the speech sent.
# Prints each SIP step, the codecs of each leg, packets sent and received,
# loss, and the audio similarity with its pass threshold. Exit 0 only if
# everything passed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [[ $(id -u) -ne 0 ]]; then echo "demo: run as root (network namespaces, hugepages)" >&2; exit 2; fi

# MSGW_BUILD: an existing build directory to use (default: build/).
build=${MSGW_BUILD:-$root/build}
scripts/setup.sh
[[ -f $build/build.ninja ]] || meson setup "$build" >/dev/null
ninja -C "$build" -j2 dataplane/msgw-dataplane control/msgw-control mgmt/msgwctl tests/tools/audio_check >/dev/null
build=$(cd "$build" && pwd)
source "$root/tests/integration/control_lib.sh"
trap rig_cleanup EXIT

make_config </dev/null
make_speech
echo "== msgw demo: the reference SPA call, phone -> gateway -> carrier, with real speech"
echo "   speech: espeak-ng, $((speech_ms / 1000)).$(( (speech_ms % 1000) / 100 )) s, 8 kHz"
rig_up | sed 's/^/   /' || { echo "demo: the rig did not come up"; exit 1; }

capture msgw-carrier carrier0 10.20.0.1 "$work/carrier.pcap"
capture msgw-phone phone0 10.10.0.1 "$work/phone.pcap"
carrier_uas "$sippdir/control_carrier_uas.xml" "$work/g729.pcap"
# The reference offer (PT 2 0 4 8 ... 101) of an SPA with G.729 disabled, so
# the gateway must transcode PCMU <-> G.729 (with G.729 offered it relays).
uac_scenario "$work/phone.xml" "2 0 4 8 96 97 98 100 101" "$work/pcmu.pcap" $((speech_ms + 1500))
phone_uac "$work/phone.xml" & uac=$!
calls=""
for _ in $(seq 60); do
  calls=$(ctl show calls --json 2>/dev/null || true)
  [[ $calls == *answered* ]] && break
  sleep 0.1
done
status=0
wait $uac || { echo "demo: FAIL: the phone's call did not complete (SIPp: $(tail -n 2 "$work/phone.xml.err" 2>/dev/null))"; status=1; }
wait "$carrier_pid" || { echo "demo: FAIL: the carrier side did not complete"; status=1; }
stop_captures

echo
echo "-- SIP, as the phone saw it"
python3 - "$work/phone.xml.msg" <<'EOF'
import re, sys
text = open(sys.argv[1], errors="replace").read()
seen = set()
for block in re.split(r"-{20,}[^\n]*\n", text):
    m = re.search(r"UDP message (sent|received)[^\n]*\n\s*\n(.*?)\r?\n", block)
    if not m:
        continue
    line = m.group(2).strip()
    cseq = re.search(r"CSeq:\s*(\d+ \w+)", block)
    key = (m.group(1), line, cseq.group(1) if cseq else "")
    again = "   (retransmission)" if key in seen else ""
    seen.add(key)
    if line.startswith("SIP/2.0"):
        print("   gateway -> phone   %-36s %s%s" % (line[8:], key[2], again))
    else:
        extra = " with digest" if "Proxy-Authorization" in block else ""
        print("   phone   -> gateway %-36s %s%s" % (line.split(" ")[0] + extra, key[2], again))
EOF
echo
echo "-- the call"
echo "$calls" | python3 -c '
import json,sys
try: c=json.load(sys.stdin)[0]
except Exception: print("   (the call was not seen answered)"); sys.exit(0)
print("   phone leg (A): %s    carrier leg (B): %s    media: %s on the dataplane" % (c["a_codec"], c["b_codec"], c["media"]))'
ctl show cdrs --json | python3 -c '
import json,sys
r=json.load(sys.stdin)[0]
print("   CDR: result %d, %s, %.1f s answered, trunk %s" % (r["result"], r["end_reason"], (r["end_ms"]-r["answer_ms"])/1000.0, r["trunk"]))
print("   dataplane counters: phone leg received %d packets (lost %d), carrier leg received %d packets (lost %d)" % (r["a_packets"], r["a_lost"], r["b_packets"], r["b_lost"]))'
echo "   sent: phone $pcmu_packets PCMU packets, carrier $g729_packets G.729 packets (20 ms each)"
echo
echo "-- audio: what arrived, decoded and compared with the speech sent"
check_audio "phone -> carrier (PCMU -> G.729)" "$work/carrier.pcap" G729 10.20.0.1 | sed 's/^/   /'
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
check_audio "carrier -> phone (G.729 -> PCMU)" "$work/phone.pcap" PCMU 10.10.0.1 | sed 's/^/   /'
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
echo
if ((status == 0)); then
  echo "demo: PASS — the reference SPA call was authenticated, routed to the carrier, transcoded"
  echo "      PCMU <-> G.729 on the dataplane, and the speech arrived intelligible both ways."
else
  echo "demo: FAIL (see above)"
fi
exit $status
