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
#  3-4. capacity at 20 calls/s to 30 calls (clean) and against a faulty
#     carrier side (loss and 503s injected): see below.
#  5. overload: 2x a given 10 calls/s, then the 1x recovery step.
# Every run writes JSON and HTML: both parse (python3 json, html.parser).
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

# 3. capacity, clean: 30 calls with media filled at 20/s and held 1 s (the
#    ramp), then the confirmation fill to the clean level, held 1 s. Both sides
#    count every call; the phone side's streams lose nothing; the sampled
#    calls with media reach 30.
"$tool" capacity "${sides[@]}" --capacity-rate 20 --capacity-max-calls 30 --step-s 1 --confirm-s 1 --codec PCMU \
  --json "$work/cap.json" --html "$work/cap.html" --work-dir "$work/lt-cap" >"$work/cap.out" 2>"$work/cap.err" \
  || fail "capacity run: $(tail -n 3 "$work/cap.err")"
# 4. capacity against a faulty target: the carrier side withholds every 10th
#    RTP packet and rejects every 10th INVITE. The ramp ends at its first
#    sample with a fault; the loss reported is the withheld packets; the
#    rejected calls are failed on both sides.
"$tool" capacity "${sides[@]}" --capacity-rate 20 --capacity-max-calls 40 --step-s 2 --confirm-s 2 --codec PCMU \
  --withhold-rtp-every 10 --reject-every 10 --json "$work/capf.json" --html "$work/capf.html" \
  --work-dir "$work/lt-capf" >"$work/capf.out" 2>"$work/capf.err" || fail "capacity (faulty) run: $(tail -n 3 "$work/capf.err")"
python3 - "$work/cap.json" "$work/capf.json" <<'PY' || fail "capacity runs (stderr: $(tail -n 5 "$work/cap.err" "$work/capf.err"))"
import json, sys
r = json.load(open(sys.argv[1]))
assert "error" not in r, r.get("error")
assert r["rate_unit"] == "concurrent calls", r["rate_unit"]
assert len(r["steps"]) == 2 and not r["steps"][0]["confirmation"] and r["steps"][1]["confirmation"], r["steps"]
for s in r["steps"]:
    uac, uas = s["uac"], s["uas"]
    assert s["passed"], s["verdict"]
    assert uac["attempted"] == uas["attempted"] == 30, (uac, uas)
    assert uac["successful"] == uas["successful"] == 30 and uac["failed"] == uas["failed"] == 0, (uac, uas)
    assert s["capacity"]["level"] == 30 and s["capacity"]["clean_level"] == 30, s["capacity"]
    assert s["media"]["streams"] == 60, s["media"]
assert r["found_rate"] == 30 and r["confirmed"], (r["found_rate"], r["confirmed"])
assert r["capacity"]["calls"] == 30
peak = max(x["calls_with_media"] for x in r["capacity"]["samples"])
assert peak == 30, peak
assert r["media"]["packets_lost"] == 0 and r["media"]["packets_withheld_by_test_aid"] == 0, r["media"]
print("ok   capacity: 30 calls with media held twice (ramp, confirmation), 30/30 on both sides, %d samples, "
      "%d packets, none lost" % (len(r["capacity"]["samples"]), r["media"]["packets_received"]))
f = json.load(open(sys.argv[2]))
assert "error" not in f, f.get("error")
ramp = f["steps"][0]
assert len(f["steps"]) == 1 and not ramp["passed"], f["steps"]  # clean level 0: nothing to confirm
assert ramp["capacity"]["first_fault"], ramp["capacity"]
assert f["found_rate"] == 0 and not f["confirmed"], f["found_rate"]
uac, uas = ramp["uac"], ramp["uas"]
# The ramp is aborted mid-fill: a call in its setup then (at 20/s with setups
# of tens of ms, at most two) may be counted by one side only: still in its
# digest challenge (the carrier never saw it), or refused by the carrier with
# the 503 not yet at the phone side. The clean run and the overload run check
# exact agreement.
assert 0 <= uac["attempted"] - uas["attempted"] <= 2, (uac, uas)
rejected = uac["rejected_503_retry_after"] + uac["rejected_503_no_retry_after"]
assert rejected >= 1 and rejected == uac["failure_codes"].get("503", 0), uac
assert 0 <= uas["failed"] - rejected <= 2 and uac["failed"] >= rejected, (uac, uas)
m = f["media"]
ph, ca = m["received_by"]["phone"], m["received_by"]["carrier"]
assert m["packets_withheld_by_test_aid"] > 0 and ca["packets_lost"] == 0, m
# The ramp's streams stop at the fault, a second or two old: each may hide
# one withheld packet before its first arrival and one after its last.
assert m["packets_withheld_by_test_aid"] - 2 * ph["streams"] <= ph["packets_lost"] <= m["packets_withheld_by_test_aid"], m
print("ok   capacity (faulty target): the ramp ended at its first fault (%s); %d attempted on both sides, "
      "%d rejected with 503 = %d failed at the carrier side; %d packets lost of %d withheld"
      % (ramp["capacity"]["first_fault"], uac["attempted"], rejected, uas["failed"], ph["packets_lost"],
         m["packets_withheld_by_test_aid"]))
PY

# 5. overload: base 10 calls/s given, 2x for 2 s, then the 1x recovery step;
#    the carrier side rejects every 10th INVITE with 503. Each rejection is a
#    counted 503 (not an error) on the phone side; goodput is the completed
#    calls within the threshold per second; its ratio to the base rate.
"$tool" overload "${sides[@]}" --rate 10 --overload 2 --step-s 2 --hold-ms 500 --codec PCMU --reject-every 10 \
  --json "$work/ovl.json" --html "$work/ovl.html" --work-dir "$work/lt-ovl" >"$work/ovl.out" 2>"$work/ovl.err" \
  || fail "overload run: $(tail -n 3 "$work/ovl.err")"
python3 - "$work/ovl.json" <<'PY' || fail "overload run (stderr: $(tail -n 5 "$work/ovl.err"))"
import json, sys
r = json.load(open(sys.argv[1]))
assert "error" not in r, r.get("error")
o = r["overload"]
assert o["base_rate"] == 10 and o["base_from"] == "--rate", o
pts = o["points"]
assert [(p["factor"], p["recovery"], p["offered_rate"]) for p in pts] == [(2, False, 20), (1, True, 10)], pts
for p, s in zip(pts, r["steps"]):
    uac, uas = s["uac"], s["uas"]
    n = p["offered_rate"] * 2
    assert p["attempted"] == uac["attempted"] == uas["attempted"] == n, (p, uac, uas)
    rejected = p["rejected_503_retry_after"] + p["rejected_503_no_retry_after"]
    assert rejected == n // 10 == uas["failed"] == uac["failed"], (p, uac, uas)
    assert p["completed"] == uac["successful"] == uas["successful"] == n - rejected, (p, uac, uas)
    assert p["good"] == p["completed"] - p["over_threshold"], p
    assert abs(p["goodput_per_s"] - p["good"] / 2) < 1e-9 and abs(p["goodput_ratio"] - p["goodput_per_s"] / 10) < 1e-9, p
    assert p["timeouts"] == 0 and p["other_failures"] == 0, p
    print("ok   overload %sx (%d/s): %d attempted on both sides, %d good (%.1f/s, %.0f %% of the base rate), "
          "%d rejected with 503 (%d with Retry-After)" % (p["factor"], p["offered_rate"], n, p["good"],
          p["goodput_per_s"], 100 * p["goodput_ratio"], rejected, p["rejected_503_retry_after"]))
PY
python3 -c '
import sys
from html.parser import HTMLParser
for f, want in zip(sys.argv[1:], ("Session capacity", "Session capacity", "Overload goodput")):
    text = open(f).read()
    class P(HTMLParser):
        def handle_starttag(self, tag, a):
            assert tag not in ("script", "link"), tag
    p = P(); p.feed(text); p.close()
    assert want in text, (f, want)
print("ok   capacity and overload HTML reports parse, with their plots")' "$work/cap.html" "$work/capf.html" "$work/ovl.html" \
  || fail "capacity/overload HTML reports"
