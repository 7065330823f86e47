#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The reference SPA call through the running appliance on the rig, with RTP
# really crossing msgw-dataplane:
#  1. transcoded: the phone offers the reference SDP without G.729 (an SPA
#     with G.729 disabled), sends espeak-ng speech as PCMU; the carrier
#     answers G.729 and sends the same speech as G.729. Both captures are
#     decoded and compared with the speech (envelope correlation >= 0.85),
#     the flow is shown as transcoding, and the CDR names both codecs.
#  2. relayed: the phone offers the full reference SDP (PT 18 included), the
#     call is relayed G.729 end to end: the dataplane's own counters (DPDK
#     telemetry /msgw/workers) show packets relayed and zero transcoded
#     during the call, and the CDR says G729/G729.
#  During call 1, /metrics (the example config's metrics_listen, from the gw
#  namespace) shows the answered call, its transcoded session and nonzero
#  dataplane worker and port packet counters, and passes promtool.
# Usage: control_reference_call.sh BUILD_DIR   (root; 77 = skipped)
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then echo "needs root (network namespaces)"; exit 77; fi
build=$(cd "$1" && pwd)
source "$(dirname "$0")/control_lib.sh"
trap rig_cleanup EXIT

make_config </dev/null
make_speech
rig_up >/dev/null || fail "rig up"

# 1. transcoded call
capture msgw-carrier carrier0 10.20.0.1 "$work/carrier.pcap"
capture msgw-phone phone0 10.10.0.1 "$work/phone.pcap"
carrier_uas "$sippdir/control_carrier_uas.xml" "$work/g729.pcap"
uac_scenario "$work/uac1.xml" "2 0 4 8 96 97 98 100 101" "$work/pcmu.pcap" $((speech_ms + 1500))
phone_uac "$work/uac1.xml" & uac=$!
sleep 3
calls=$(ctl show calls --json)
flows=$(ctl show flows --json)
metrics_url=http://127.0.0.1:9105/metrics
ip netns exec msgw-gw curl -sS --max-time 5 -o "$work/metrics.txt" "$metrics_url" || fail "GET $metrics_url"
post_status=$(ip netns exec msgw-gw curl -s --max-time 5 -o /dev/null -w '%{http_code}' -X POST "$metrics_url")
wait $uac || fail "phone call 1 (SIPp): $(tail -n 5 "$work/uac1.xml.err" 2>/dev/null)"
wait "$carrier_pid" || fail "carrier UAS call 1"
stop_captures
echo "$calls" | python3 -c '
import json,sys; c=json.load(sys.stdin); assert len(c)==1, c; c=c[0]
assert c["a_codec"]=="PCMU" and c["b_codec"]=="G729" and c["media"]=="transcode", c
print("ok   call 1 answered: A leg", c["a_codec"], "B leg", c["b_codec"], "media", c["media"])'
echo "$flows" | python3 -c '
import json,sys; f=json.load(sys.stdin); assert len(f)==2, f
print("ok   flow legs:", "; ".join(x["leg"]+" "+x["local"]+" -> "+x["remote"]+" "+x["codec"] for x in f))'
[[ $post_status == 405 ]] || fail "POST /metrics answered $post_status, not 405"
promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics refused the exposition"
python3 - "$work/metrics.txt" <<'PY' || fail "/metrics during call 1"
import re, sys
samples = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    name, value = line.rsplit(" ", 1)
    samples[name] = float(value)
def total(prefix):
    return sum(v for k, v in samples.items() if k == prefix or k.startswith(prefix + "{"))
assert samples.get("msgw_calls_active") == 1, "calls_active"
assert samples.get('msgw_calls_in_state{state="answered"}') == 1, "answered"
assert samples.get("msgw_dataplane_up") == 1, "dataplane_up"
assert total("msgw_dataplane_worker_rx_total") > 0, "worker rx"
assert total("msgw_dataplane_worker_transcoded_packets_total") > 0, "worker transcoded packets"
assert sum(v for k, v in samples.items()
           if k.startswith("msgw_dataplane_worker_sessions{") and 'mode="transcoded"' in k) == 1, "sessions"
assert samples.get('msgw_dataplane_port_rx_packets_total{port="access"}', 0) > 0, "access port rx"
assert samples.get('msgw_dataplane_port_rx_packets_total{port="trunk"}', 0) > 0, "trunk port rx"
assert samples.get('msgw_sip_requests_received_total{method="INVITE"}', 0) >= 1, "INVITEs"
print("ok   /metrics during call 1: 1 call answered, 1 transcoded session, worker rx %d, access rx %d;"
      " promtool passed, POST 405" % (total("msgw_dataplane_worker_rx_total"),
                                       samples['msgw_dataplane_port_rx_packets_total{port="access"}']))
PY
status=0
check_audio "phone -> carrier (PCMU -> G.729)" "$work/carrier.pcap" G729 10.20.0.1 || status=1
check_audio "carrier -> phone (G.729 -> PCMU)" "$work/phone.pcap" PCMU 10.10.0.1 || status=1

# 2. relayed call, with the dataplane's counters read before and after
tel_sock=$(find /var/run/dpdk/msgw-ctlit -name 'dpdk_telemetry.v2' 2>/dev/null | head -1)
[[ -n $tel_sock ]] || fail "no dataplane telemetry socket under /var/run/dpdk/msgw-ctlit"
workers() { /usr/bin/python3 "$(dirname "$0")/dataplane_rtp.py" telemetry "$tel_sock" /msgw/workers; }
before=$(workers)
carrier_uas "$sippdir/control_carrier_uas.xml" "$work/g729.pcap"
uac_scenario "$work/uac2.xml" "2 0 4 8 18 96 97 98 100 101" "$work/g729.pcap" 3000
phone_uac "$work/uac2.xml" & uac=$!
sleep 1.5
calls=$(ctl show calls --json)
wait $uac || fail "phone call 2 (SIPp)"
wait "$carrier_pid" || fail "carrier UAS call 2"
echo "$calls" | python3 -c '
import json,sys; c=json.load(sys.stdin); assert len(c)==1, c; c=c[0]
assert c["a_codec"]=="G729" and c["b_codec"]=="G729" and c["media"]=="relay", c
print("ok   call 2 relayed: A leg", c["a_codec"], "B leg", c["b_codec"])'
after=$(workers)
/usr/bin/python3 - "$before" "$after" <<'PY' || fail "relay call: dataplane counters"
import json, sys
def total(doc, key):
    return sum(w[key] for w in json.loads(doc)["/msgw/workers"].values() if isinstance(w, dict))
d = {k: total(sys.argv[2], k) - total(sys.argv[1], k)
     for k in ("relayed", "transcoded_packets", "transcoded_frames")}
print("ok   dataplane during call 2: relayed +%(relayed)d, transcoded packets +%(transcoded_packets)d,"
      " frames +%(transcoded_frames)d" % d)
assert d["relayed"] >= 100, d
assert d["transcoded_packets"] == 0 and d["transcoded_frames"] == 0, d
PY

cdrs=$(ctl show cdrs --json)
echo "$cdrs" | python3 -c '
import json,sys; c=json.load(sys.stdin); assert len(c)==2, c
relay, tc = c[0], c[1]   # newest first
for r in (tc, relay):
    assert r["result"]==200 and r["trunk"]=="carrier" and r["end_reason"]=="caller BYE", r
    assert r["answer_ms"]>0 and r["end_ms"]>=r["answer_ms"], r
assert (tc["a_codec"], tc["b_codec"])==("PCMU","G729"), tc
assert (relay["a_codec"], relay["b_codec"])==("G729","G729"), relay
assert tc["a_packets"]>100 and tc["b_packets"]>100, tc
print("ok   CDRs: transcoded PCMU/G729 a_packets %d b_packets %d; relayed G729/G729" % (tc["a_packets"], tc["b_packets"]))'
exit $status
