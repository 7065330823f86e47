#!/usr/bin/env bash
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
exit $fail
