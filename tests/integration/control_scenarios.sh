#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The other checks of the appliance on the rig (msgw-dataplane + msgw-control,
# SIPp phone and carrier), each with its CDR:
#   BYE from the carrier; CANCEL before answer; hold and resume from the
#   phone (re-INVITEs relayed to the carrier); a carrier's reliable 183
#   (PRACKed once); inbound call to the DID after the phone registered, and
#   one with a delayed offer (no SDP in the INVITE), one SIP-I (SDP beside
#   ISUP in a multipart body); the phone's own delayed offer (our 200
#   offers, its ACK answers, transcoded); failover from a dead
#   trunk to the carrier; media
#   timeout tears the call down; kill -9 of msgw-control mid-call: media keeps
#   flowing, a restarted control plane ends the call with BYE on both legs;
#   a BYE from the carrier for a call restored that way ends it on both legs;
#   msgw-dataplane restarted mid-call: the flow is programmed again, media resumes;
#   per-source limit (set by a reload): a flooding address is blocked, its
#   INVITEs dropped unparsed, while the phone's call completes; an INVITE
#   that waited 300 ms (msgw-control stopped) is shed with 503 + Retry-After
#   and the next one is served at once;
#   wrong password: never routed, 403 after repeats (last: it blocks the
#   phone's address).
# Usage: control_scenarios.sh BUILD_DIR   (root; 77 = skipped)
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then echo "needs root (network namespaces)"; exit 77; fi
build=$(cd "$1" && pwd)
source "$(dirname "$0")/control_lib.sh"
trap rig_cleanup EXIT

# A dead trunk (nobody at 10.20.0.9) first for 1-900 numbers; a short media timeout.
MEDIA_TIMEOUT_MS=4000 make_config <<'EOF'

[[trunk]]
name = "dead"
address = "10.20.0.9:5060"
codecs = ["G729"]
port = "trunk"
timeout_ms = 1500

[[route]]
name = "failover-test"
prefix = "1900"
trunks = ["dead", "carrier"]
EOF
make_speech
# A one-second stream for calls that must go quiet (media timeout).
head -c 16000 "$work/speech.raw" >"$work/short.raw"
"$audio_check" make-pcap "$work/short.raw" "$work/short.pcap" --codec PCMU/20 >/dev/null 2>&1 ||
  sox -r 8000 -e signed -b 16 -c 1 "$work/short.raw" "$work/short2.raw" pad 0 0.1
[[ -s $work/short.pcap ]] || fail "short pcap"
rig_up >/dev/null || fail "rig up"
pts="2 0 4 8 96 97 98 100 101"

cdr() {  # cdr PYTHON_ASSERTIONS: on the newest CDR, as r
  ctl show cdrs --json | python3 -c "import json,sys; r=json.load(sys.stdin)[0]; $1" \
    || fail "CDR check '$1': $(ctl show cdrs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0])')"
}
gwstat() { ctl show stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# --- BYE from the carrier; SIP captured at the phone: each response once
capture_sip msgw-phone phone0 "$work/sip-phone.pcap"
TALK_MS=2500 carrier_uas "$sippdir/control_carrier_bye.xml" "$work/g729.pcap"
uac_scenario "$work/bye.xml" "$pts" "$work/pcmu.pcap" 0 spa1-secret "$sippdir/control_phone_wait_bye.xml"
phone_uac "$work/bye.xml" || fail "BYE from carrier: phone side $(tail -n 3 "$work/bye.xml.err" 2>/dev/null)"
wait "$carrier_pid" || fail "BYE from carrier: carrier side"
stop_captures
cdr 'assert r["end_reason"]=="callee BYE" and r["result"]==200 and r["answer_ms"]>0'
echo "ok   BYE from the carrier: BYE to the phone, CDR end_reason 'callee BYE'"
seen=$(responses_once "$work/sip-phone.pcap" 10.10.0.1) || fail "a response reached the phone twice (or none): $seen"
echo "ok   each response reached the phone once: $seen"

# --- CANCEL before answer
carrier_uas "$sippdir/control_carrier_ring.xml" "$work/g729.pcap"
uac_scenario "$work/cancel.xml" "$pts" "$work/pcmu.pcap" 0 spa1-secret "$sippdir/control_phone_cancel.xml"
phone_uac "$work/cancel.xml" || fail "CANCEL: phone side"
wait "$carrier_pid" || fail "CANCEL: the carrier did not get CANCEL"
sleep 0.3
cdr 'assert r["result"]==487 and r["end_reason"]=="CANCEL" and r["answer_ms"]==0'
echo "ok   CANCEL before answer: 487 to the phone, CANCEL to the carrier, CDR 487"

# --- hold and resume from the phone; the carrier plays G.729 while on hold,
# which the dataplane must withhold from the phone (telemetry drop_held).
tel_sock=$(find /var/run/dpdk/msgw-ctlit -name 'dpdk_telemetry.v2' 2>/dev/null | head -1)
[[ -n $tel_sock ]] || fail "no dataplane telemetry socket"
held() {
  /usr/bin/python3 "$(dirname "$0")/dataplane_rtp.py" telemetry "$tel_sock" /msgw/workers | python3 -c '
import json,sys; print(sum(w["drop_held"] for w in json.load(sys.stdin)["/msgw/workers"].values() if isinstance(w, dict)))'
}
held_before=$(held)
carrier_uas "$sippdir/control_carrier_reinvite.xml" "$work/g729.pcap"
uac_scenario "$work/hold.xml" "$pts" "$work/short.pcap" 0 spa1-secret "$sippdir/control_phone_hold.xml"
phone_uac "$work/hold.xml" || fail "hold: phone side $(tail -n 3 "$work/hold.xml.err" 2>/dev/null)"
wait "$carrier_pid" || fail "hold: carrier side"
grep -q "re-INVITE sendonly answered with a=recvonly" "$work/hold.xml.log" || fail "hold answer: $(cat "$work/hold.xml.log")"
grep -q "re-INVITE sendrecv answered with a=sendrecv" "$work/hold.xml.log" || fail "resume answer"
grep -q "carrier re-INVITE 1 direction a=sendonly" "$work"/control_carrier_reinvite-*.log || fail "hold not relayed"
grep -q "carrier re-INVITE 2 direction a=sendrecv" "$work"/control_carrier_reinvite-*.log || fail "resume not relayed"
grep -q "carrier INVITE asserted identity sip:15550001000@" "$work"/control_carrier_reinvite-*.log || fail "the carrier's INVITE had no P-Asserted-Identity with the subscriber's DID"
grep -q "carrier INFO Signal=5 as application/dtmf-relay" "$work"/control_carrier_reinvite-*.log || fail "the phone's INFO digit did not reach the carrier"
grep -q "INFO answered 200" "$work/hold.xml.log" || fail "the carrier's 200 to the INFO did not reach the phone"
grep -q "session timer 1800;refresher=uac" "$work/hold.xml.log" || fail "the phone's session timer was not accepted: $(grep 'session timer' "$work/hold.xml.log")"
cdr 'assert r["end_reason"]=="caller BYE" and r["result"]==200'
held_after=$(held)
# About 1 s of hold at 50 packets/s; allow for the re-INVITE round trips.
(( held_after - held_before >= 20 )) || fail "hold: dataplane withheld $((held_after - held_before)) packets from the held phone (want >= 20)"
echo "ok   hold (sendonly -> recvonly) and resume relayed to the carrier; dataplane withheld $((held_after - held_before)) packets from the held phone; a SIP INFO digit passed to the carrier, its 200 back; the phone's session timer accepted (refresher=uac); the carrier learnt the caller's DID in P-Asserted-Identity; CDR written"

# --- inbound call to the DID
ip netns exec msgw-phone sipp -sf "$sippdir/control_register.xml" -i 10.10.0.2 -p 5062 -m 1 -nostdin -auth_uri 10.10.0.1 \
  -timeout 10s 10.10.0.1:5060 >"$work/register.out" 2>&1 || fail "REGISTER with digest"
ctl show registrations --json | python3 -c '
import json,sys; r=json.load(sys.stdin); assert any(x["aor"].startswith("sip:spa1@") for x in r), r' || fail "registration not shown"
# The registered phone answering one call to its DID, in the background (phone_pid).
phone_answers() {  # phone_answers NAME
  ip netns exec msgw-phone sipp -sf "$sippdir/control_phone_uas.xml" -i 10.10.0.2 -p 5062 -mi 10.10.0.2 \
    -mp 16388 -m 1 -nostdin -timeout 30s -trace_err -error_file "$work/$1.err" >"$work/$1.out" 2>&1 &
  phone_pid=$!; bg_pids+=($phone_pid)
  sleep 0.3
}
# The carrier calls the DID with a scenario template (@EXPECT@ 200, @PCAP@
# G.729 speech, @TALK_MS@ filled) while the registered phone answers; NAME
# names the files, WHAT the failure.
carrier_calls_did() {  # carrier_calls_did NAME TEMPLATE TALK_MS WHAT
  local name=$1 tpl=$2 talk=$3 what=$4
  phone_answers "phone_$name"
  sed -e "s|@EXPECT@|200|" -e "s|@PCAP@|$work/g729.pcap|" -e "s|@TALK_MS@|$talk|" "$tpl" >"$work/$name.xml"
  ip netns exec msgw-carrier sipp -sf "$work/$name.xml" -s +15550001000 -i 10.20.0.2 -p 5070 -mi 10.20.0.2 \
    -mp 6000 -m 1 -nostdin -timeout 30s -trace_err -error_file "$work/$name.err" -trace_logs \
    -log_file "$work/$name.log" 10.20.0.1:5060 >"$work/$name.out" 2>&1 \
    || fail "$what: carrier side $(tail -n 3 "$work/$name.err" 2>/dev/null)"
  wait $phone_pid || fail "$what: phone side"
}
carrier_calls_did in "$sippdir/control_carrier_uac.xml" 2000 "inbound"
cdr 'assert r["direction"]=="inbound" and r["result"]==200 and r["trunk"]=="carrier" and r["end_reason"]=="caller BYE", r'
echo "ok   inbound call to DID +1 555 000 1000 reached the registered phone; CDR inbound"

# --- inbound call with a delayed offer (INVITE without SDP): our 200 offers,
# the carrier's ACK answers, its speech reaches the phone through the flow
d0=$(gwstat delayed_offers)
carrier_calls_did in_do "$sippdir/control_carrier_uac_delayed.xml" 2500 "delayed offer (no offer in the 200?)"
(( $(gwstat delayed_offers) == d0 + 1 )) || fail "delayed offer not counted"
cdr 'assert r["direction"]=="inbound" and r["result"]==200 and r["end_reason"]=="caller BYE" and r["a_packets"]>50, r'
echo "ok   inbound delayed offer: the 200 offered G.729, the ACK answered, $(ctl show cdrs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["a_packets"])') RTP packets from the carrier through the flow"

# --- inbound SIP-I call: SDP beside an ISUP part in a multipart body
carrier_calls_did in_sipi "$sippdir/control_carrier_uac_sipi.xml" 2500 "SIP-I INVITE (415?)"
cdr 'assert r["direction"]=="inbound" and r["result"]==200 and r["end_reason"]=="caller BYE" and r["a_packets"]>50, r'
echo "ok   inbound SIP-I INVITE (multipart SDP + ISUP): the SDP part taken, answered, speech carried"

# --- the phone's call with a delayed offer: no SDP in its INVITEs, our 200
# offers, its ACK answers PCMU; the carrier's G.729 leg is transcoded and
# speech flows both ways through the latched phone leg
carrier_uas "$sippdir/control_carrier_uas.xml" "$work/g729.pcap"
uac_scenario "$work/do.xml" "0 101" "$work/pcmu.pcap" 2500 spa1-secret "$sippdir/control_phone_delayed_offer.xml"
phone_uac "$work/do.xml" || fail "delayed offer from the phone: phone side $(tail -n 3 "$work/do.xml.err" 2>/dev/null)"
wait "$carrier_pid" || fail "delayed offer from the phone: carrier side"
cdr 'assert r["direction"]=="outbound" and r["result"]==200 and r["a_codec"]!=r["b_codec"] and r["a_packets"]>50 and r["b_packets"]>50, r'
echo "ok   phone's delayed offer: our 200 offered, its ACK answered PCMU, transcoded to the carrier's G.729, $(ctl show cdrs --json | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["a_packets"], "/", r["b_packets"])') packets phone/carrier"

# --- failover: the dead trunk times out, the carrier answers
f0=$(gwstat failovers)
carrier_uas "$sippdir/control_carrier_uas.xml" "$work/short.pcap"
uac_scenario "$work/fo.xml" "$pts" "$work/short.pcap" 1000
NUMBER=1-900-555-1212 phone_uac "$work/fo.xml" || fail "failover: phone side $(tail -n 3 "$work/fo.xml.err" 2>/dev/null)"
wait "$carrier_pid" || fail "failover: carrier side"
(( $(gwstat failovers) == f0 + 1 )) || fail "failover not counted"
cdr 'assert r["trunk"]=="carrier" and r["result"]==200'
echo "ok   failover: trunk 'dead' timed out, the call went to 'carrier'"

# --- reliable early media from the carrier (RFC 3262): PRACKed once, relayed once
carrier_uas "$sippdir/control_carrier_prack.xml" "$work/short.pcap"
uac_scenario "$work/prack.xml" "$pts" "$work/short.pcap" 1000
phone_uac "$work/prack.xml" || fail "reliable 183: phone side $(tail -n 3 "$work/prack.xml.err" 2>/dev/null)"
wait "$carrier_pid" || fail "reliable 183: carrier side (no PRACK, a wrong RAck or a second PRACK) \
$(tail -n 3 "$work"/control_carrier_prack-*.err 2>/dev/null)"
grep -q "carrier PRACK RAck *1 [0-9]* INVITE" "$work"/control_carrier_prack-*.log || fail "no PRACK logged by the carrier"
cdr 'assert r["trunk"]=="carrier" and r["result"]==200'
echo "ok   reliable 183 from the carrier: PRACKed once (RAck 1), its retransmission dropped, the call answered"

# --- media timeout: one second of speech, then silence on both legs
m0=$(gwstat media_timeouts)
carrier_uas "$sippdir/control_carrier_uas.xml" "$work/short.pcap"
WAIT_MS=20000 uac_scenario "$work/mt.xml" "$pts" "$work/short.pcap" 0 spa1-secret "$sippdir/control_phone_wait_bye.xml"
phone_uac "$work/mt.xml" || fail "media timeout: the phone got no BYE"
wait "$carrier_pid" || fail "media timeout: the carrier got no BYE"
(( $(gwstat media_timeouts) == m0 + 1 )) || fail "media timeout not counted"
cdr 'assert r["end_reason"]=="media timeout", r'
echo "ok   media timeout (4 s of silence): BYE to both legs, CDR 'media timeout'"

# --- kill -9 of msgw-control mid-call
capture msgw-carrier carrier0 10.20.0.1 "$work/kill.pcap"
carrier_uas "$sippdir/control_carrier_uas.xml" "$work/g729.pcap"
WAIT_MS=40000 uac_scenario "$work/kill.xml" "$pts" "$work/pcmu.pcap" 0 spa1-secret "$sippdir/control_phone_wait_bye.xml"
phone_uac "$work/kill.xml" & uac=$!
for _ in $(seq 50); do [[ $(ctl show calls --json 2>/dev/null) == *answered* ]] && break; sleep 0.1; done
cpid=$(cat "$work/run/control.pid")
kill -KILL "$cpid"
sleep 0.5
s1=$(stat -c %s "$work/kill.pcap"); sleep 2; s2=$(stat -c %s "$work/kill.pcap")
(( s2 > s1 + 1000 )) || fail "media stopped when msgw-control died ($s1 -> $s2 bytes captured)"
echo "ok   msgw-control killed (-9) mid-call: media kept flowing ($((s2 - s1)) bytes of RTP to the carrier in 2 s)"
ip netns exec msgw-gw "$build/control/msgw-control" --config "$work/gw.toml" >>"$work/run/control.log" 2>&1 &
echo $! >"$work/run/control.pid"
for _ in $(seq 50); do ctl show calls --json >/dev/null 2>&1 && break; sleep 0.1; done
id=$(ctl show calls --json | python3 -c '
import json,sys; c=json.load(sys.stdin); assert len(c)==1 and c[0]["restored"], c; print(c[0]["call"])') \
  || fail "restarted msgw-control does not list the live call"
ctl hangup "$id" >/dev/null || fail "hangup of the restored call"
wait $uac || fail "kill -9: the phone got no BYE"
wait "$carrier_pid" || fail "kill -9: the carrier got no BYE"
stop_captures
cdr 'assert r["end_reason"]=="hangup by operator" and r["answer_ms"]>0, r'
echo "ok   restarted msgw-control restored the call and ended it with BYE on both legs"

# --- kill -9 again, and this time the carrier hangs up the restored call:
# the new stack has no dialog for it, the gateway still ends it on both legs.
# A nonce the phone got before the kill is still good after it (the key is in
# the state database): its INVITE is routed (404: no route for 1-555), not challenged.
nonce_tool=$(dirname "$0")/cached_nonce.py
ip netns exec msgw-phone python3 "$nonce_tool" challenge 10.10.0.1 >"$work/nonce.json" || fail "cached nonce: no 407"
TALK_MS=5000 carrier_uas "$sippdir/control_carrier_bye.xml" "$work/g729.pcap"
WAIT_MS=40000 uac_scenario "$work/kill2.xml" "$pts" "$work/pcmu.pcap" 0 spa1-secret "$sippdir/control_phone_wait_bye.xml"
phone_uac "$work/kill2.xml" & uac=$!
for _ in $(seq 50); do [[ $(ctl show calls --json 2>/dev/null) == *answered* ]] && break; sleep 0.1; done
kill -KILL "$(cat "$work/run/control.pid")"
sleep 0.5
ip netns exec msgw-gw "$build/control/msgw-control" --config "$work/gw.toml" >>"$work/run/control.log" 2>&1 &
echo $! >"$work/run/control.pid"
for _ in $(seq 50); do ctl show calls --json >/dev/null 2>&1 && break; sleep 0.1; done
ctl show calls --json | python3 -c 'import json,sys; c=json.load(sys.stdin); assert len(c)==1 and c[0]["restored"], c' \
  || fail "kill -9 (carrier BYE): the call was not restored"
wait "$carrier_pid" || fail "kill -9 (carrier BYE): the carrier's BYE was not answered 200 $(tail -n 3 "$work/control_carrier_bye-10.20.0.2.err" 2>/dev/null)"
wait $uac || fail "kill -9 (carrier BYE): the phone got no BYE"
cdr 'assert r["end_reason"]=="callee BYE" and r["answer_ms"]>0, r'
echo "ok   restarted msgw-control: the carrier's BYE for the restored call got 200 and the phone its BYE"
f_before=$(gwstat auth_failures)
status=$(ip netns exec msgw-phone python3 "$nonce_tool" answer 10.10.0.1 "$work/nonce.json") \
  || fail "cached nonce after kill -9: $status"
[[ $status == 404 ]] || fail "cached nonce after kill -9: answered $status, want 404 (authenticated, no route)"
(( $(gwstat auth_failures) == f_before )) || fail "cached nonce after kill -9: counted as an authentication failure"
cdr 'assert r["result"]==404 and r["end_reason"]=="no_route", r'
echo "ok   a nonce cached before kill -9 of msgw-control was accepted after the restart (404 no route, CDR written)"

# --- msgw-dataplane restarted mid-call: the control plane sees the new
# generation and programs the live flow again; media resumes
capture msgw-carrier carrier0 10.20.0.1 "$work/dprs.pcap"
carrier_uas "$sippdir/control_carrier_uas.xml" "$work/g729.pcap"
WAIT_MS=40000 uac_scenario "$work/dprs.xml" "$pts" "$work/pcmu.pcap" 0 spa1-secret "$sippdir/control_phone_wait_bye.xml"
r0=$(gwstat dataplane_restarts) p0=$(gwstat flows_reprogrammed)
phone_uac "$work/dprs.xml" & uac=$!
for _ in $(seq 50); do [[ $(ctl show calls --json 2>/dev/null) == *answered* ]] && break; sleep 0.1; done
sleep 0.5
dpid=$(cat "$work/run/dataplane.pid")
kill -TERM "$dpid"
for _ in $(seq 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$dpid" 2>/dev/null || fail "dataplane restart: msgw-dataplane did not stop"
ip netns exec msgw-gw "$build/dataplane/msgw-dataplane" --config "$work/gw.toml" >>"$work/run/dataplane.log" 2>&1 &
echo $! >"$work/run/dataplane.pid"
for _ in $(seq 100); do (( $(gwstat dataplane_restarts) > r0 )) && break; sleep 0.1; done
(( $(gwstat dataplane_restarts) == r0 + 1 )) || fail "dataplane restart: msgw-control did not see the new generation"
(( $(gwstat flows_reprogrammed) == p0 + 1 )) || fail "dataplane restart: the live flow was not programmed again"
sleep 0.5
s1=$(stat -c %s "$work/dprs.pcap"); sleep 2; s2=$(stat -c %s "$work/dprs.pcap")
(( s2 > s1 + 1000 )) || fail "dataplane restart: no media to the carrier after it ($s1 -> $s2 bytes captured)"
id=$(ctl show calls --json | python3 -c 'import json,sys; c=json.load(sys.stdin); assert len(c)==1, c; print(c[0]["call"])') \
  || fail "dataplane restart: the call is gone"
ctl hangup "$id" >/dev/null || fail "dataplane restart: hangup"
wait $uac || fail "dataplane restart: the phone got no BYE"
wait "$carrier_pid" || fail "dataplane restart: the carrier got no BYE"
stop_captures
echo "ok   msgw-dataplane restarted mid-call: new generation seen, flow programmed again, media resumed ($((s2 - s1)) bytes of RTP to the carrier in 2 s)"

# --- per-source limit and overload shedding (sip/include/msgw/sip/admission.hpp)
# sip_probe SRC_IP COUNT WAIT_S [STOPPED_PID]: COUNT new INVITEs from SRC_IP:5070 as fast
# as the socket takes them; prints what came back, one "CODE RETRY-AFTER"
# line per call (retransmitted answers once).  STOPPED_PID gets SIGCONT 300 ms
# after the INVITEs were sent (they wait that long in its socket).
sip_probe() {
  ip netns exec msgw-phone python3 - "$@" <<'PY'
import os, re, signal, socket, sys, time
src, n, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((src, 5070))
tag = "%x" % int(time.time() * 1e6)
for i in range(n):
    s.sendto(("INVITE sip:1-800-555-1212@10.10.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s:5070;branch=z9hG4bK-%s-%d;rport\r\n"
              "Max-Forwards: 70\r\nFrom: <sip:spa1@10.10.0.1>;tag=%s%d\r\nTo: <sip:1-800-555-1212@10.10.0.1>\r\n"
              "Call-ID: %s-%d@%s\r\nCSeq: 1 INVITE\r\nContact: <sip:spa1@%s:5070>\r\nContent-Length: 0\r\n\r\n"
              % (src, tag, i, tag, i, tag, i, src, src)).encode(), ("10.10.0.1", 5060))
if len(sys.argv) > 4: time.sleep(0.3); os.kill(int(sys.argv[4]), signal.SIGCONT)
s.settimeout(wait); end = time.time() + wait; seen = set()
while time.time() < end:
    try: d = s.recv(65535).decode(errors="replace")
    except socket.timeout: break
    m = re.match(r"SIP/2.0 (\d+)", d); ra = re.search(r"\r\nRetry-After: *(\d+)", d)
    cid = re.search(r"\r\nCall-ID: *(\S+)", d)
    # Only answers to this run's INVITEs (not retransmitted answers to an earlier one's).
    if m and m.group(1) != "100" and cid and cid.group(1).startswith(tag + "-") and cid.group(1) not in seen:
        seen.add(cid.group(1)); print(m.group(1), ra.group(1) if ra else "-")
PY
}
metric() { ip netns exec msgw-gw curl -s http://127.0.0.1:9105/metrics | awk -v m="$1" '$1 == m {print $2}'; }
ip -n msgw-phone addr add 10.10.0.3/24 dev phone0
ip -n msgw-phone addr add 10.10.0.4/24 dev phone0
sed -i -e 's/^source_invite_rate = .*/source_invite_rate = 10/' "$work/gw.toml"
ctl reload >/dev/null || fail "per-source limit: reload refused"
answered=$(sip_probe 10.10.0.3 200 1 | wc -l)
(( answered > 0 && answered <= 20 )) || fail "per-source limit: the flooder got $answered answers to 200 INVITEs (burst 20)"
carrier_uas "$sippdir/control_carrier_uas.xml" "$work/g729.pcap"
uac_scenario "$work/pike.xml" "$pts" "$work/short.pcap" 0
phone_uac "$work/pike.xml" || fail "per-source limit: the phone's call failed while another source flooded"
wait "$carrier_pid" || fail "per-source limit: carrier side"
(( $(metric msgw_sip_source_blocks_total) >= 1 )) || fail "per-source limit: no block counted"
(( $(metric msgw_sip_source_blocked_drops_total) >= 150 )) || fail "per-source limit: drops not counted"
grep -q 'SIP source blocked.*peer=10.10.0.3' "$work/run/control.log" || fail "per-source limit: block not logged"
[[ -z $(sip_probe 10.10.0.3 1 0.3) ]] || fail "per-source limit: a blocked source was answered"
echo "ok   per-source limit: 10.10.0.3 blocked after $answered of 200 INVITEs, dropped unparsed; the phone's call completed"
cpid=$(cat "$work/run/control.pid")
kill -STOP "$cpid"
shed=$(sip_probe 10.10.0.4 1 1.5 "$cpid")
[[ $shed == "503 2" ]] || { kill -CONT "$cpid"; fail "overload: an INVITE 300 ms old got '$shed', not 503 with Retry-After 2"; }
again=$(sip_probe 10.10.0.4 1 1)
[[ $again == "407 -" ]] || fail "overload: the next INVITE got '$again', not 407 (no recovery)"
(( $(metric msgw_sip_shed_invites_total) == 1 )) || fail "overload: shed INVITE not counted"
echo "ok   overload: an INVITE that waited 300 ms got 503 + Retry-After unparsed; the next one 407 at once"
sed -i -e 's/^source_invite_rate = .*/source_invite_rate = 0/' "$work/gw.toml"
ctl reload >/dev/null || fail "per-source limit: reload back refused"

# --- wrong password (last: it gets the phone's address blocked)
o0=$(gwstat outbound_calls)
for i in 1 2 3 4 5; do
  uac_scenario "$work/wp$i.xml" "$pts" "$work/short.pcap" 0 not-the-password "$sippdir/control_phone_wrong_password.xml"
  phone_uac "$work/wp$i.xml" || fail "wrong password attempt $i: $(tail -n 3 "$work/wp$i.xml.err" 2>/dev/null)"
done
(( $(gwstat auth_blocked_403) >= 1 )) || fail "no 403 after 5 failures"
(( $(gwstat outbound_calls) == o0 )) || fail "a call was routed with a wrong password"
grep -q "403 Too Many" "$work/wp5.xml.msg" || fail "5th attempt not answered 403"
# Blocked now, even with the right password.
uac_scenario "$work/blocked.xml" "$pts" "$work/short.pcap" 0
if phone_uac "$work/blocked.xml"; then fail "a blocked source placed a call"; fi
grep -q "403 Too Many" "$work/blocked.xml.msg" || fail "blocked source not answered 403"
echo "ok   wrong password: 407 x4 then 403, never routed; the source stays blocked (403)"
echo "control_scenarios: all checks passed"
