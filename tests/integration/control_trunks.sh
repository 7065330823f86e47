#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Carrier trunks on the rig (msgw-dataplane + msgw-control, SIPp phone and
# SIPp trunks in the carrier namespace), one bring-up:
#   a trunk that challenges with 407, and one with 401: the call completes,
#   the second call on that trunk carries the cached nonce (nc > 1) and is not
#   challenged; a registering trunk: REGISTER answered with credentials,
#   refreshed before the 4 s expiry its Contact was granted; a trunk that stops answering OPTIONS:
#   down within seconds, the next call goes to the second trunk at once (setup
#   well under the first trunk's 4 s answer timeout); when it answers again
#   it is up and used again; a trunk that refuses the credentials (challenges
#   the answer again): the call fails over to the carrier and completes, the
#   CDR names the cause; an inbound call from the registering trunk to a
#   subscriber's DID reaches the registered phone.
# Usage: control_trunks.sh BUILD_DIR   (root; 77 = skipped)
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then echo "needs root (network namespaces)"; exit 77; fi
build=$(cd "$1" && pwd)
source "$(dirname "$0")/control_lib.sh"
trap rig_cleanup EXIT

make_config <<'EOF2'

[[trunk]]
name = "auth407"
address = "10.20.0.2:5070"
codecs = ["G729"]
port = "trunk"
username = "gw"
password = "trunk-secret"

[[trunk]]
name = "auth401"
address = "10.20.0.2:5072"
codecs = ["G729"]
port = "trunk"
username = "gw"
password = "trunk-secret"

[[trunk]]
name = "registrar"
address = "10.20.0.2:5074"
codecs = ["G729"]
port = "trunk"
username = "gw"
password = "trunk-secret"
register = true
register_expires_s = 30

[[trunk]]
name = "wrongpw"
address = "10.20.0.2:5076"
codecs = ["G729"]
port = "trunk"
username = "gw"
password = "not-the-password"

[[trunk]]
name = "pinged"
address = "10.20.0.3:5060"
codecs = ["G729"]
port = "trunk"
timeout_ms = 4000
ping_interval_s = 1
down_after = 2
up_after = 2

[[route]]
name = "auth407"
prefix = "1888"
trunks = ["auth407"]

[[route]]
name = "auth401"
prefix = "1866"
trunks = ["auth401"]

[[route]]
name = "wrongpw"
prefix = "1855"
trunks = ["wrongpw", "carrier"]

[[route]]
name = "health"
prefix = "1877"
trunks = ["pinged", "carrier"]
EOF2
rig_up >/dev/null || fail "rig up"
ip netns exec msgw-carrier ip addr add 10.20.0.3/24 dev carrier0
pts="2 0 4 8 96 97 98 100 101"
pcap=/usr/share/sip-tester/g711a.pcap

gwstat() { ctl show stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
trunk() {  # trunk NAME FIELD
  ctl show trunks --json | python3 -c "import json,sys; print([r for r in json.load(sys.stdin) if r['trunk']=='$1'][0]['$2'])"
}
cdr() {
  ctl show cdrs --json | python3 -c "import json,sys; r=json.load(sys.stdin)[0]; $1" \
    || fail "CDR check '$1': $(ctl show cdrs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0])')"
}
# wait_for SECONDS WHAT COMMAND...: polls every 0.2 s.
wait_for() {
  local n=$(( $1 * 5 )) what=$2; shift 2
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.2; done
  fail "timed out waiting for $what"
}
# sipp_trunk TEMPLATE IP PORT CALLS [sed expressions...]: a SIPp trunk in the background; pid in trunk_pid.
sipp_trunk() {
  local tpl=$1 ip=$2 port=$3 calls=$4 name; shift 4
  name=$(basename "$tpl" .xml)-$port
  sed "$@" "$tpl" >"$work/$name.xml"
  # Its own media ports (SIPp binds 6000-6003 by default, which carrier_uas needs).
  ip netns exec msgw-carrier sipp -sf "$work/$name.xml" -i "$ip" -p "$port" -mp $(( 7000 + (port % 100) * 10 )) -m "$calls" -nostdin -timeout 60s \
    -trace_err -error_file "$work/$name.err" -trace_msg -message_file "$work/$name.msg" >"$work/$name.out" 2>&1 &
  bg_pids+=($!)
  trunk_pid=$!
}
call() {  # call NUMBER NAME
  uac_scenario "$work/$2.xml" "$pts" "$pcap" 300
  NUMBER=$1 phone_uac "$work/$2.xml" || fail "$2: phone side $(tail -n 3 "$work/$2.xml.err" 2>/dev/null)"
}

# The registrar and the pinged trunk first: the gateway starts on them at once
# (a REGISTER sent before SIPp listens is retransmitted).
sipp_trunk "$sippdir/control_trunk_registrar.xml" 10.20.0.2 5074 1 -e ''
reg_pid=$trunk_pid
sipp_trunk "$sippdir/control_trunk_options.xml" 10.20.0.3 5060 100000 -e ''
opt_pid=$trunk_pid

# --- digest: 407 (proxy) and 401 (UAS), then the cached nonce
for code in 407 401; do
  if [[ $code == 407 ]]; then port=5070 num=1-888-555-1212 ch=Proxy-Authenticate az=Proxy-Authorization
  else port=5072 num=1-866-555-1212 ch=WWW-Authenticate az=Authorization; fi
  sipp_trunk "$sippdir/control_trunk_challenge.xml" 10.20.0.2 $port 1 \
    -e "s|@CODE@|$code|g" -e "s|@CHALLENGE@|$ch|g" -e "s|@AUTHZ@|$az|g"
  call "$num" "auth$code-1"
  wait "$trunk_pid" || fail "$code: the trunk saw no valid credentials: $(tail -n 3 "$work"/control_trunk_challenge-$port.err)"
  cdr "assert r['trunk']=='auth$code' and r['result']==200 and r['answer_ms']>0"
  sipp_trunk "$sippdir/control_trunk_cached.xml" 10.20.0.2 $port 1 -e "s|@AUTHZ@|$az|g"
  call "$num" "auth$code-2"
  wait "$trunk_pid" || fail "$code: the second call did not reuse the nonce: $(tail -n 3 "$work"/control_trunk_cached-$port.err)"
  echo "ok   trunk $code: answered once with credentials, the call completed; the next call reused the nonce (nc > 1, no challenge)"
done

# --- wrong password: the second challenge ends the attempt, the carrier takes the call
sipp_trunk "$sippdir/control_trunk_wrong_password.xml" 10.20.0.2 5076 1 -e ''
wp_pid=$trunk_pid
carrier_uas "$sippdir/control_carrier_uas.xml" "$pcap"
f0=$(gwstat trunk_auth_failures)
call 1-855-555-1212 wrongpw
wait "$carrier_pid" || fail "wrong password: the carrier did not get the call"
wait "$wp_pid" || fail "wrong password: the refusing trunk saw no credentials: $(tail -n 3 "$work"/control_trunk_wrong_password-5076.err)"
cdr "assert r['trunk']=='carrier' and r['result']==200 and 'after: trunk_auth_failed: 407 from wrongpw' in r['end_reason'], r"
(( $(gwstat trunk_auth_failures) == f0 + 1 )) || fail "wrong password: not counted"
echo "ok   trunk with a wrong password: challenged again, not answered twice; failed over to the carrier; CDR: $(ctl show cdrs --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["end_reason"])')"

# --- registration: REGISTER with credentials, refreshed before the expiry the
# registrar granted our Contact (expires=4; we asked 30 and its Expires header
# says 30: the SIPp registrar fails a refresh that comes after 3.8 s)
wait_for 10 "the trunk registered" bash -c "[[ \$($msgwctl --socket $work/control.sock show trunks --json | python3 -c \"import json,sys; print([r for r in json.load(sys.stdin) if r['trunk']=='registrar'][0]['registration'])\") == registered ]]"
t_first=$(date +%s.%N)
wait_for 10 "the registration refresh" bash -c "(( \$($msgwctl --socket $work/control.sock show stats --json | python3 -c \"import json,sys; print(json.load(sys.stdin)['trunk_registrations'])\") >= 2 ))"
t_refresh=$(date +%s.%N)
wait "$reg_pid" || fail "registrar: $(tail -n 3 "$work"/control_trunk_registrar-5074.err)"
awk -v a="$t_first" -v b="$t_refresh" 'BEGIN{exit !(b - a < 4)}' || fail "refresh after the granted expiry"
printf 'ok   trunk registration: 401 answered, registered, refreshed with the cached nonce %.1f s later (Contact expires=4, Expires: 30)\n' \
  "$(awk -v a="$t_first" -v b="$t_refresh" 'BEGIN{print b - a}')"

# --- inbound from the registering trunk (its address and port) to the subscriber's DID
ip netns exec msgw-phone sipp -sf "$sippdir/control_register.xml" -i 10.10.0.2 -p 5062 -m 1 -nostdin -auth_uri 10.10.0.1 \
  -timeout 10s 10.10.0.1:5060 >"$work/register.out" 2>&1 || fail "phone REGISTER"
ip netns exec msgw-phone sipp -sf "$sippdir/control_phone_uas.xml" -i 10.10.0.2 -p 5062 -mi 10.10.0.2 -mp 16388 \
  -m 1 -nostdin -timeout 30s -trace_err -error_file "$work/phone_uas.err" >"$work/phone_uas.out" 2>&1 &
phone_pid=$!; bg_pids+=($phone_pid)
sleep 0.3  # SIPp's socket up
sed -e "s|@EXPECT@|200|" -e "s|@TALK_MS@|300|" "$sippdir/control_carrier_uac.xml" >"$work/in.xml"
ip netns exec msgw-carrier sipp -sf "$work/in.xml" -s +15550001000 -i 10.20.0.2 -p 5074 -mi 10.20.0.2 -mp 6000 \
  -m 1 -nostdin -timeout 30s -trace_err -error_file "$work/in.err" 10.20.0.1:5060 >"$work/in.out" 2>&1 \
  || fail "inbound from the registering trunk: carrier side $(tail -n 3 "$work/in.err" 2>/dev/null)"
wait $phone_pid || fail "inbound from the registering trunk: phone side"
cdr "assert r['direction']=='inbound' and r['result']==200 and r['trunk']=='registrar', r"
echo "ok   inbound call from the registered trunk (10.20.0.2:5074) to DID +1 555 000 1000 reached the phone; CDR names the trunk"

# --- health: OPTIONS every second; down after two missed, up after two answered
wait_for 10 "trunk 'pinged' up" bash -c "[[ \$($msgwctl --socket $work/control.sock show trunks --json | python3 -c \"import json,sys; print([r for r in json.load(sys.stdin) if r['trunk']=='pinged'][0]['health'])\") == up ]]"
kill -INT "$opt_pid"; wait "$opt_pid" 2>/dev/null || true
t_stop=$(date +%s.%N)
wait_for 8 "trunk 'pinged' down" bash -c "[[ \$($msgwctl --socket $work/control.sock show trunks --json | python3 -c \"import json,sys; print([r for r in json.load(sys.stdin) if r['trunk']=='pinged'][0]['health'])\") == down ]]"
printf 'ok   trunk health: no OPTIONS answers, down after %.1f s\n' "$(awk -v a="$t_stop" -v b="$(date +%s.%N)" 'BEGIN{print b - a}')"
s0=$(gwstat trunk_skipped)
carrier_uas "$sippdir/control_carrier_uas.xml" "$pcap"
call 1-877-555-1212 health-down
wait "$carrier_pid" || fail "health: the carrier did not get the call"
(( $(gwstat trunk_skipped) == s0 + 1 )) || fail "health: the down trunk was not skipped"
cdr "assert r['trunk']=='carrier' and r['result']==200 and r['answer_ms'] - r['start_ms'] < 1500, r"
echo "ok   trunk health: the next call went to the second trunk at once (setup $(ctl show cdrs --json | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["answer_ms"]-r["start_ms"])') ms, answer timeout 4000 ms)"
sipp_trunk "$sippdir/control_trunk_options.xml" 10.20.0.3 5060 100000 -e ''
wait_for 8 "trunk 'pinged' up again" bash -c "[[ \$($msgwctl --socket $work/control.sock show trunks --json | python3 -c \"import json,sys; print([r for r in json.load(sys.stdin) if r['trunk']=='pinged'][0]['health'])\") == up ]]"
call 1-877-555-1212 health-up
cdr "assert r['trunk']=='pinged' and r['result']==200, r"
(( $(gwstat trunks_down) >= 1 && $(gwstat trunks_up) >= 1 )) || fail "up/down not counted"
echo "ok   trunk health: answering again, up after two pings, used again; trunks_down $(gwstat trunks_down) trunks_up $(gwstat trunks_up)"
ctl show trunks
