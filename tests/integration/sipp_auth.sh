#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# SIPp against sip_test_server (the msgw SIP library as registrar + UAS) in a
# private network namespace: REGISTER with a 401 challenge and INVITE with a
# 407 challenge succeed with the right password and are refused with a wrong
# one; over UDP and TCP, IPv4 and IPv6, with qop=auth and SPA-style (no qop).
# SIPp 3.6 answers only MD5 challenges, so the server offers MD5 here (the
# SHA-256 path is covered by the unit tests).
# Usage: sipp_auth.sh /path/to/sip_test_server
set -euo pipefail
server_bin=${1:?usage: sipp_auth.sh SIP_TEST_SERVER}
[[ $(id -u) -eq 0 ]] || { echo "sipp_auth: needs root (network namespace)"; exit 1; }
command -v sipp >/dev/null || { echo "sipp_auth: sipp not installed (Debian package sip-tester)"; exit 1; }

ns="msgw-sipp-$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/msgw-sipp.XXXXXX")
scen=$(cd "$(dirname "$0")" && pwd)/sipp
server_pid=""
cleanup() {
  set +e
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  if [[ -n ${SIPP_AUTH_KEEP:-} ]]; then echo "sipp_auth: logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }

failures=0
checks=0
start_server() {  # extra server options...
  if [[ -n $server_pid ]]; then kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi
  ip netns exec "$ns" "$server_bin" --listen 127.0.0.1:5070 --listen '[::1]:5070' --tcp --user spa1:secret \
    --algorithms md5 "$@" >"$work/server.json" 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 50); do
    grep -q 'listening on TCP \[::1\]:5070' "$work/server.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "sipp_auth: server did not start"; cat "$work/server.log"; exit 1
}

# run NAME EXPECT(ok|fail) SCENARIO PASSWORD [sipp args...]
run() {
  local name=$1 expect=$2 sc=$3 pw=$4; shift 4
  local target=127.0.0.1 local_ip=127.0.0.1 uri_host=127.0.0.1:5070
  if [[ " $* " == *" -6 "* ]]; then target='[::1]'; local_ip='::1'; uri_host='[::1]:5070'; fi
  local args=()
  for a in "$@"; do [[ $a == -6 ]] || args+=("$a"); done
  checks=$((checks + 1))
  local rc=0
  in_ns timeout 30 sipp "$target:5070" -sf "$scen/$sc.xml" -s spa1 -au spa1 -ap "$pw" \
    -auth_uri "18005551212@$uri_host" -i "$local_ip" -m 1 -nostdin -timeout 10s -timeout_error \
    -trace_err -error_file "$work/$name.err" "${args[@]}" >"$work/$name.out" 2>&1 || rc=$?
  local got=ok
  ((rc == 0)) || got=fail
  if [[ $got == "$expect" ]]; then
    echo "ok   $name (sipp rc=$rc, expected $expect)"
  else
    echo "FAIL $name (sipp rc=$rc, expected $expect)"
    tail -n 20 "$work/$name.out"
    [[ -f $work/$name.err ]] && tail -n 20 "$work/$name.err"
    failures=$((failures + 1))
  fi
}

# The REGISTER scenario's Request-URI has no user part: its digest uri is
# the plain server address.
reg() { local name=$1 expect=$2 sc=$3 pw=$4; shift 4
  local uri=127.0.0.1:5070
  [[ " $* " == *" -6 "* ]] && uri='[::1]:5070'
  run "$name" "$expect" "$sc" "$pw" "$@" -auth_uri "$uri"
}

echo "== qop=auth challenges"
start_server
reg register_udp_ok            ok   register_auth   secret
reg register_udp_wrong_refused ok   register_reject wrong
reg register_udp_wrong_fails   fail register_auth   wrong
run invite_udp_ok              ok   invite_auth     secret
run invite_udp_wrong_refused   ok   invite_reject   wrong
run invite_udp_wrong_fails     fail invite_auth     wrong
reg register_tcp_ok            ok   register_auth   secret -t t1
run invite_tcp_ok              ok   invite_auth     secret -t t1
run invite_tcp_wrong_refused   ok   invite_reject   wrong  -t t1
reg register_udp6_ok           ok   register_auth   secret -6
run invite_udp6_ok             ok   invite_auth     secret -6
run invite_tcp6_ok             ok   invite_auth     secret -6 -t t1

echo "== SPA-style challenges (no qop, RFC 2069 responses)"
start_server --no-qop
reg register_noqop_ok          ok   register_auth   secret
run invite_noqop_ok            ok   invite_auth     secret
run invite_noqop_wrong_refused ok   invite_reject   wrong

kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
echo "server counters (last run): $(tail -n 1 "$work/server.json")"
if ! grep -q '"invite_ok": [1-9]' "$work/server.json"; then
  echo "FAIL server reports no authenticated INVITE"; failures=$((failures + 1))
fi
echo "sipp_auth: $((checks - failures))/$checks checks passed"
((failures == 0))
