#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Provisioning and reload on the running rig (issue 22, items 5 and 6), one bring-up:
#   msgwctl subscriber add: a new user with a DID registers and calls, no restart;
#   subscriber passwd: the old password is refused, the new one accepted;
#   subscriber del: its REGISTER and calls are refused;
#   a change that would make the file invalid: refused, the file unchanged;
#   reload with a changed trunk address, a removed route and a changed media
#   port range while a call is in progress: applied as config/README.md's
#   table says, the call survives to its BYE, the removed route routes no more;
#   before that reload, the list verbs mark the removed route and the changed
#   trunk "pending reload", after it "running".
# Usage: control_provision.sh BUILD_DIR   (root; 77 = skipped)
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then echo "needs root (network namespaces)"; exit 77; fi
build=$(cd "$1" && pwd)
source "$(dirname "$0")/control_lib.sh"
trap rig_cleanup EXIT

make_config </dev/null
rig_up >/dev/null || fail "rig up"
ctlc() { "$msgwctl" -c "$work/gw.toml" "$@"; }
pts="18 0 8 101"
pcap=/usr/share/sip-tester/g711a.pcap

# SIPp's SPA scenarios as another user.
as_user() {  # as_user TEMPLATE USER OUT
  sed -e "s|spa1|$2|g" "$1" >"$3"
}
register() {  # register USER PASSWORD: SIPp's status
  as_user "$sippdir/control_register.xml" "$1" "$work/reg-$1.xml"
  sed -i "s|password=spa1-secret|password=$2|; s|password=[^]]*]|password=$2]|" "$work/reg-$1.xml"
  ip netns exec msgw-phone sipp -sf "$work/reg-$1.xml" -i 10.10.0.2 -p 5062 -m 1 -nostdin -auth_uri 10.10.0.1 \
    -timeout 4s -timeout_error 10.10.0.1:5060 >"$work/reg-$1.out" 2>&1
}
call_as() {  # call_as USER PASSWORD NAME [TALK_MS]: the phone's side; carrier answers in the background
  as_user "$sippdir/control_spa_uac.xml" "$1" "$work/uac-$1.tpl"
  carrier_uas "$sippdir/control_carrier_uas.xml" "$pcap"
  uac_scenario "$work/$3.xml" "$pts" "$pcap" "${4:-300}" "$2" "$work/uac-$1.tpl"
  phone_uac "$work/$3.xml"
}

# --- add: registers and calls without a restart
out=$(ctlc subscriber add alice --password alice-one --dids 15550002000) || fail "subscriber add: $out"
grep -q "applied by msgw-control" <<<"$out" || fail "not applied live: $out"
grep -q "alice-one" "$work/gw.toml" && fail "password stored in clear"
grep -q "subscriber alice added" "$work/gw.toml.audit" || fail "no audit line"
register alice alice-one || fail "alice's REGISTER: $(tail -n 3 "$work/reg-alice.out")"
call_as alice alice-one alice-1 || fail "alice's call: $(tail -n 3 "$work/alice-1.xml.err" 2>/dev/null)"
wait "$carrier_pid" || fail "alice's call: carrier side"
echo "ok   subscriber add: the new user registered and called, no restart (password stored as HA1, audited)"

# --- passwd: the old password refused
ctlc subscriber passwd alice --password alice-two >/dev/null || fail "passwd"
register alice alice-one && fail "the old password still registers"
register alice alice-two || fail "the new password does not register"
echo "ok   subscriber passwd: old password refused, new one accepted"

# --- invalid change: refused, nothing on disk changes
cp "$work/gw.toml" "$work/before.toml"
ctlc route add intl --prefix 011 --trunks nowhere >/dev/null 2>&1 && fail "an invalid route was accepted"
cmp -s "$work/gw.toml" "$work/before.toml" || fail "a refused change touched the file"
echo "ok   invalid change refused, the file unchanged"

# --- del: REGISTER and calls refused
ctlc subscriber del alice >/dev/null || fail "del"
register alice alice-two && fail "a removed user still registers"
as_user "$sippdir/control_spa_uac.xml" alice "$work/uac-alice.tpl"
uac_scenario "$work/alice-gone.xml" "$pts" "$pcap" 300 alice-two "$work/uac-alice.tpl"
# Its credentials are challenged again (407) and the call never reaches the trunk.
NUMBER=1-800-555-1212 timeout 8 bash -c "$(declare -f phone_uac); sippdir=$sippdir; phone_uac $work/alice-gone.xml -timeout 4s" \
  && fail "a removed user's call went through"
echo "ok   subscriber del: REGISTER and call refused"

# --- reload with a call in progress
carrier_uas "$sippdir/control_carrier_uas.xml" "$pcap"
uac_scenario "$work/long.xml" "$pts" "$pcap" 3000
phone_uac "$work/long.xml" &
long_pid=$!
for _ in $(seq 50); do
  [[ $(ctl show calls --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') == 1 ]] && break
  sleep 0.1
done
sed -i -e 's|^address = "10.20.0.2:5060"|address = "10.20.0.4:5060"|' \
       -e 's|^port_min = 16384|port_min = 20000|' "$work/gw.toml"
python3 - "$work/gw.toml" <<'PY'
import re, sys
p = sys.argv[1]; s = open(p).read()
s = re.sub(r'\[\[route\]\]\nname = "tollfree"\n(?:[^\[\n][^\n]*\n|\n)*', '', s)
open(p, 'w').write(s)
PY
# Not reloaded yet: the list verbs show the file, marked against what runs.
ctlc route list --json | python3 -c '
import json,sys; rows=json.load(sys.stdin)
assert [(r["name"], r["state"]) for r in rows] == [("tollfree", "removed, pending reload")], rows' \
  || fail "route list before the reload: $(ctlc route list 2>&1)"
ctlc trunk list --json | python3 -c '
import json,sys; rows=json.load(sys.stdin)
assert {r["name"]: r["state"] for r in rows}["carrier"] == "changed, pending reload", rows' \
  || fail "trunk list before the reload: $(ctlc trunk list 2>&1)"
echo "ok   list verbs before the reload: the removed route and the changed trunk marked pending reload"
rep=$(ctl reload --json) || fail "reload: $rep"
ctlc trunk list --json | python3 -c '
import json,sys; rows=json.load(sys.stdin)
assert rows and all(r["state"] == "running" for r in rows), rows' || fail "trunk list after the reload"
python3 -c '
import json,sys; d=json.loads(sys.argv[1])
for k in ("trunk[carrier].address", "route[tollfree] (removed)", "media.port_min"):
    assert k in d["applied"], (k, d)
assert not d["restart_msgw_control"] and not d["restart_msgw_dataplane"], d' "$rep" || fail "reload answer: $rep"
wait "$long_pid" || fail "the call in progress did not survive the reload"
wait "$carrier_pid" || fail "the call in progress: carrier side"
uac_scenario "$work/noroute.xml" "$pts" "$pcap" 300
phone_uac "$work/noroute.xml" && fail "the removed route still routes"
grep -q "SIP/2.0 404" "$work/noroute.xml.msg" || fail "no 404 for the removed route"
echo "ok   reload during a call: trunk address, route removal, media port range applied live; the call ended with its BYE; the removed route answers 404"
