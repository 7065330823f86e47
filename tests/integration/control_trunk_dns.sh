#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A trunk given by DNS name (issue 21, item 4) on the rig: dnsmasq in the
# carrier namespace serves SRV records for `carrier.msgw.test` with two
# targets (priority 10: 10.20.0.2:5060, priority 20: 10.20.0.2:5070; TTL 2 s),
# msgw-control asks it ([sip] dns_servers). The call goes to the priority-10
# target, which answers 503, and fails over to the priority-20 one, which
# answers; the Request-URI keeps the name; the answer is re-queried before
# its TTL runs out; with the DNS server stopped the last good answer is kept
# and a call still fails over from the (now stopped) first target to the
# second. `msgwctl config check` warns about a name that does not
# resolve and passes the one that does.
# Usage: control_trunk_dns.sh BUILD_DIR   (root; 77 = skipped)
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then echo "needs root (network namespaces)"; exit 77; fi
command -v dnsmasq >/dev/null || { echo "dnsmasq not installed (scripts/setup.sh)"; exit 77; }
build=$(cd "$1" && pwd)
source "$(dirname "$0")/control_lib.sh"
dns_pid=
# dnsmasq ends on SIGTERM (rig_cleanup's SIGINT does not stop it).
trap '[[ -n $dns_pid ]] && kill -TERM "$dns_pid" 2>/dev/null; rig_cleanup' EXIT

make_config <<'EOF2'

[[trunk]]
name = "named"
address = "carrier.msgw.test"
codecs = ["G729"]
port = "trunk"
timeout_ms = 2000

[[trunk]]
name = "ghost"
address = "ghost.msgw.test"
port = "trunk"

[[route]]
name = "by-name"
prefix = "1700"
trunks = ["named"]
EOF2
sed -i 's|^\[sip\]$|[sip]\ndns_servers = ["10.20.0.2"]|' "$work/gw.toml"
grep -q '^dns_servers' "$work/gw.toml" || fail "could not set dns_servers"
make_speech
rig_up >/dev/null || fail "rig up"
pts="2 0 4 8 96 97 98 100 101"
gwstat() { ctl show stats --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

ip netns exec msgw-carrier dnsmasq --keep-in-foreground --no-resolv --no-hosts --user=root \
  --listen-address=10.20.0.2 --bind-interfaces --port=53 --local=/msgw.test/ --local-ttl=2 \
  --srv-host=_sip._udp.carrier.msgw.test,uas1.carrier.msgw.test,5060,10,0 \
  --srv-host=_sip._udp.carrier.msgw.test,uas2.carrier.msgw.test,5070,20,0 \
  --host-record=uas1.carrier.msgw.test,10.20.0.2 --host-record=uas2.carrier.msgw.test,10.20.0.2 \
  --log-queries --log-facility=- >"$work/dnsmasq.log" 2>&1 &
dns_pid=$!

# msgw-control retries a name without an answer every 2 s.
for _ in $(seq 50); do grep -q 'trunk name resolved.*carrier.msgw.test' "$work/run/control.log" && break; sleep 0.2; done
grep 'trunk name resolved.*carrier.msgw.test' "$work/run/control.log" | head -n 1 |
  grep -q 'addresses=10.20.0.2:5060,10.20.0.2:5070' || fail "carrier.msgw.test not resolved: $(grep -i trunk "$work/run/control.log" | tail -n 3)"
echo "ok   carrier.msgw.test resolved through dnsmasq (SRV + A) without blocking the loop"

# config check: the resolvable name passes, the ghost one is a warning (exit 0).
ip netns exec msgw-gw "$msgwctl" config check "$work/gw.toml" >"$work/check.out" 2>"$work/check.err" ||
  fail "config check failed: $(cat "$work/check.err")"
grep -Eq "warning: trunk\[[0-9]+\].address: 'ghost.msgw.test' does not resolve" "$work/check.err" ||
  fail "config check: no warning for ghost.msgw.test: $(cat "$work/check.err")"
! grep -q "carrier.msgw.test" "$work/check.err" || fail "config check warned about carrier.msgw.test"
echo "ok   config check: warning for ghost.msgw.test, none for carrier.msgw.test"

# Priority 10 answers 503, priority 20 answers.
down=$work/down.xml uas=$work/uas.xml
cp "$sippdir/control_carrier_503.xml" "$down"
sed -e "s|@PCAP@|$work/g729.pcap|" -e "s|@TALK_MS@|1500|" "$sippdir/control_carrier_uas.xml" >"$uas"
ip netns exec msgw-carrier sipp -sf "$down" -i 10.20.0.2 -p 5060 -mi 10.20.0.2 -mp 6010 -m 1 -nostdin \
  -timeout 60s -trace_msg -message_file "$down.msg" >"$down.out" 2>&1 &
down_pid=$!; bg_pids+=($down_pid)
ip netns exec msgw-carrier sipp -sf "$uas" -i 10.20.0.2 -p 5070 -mi 10.20.0.2 -mp 6000 -m 1 -nostdin \
  -timeout 60s -trace_msg -message_file "$uas.msg" >"$uas.out" 2>&1 &
uas_pid=$!; bg_pids+=($uas_pid)
sleep 0.3
f0=$(gwstat failovers)
uac_scenario "$work/call.xml" "$pts" "$work/pcmu.pcap" 1500
NUMBER=1-700-555-1212 phone_uac "$work/call.xml" || fail "call: phone side $(tail -n 3 "$work/call.xml.err" 2>/dev/null)"
wait "$down_pid" || fail "the priority-10 target did not get the INVITE"
wait "$uas_pid" || fail "the priority-20 target did not complete the call"
grep -q "INVITE sip:17005551212@carrier.msgw.test SIP/2.0" "$down.msg" || fail "Request-URI does not keep the name"
(( $(gwstat failovers) == f0 + 1 )) || fail "failover not counted"
ctl show cdrs --json | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; assert r["trunk"]=="named" and r["result"]==200, r' ||
  fail "CDR"
echo "ok   call to trunk 'named': SRV priority 10 (5060) answered 503, failed over to priority 20 (5070), answered"

# TTL 2 s: refreshed at 1.5 s, so several SRV queries reached the server.
srv_queries=$(grep -c 'query\[SRV\] _sip._udp.carrier.msgw.test' "$work/dnsmasq.log" || true)
(( srv_queries >= 2 )) || fail "SRV answer not refreshed within its TTL ($srv_queries queries)"
echo "ok   the SRV answer (TTL 2 s) was re-queried before expiry: $srv_queries queries"
(( $(gwstat trunks_unresolved) == 0 )) || fail "trunks_unresolved counted"

# The DNS server goes away: past the TTL the last good answer is kept (and
# logged). The priority-10 target is stopped now: its answer deadline
# passes and the call fails over to the priority-20 one again.
kill -TERM "$dns_pid"; wait "$dns_pid" 2>/dev/null || true; dns_pid=
sleep 2.5
grep -q 'no DNS answer, keeping the last good one name=carrier.msgw.test' "$work/run/control.log" ||
  fail "no 'keeping the last good one' line after dnsmasq stopped"
ip netns exec msgw-carrier sipp -sf "$uas" -i 10.20.0.2 -p 5070 -mi 10.20.0.2 -mp 6000 -m 1 -nostdin \
  -timeout 60s -trace_msg -message_file "$uas.2.msg" >"$uas.2.out" 2>&1 &
uas_pid=$!; bg_pids+=($uas_pid)
sleep 0.3
uac_scenario "$work/call2.xml" "$pts" "$work/pcmu.pcap" 1000
NUMBER=1-700-555-1212 phone_uac "$work/call2.xml" || fail "call 2: phone side $(tail -n 3 "$work/call2.xml.err" 2>/dev/null)"
wait "$uas_pid" || fail "call 2: the priority-20 target did not complete the call"
(( $(gwstat failovers) == f0 + 2 )) || fail "call 2: failover not counted"
echo "ok   DNS server stopped: the last good answer kept; priority-10 target stopped: failover to priority 20 after its timeout"
