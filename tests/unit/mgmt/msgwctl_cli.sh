#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# msgwctl config check: exit codes, one-line positioned errors, JSON output.
set -u
msgwctl=$1 examples=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
expect() {  # description, expected rc, actual rc
  if [[ $2 != "$3" ]]; then echo "FAIL: $1 (exit $3, wanted $2)"; fail=1; else echo "ok: $1"; fi
}
"$msgwctl" config check "$examples/spa-to-carrier.toml" >"$tmp/out" 2>&1
expect "example passes" 0 $?
grep -q "ok (2 ports, 1 subscribers, 1 trunks, 1 routes)" "$tmp/out" || { echo "FAIL: summary"; cat "$tmp/out"; fail=1; }

printf '[sip]\nrealm = 1\n[[route]]\nname="r"\nprefix="1"\ntrunks=["x"]\n' >"$tmp/bad.toml"
"$msgwctl" config check "$tmp/bad.toml" 2>"$tmp/err" >/dev/null
expect "bad file fails" 1 $?
grep -qx "$tmp/bad.toml:2:9: sip.realm: expected a string" "$tmp/err" || { echo "FAIL: error line"; cat "$tmp/err"; fail=1; }

"$msgwctl" config check --json "$tmp/bad.toml" >"$tmp/json"
expect "json bad file fails" 1 $?
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] is False and d["errors"][0]["key"]=="sip.realm", d' "$tmp/json" || fail=1

"$msgwctl" config check /nonexistent.toml 2>"$tmp/err"
expect "missing file fails" 1 $?
"$msgwctl" bogus 2>"$tmp/err"
expect "unknown command is a usage error" 2 $?
[[ $(wc -l <"$tmp/err") -eq 1 ]] || { echo "FAIL: usage error is not one line"; cat "$tmp/err"; fail=1; }
"$msgwctl" show calls --socket "$tmp/none.sock" 2>"$tmp/err"
expect "unreachable control plane" 1 $?
[[ $(wc -l <"$tmp/err") -eq 1 ]] && grep -q "cannot reach msgw-control at $tmp/none.sock" "$tmp/err" \
  || { echo "FAIL: unreachable error"; cat "$tmp/err"; fail=1; }

# A stand-in control plane: checks the request line msgwctl sends and answers
# it, so the client side of the management protocol is tested here.
serve() {  # expected-request answer
  python3 - "$tmp/ctl.sock" "$1" "$2" <<'PY' &
import json, os, socket, sys
path, want, answer = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(1)
open(path + ".ready", "w").close()
c, _ = s.accept(); data = b""
while not data.endswith(b"\n"): data += c.recv(4096)
got = json.loads(data)
c.sendall((answer if got == want else json.dumps({"ok": False, "error": "bad request %s" % got})).encode() + b"\n")
c.close(); s.close(); os.unlink(path); os.unlink(path + ".ready")
PY
  for _ in $(seq 50); do [[ -e $tmp/ctl.sock.ready ]] && break; sleep 0.1; done
}
serve '{"cmd":"show","what":"calls"}' '{"ok":true,"data":[{"call":"abc","state":"confirmed"}]}'
"$msgwctl" show calls --socket "$tmp/ctl.sock" >"$tmp/out" 2>&1
expect "show calls" 0 $?
grep -q "^abc   confirmed" "$tmp/out" || { echo "FAIL: table"; cat "$tmp/out"; fail=1; }
wait
serve '{"cmd":"show","what":"stats"}' '{"ok":true,"data":{"calls":3}}'
"$msgwctl" show stats --json --socket "$tmp/ctl.sock" >"$tmp/out" 2>&1
expect "show stats --json" 0 $?
[[ $(cat "$tmp/out") == '{"calls":3}' ]] || { echo "FAIL: json"; cat "$tmp/out"; fail=1; }
wait
serve '{"cmd":"hangup","call":"nope"}' '{"ok":false,"error":"no such call: nope"}'
"$msgwctl" hangup nope --socket "$tmp/ctl.sock" >/dev/null 2>"$tmp/err"
expect "hangup of unknown call fails" 1 $?
[[ $(cat "$tmp/err") == "msgwctl: no such call: nope" ]] || { echo "FAIL: hangup error"; cat "$tmp/err"; fail=1; }
wait
exit $fail
