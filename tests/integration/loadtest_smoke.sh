#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# msgw-loadtest against msgw on the rig, short: checks the tool's own
# arithmetic, not msgw's capacity.
#  1. establishment, fixed steps of 10 and 20 calls/s for 2 s, 1 s calls,
#     RTP both ways (PCMU relayed: the trunk takes PCMU here). The tool's
#     carrier side answers 503 to every 10th INVITE and withholds every 10th
#     RTP packet it sends. Checked per step: the phone side (UAC) and the
#     carrier side (UAS) count the same answered calls; every call the
#     carrier rejected is a failed attempt on the phone side, with its 503
#     counted; the step fails. Media: the phone side reports 10 % loss (the
#     withheld packets), the carrier side none.
#  2. registration, one 2 s step at 20/s: every REGISTER answered.
# Both runs write JSON and HTML: both parse (python3 json, html.parser).
# Usage: loadtest_smoke.sh BUILD_DIR   (root; 77 = skipped). Run it under
# flock /tmp/msgw-rig.lock.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then echo "needs root (network namespaces)"; exit 77; fi
command -v sipp >/dev/null || { echo "sipp is not installed"; exit 77; }
build=$(cd "$1" && pwd)
source "$(dirname "$0")/control_lib.sh"
trap rig_cleanup EXIT
tool=$build/loadtest/msgw-loadtest

make_config </dev/null
# The trunk takes PCMU so that the call is relayed and RTP sequence numbers
# pass unchanged: the loss the carrier side makes is the loss the phone sees.
sed -i 's/^codecs = \["G729"\]/codecs = ["PCMU"]/' "$work/gw.toml"
grep -q '^codecs = \["PCMU"\]' "$work/gw.toml" || fail "could not set the trunk's codecs"
rig_up >/dev/null || fail "rig up"

sides=(--target 10.10.0.1:5060 --phone 10.10.0.2:5062 --phone-netns msgw-phone
       --carrier 10.20.0.2:5060 --carrier-netns msgw-carrier --user spa1 --password spa1-secret
       --number 1-800-555-1212)

"$tool" establishment "${sides[@]}" --rates 10,20 --step-s 2 --hold-ms 1000 --media --codec PCMU \
  --reject-every 10 --withhold-rtp-every 10 --json "$work/est.json" --html "$work/est.html" \
  --work-dir "$work/lt-est" >"$work/est.out" 2>"$work/est.err" || true
tail -n 1 "$work/est.out" | cmp -s - "$work/est.json" || fail "JSON on stdout's last line differs from --json"
python3 - "$work/est.json" "$work/est.html" <<'PY' || fail "establishment run (stderr: $(tail -n 5 "$work/est.err"))"
import json, sys
from html.parser import HTMLParser
r = json.load(open(sys.argv[1]))
assert "error" not in r, r.get("error")
assert len(r["steps"]) == 2, r["steps"]
for s in r["steps"]:
    uac, uas = s["uac"], s["uas"]
    n = s["rate"] * s["duration_s"]
    rejected = n // 10
    assert uac["attempted"] == n and uas["attempted"] == n, (s["rate"], uac, uas)
    assert uac["successful"] == uas["successful"] == n - rejected, (s["rate"], uac, uas)
    assert uas["failed"] == rejected and uac["failed"] == rejected, (s["rate"], uac, uas)
    assert sum(uac["failure_codes"].values()) == rejected, uac["failure_codes"]
    assert not s["passed"] and "failed" in s["verdict"], s["verdict"]
    assert abs(s["ser_percent"] - 90.0) < 1e-6, s["ser_percent"]
    assert s["setup_ms"]["n"] == n - rejected, s["setup_ms"]
    print("ok   %d calls/s: UAC %d attempted, %d ok, %d failed (%s); UAS %d in, %d ok, %d failed; setup p50 %.0f p99 %.0f ms"
          % (s["rate"], uac["attempted"], uac["successful"], uac["failed"], uac["failure_codes"],
             uas["attempted"], uas["successful"], uas["failed"], s["setup_ms"]["p50"], s["setup_ms"]["p99"]))
m = r["media"]
assert m["streams"] >= 2 * 2 * 27, m
print("ok   media: %d streams, %d sent, %d received, %d lost of %d expected (%.2f %%), %d withheld by the carrier side"
      % (m["streams"], m["packets_sent"], m["packets_received"], m["packets_lost"], m["packets_expected"],
         m["loss_percent"], m["packets_withheld_by_test_aid"]))
# Each answered call carries a stream each way; loss is per receiving side.
for s in r["steps"]:
    ml = s["media"]
    assert ml["streams"] == 2 * s["uac"]["successful"], (ml["streams"], s["uac"])
# The carrier side withholds every 10th packet: the phone side sees 10 % loss,
# less where a stream's last withheld packet came after its last packet seen
# (RFC 3550 counts gaps only): 1 s streams of ~50 packets lose 4 or 5, so
# 8-10 %. The phone side withholds nothing: the carrier side sees none.
ph, ca = m["received_by"]["phone"], m["received_by"]["carrier"]
print("ok   loss seen by the phone side %.2f %% (%d of %d), by the carrier side %.2f %% (%d of %d)"
      % (ph["loss_percent"], ph["packets_lost"], ph["packets_expected"],
         ca["loss_percent"], ca["packets_lost"], ca["packets_expected"]))
assert 7.5 <= ph["loss_percent"] <= 10.5, ph
assert ca["loss_percent"] <= 0.5, ca
assert 0.75 * m["packets_withheld_by_test_aid"] <= ph["packets_lost"] <= m["packets_withheld_by_test_aid"], m
PY
python3 - "$work/est.json" "$work/lt-est" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
for s in r["steps"]:
    print("     step %d media: loss %% p50 %.1f p99 %.1f, jitter ms p99 %.2f, MOS p50 %.2f" % (
        s["step"], s["media"]["loss_percent"]["p50"], s["media"]["loss_percent"]["p99"],
        s["media"]["jitter_ms"]["p99"], s["media"]["mos"]["p50"]))
PY
python3 -c '
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    svgs = 0
    def handle_starttag(self, tag, a):
        if tag == "svg": P.svgs += 1
        assert tag not in ("script", "link"), tag
p = P(); p.feed(open(sys.argv[1]).read()); p.close()
assert P.svgs >= 5, P.svgs
print("ok   HTML report: %d inline SVG plots, no script or external style" % P.svgs)' "$work/est.html" \
  || fail "HTML report"

"$tool" registration "${sides[@]}" --rates 20 --step-s 2 --json "$work/reg.json" --html "$work/reg.html" \
  --work-dir "$work/lt-reg" >"$work/reg.out" 2>"$work/reg.err" || fail "registration run: $(tail -n 3 "$work/reg.err")"
python3 - "$work/reg.json" "$work/reg.html" <<'PY' || fail "registration run"
import json, sys
from html.parser import HTMLParser
r = json.load(open(sys.argv[1]))
s = r["steps"][0]
assert s["passed"] and s["uac"]["attempted"] == 40 and s["uac"]["successful"] == 40, s
assert r["found_rate"] == 20, r
HTMLParser().feed(open(sys.argv[2]).read())
print("ok   registration: 40 of 40 REGISTERs answered at 20/s, p99 %.0f ms" % s["setup_ms"]["p99"])
PY
