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
#  2. registration, one 2 s step at 20/s: every REGISTER answered; then
#     reregistration and self-test alike.
#  3-4. capacity at 20 calls/s to 30 calls (clean) and against a faulty
#     carrier side (loss and 503s injected): see below; then --no-media
#     (signalling-only calls, the level is calls up: bench-calls.sh's live calls).
#  5. overload: 2x a given 10 calls/s, then the 1x recovery step.
#  6. media-throughput, one 2 s trial of 4 sessions per mode: relayed (PCMU
#     both legs) and transcoded (PCMU phone leg, G.729 carrier leg). Zero
#     loss; what the tool sent and received agrees with the dataplane's
#     counters (relayed, transcoded_packets: /metrics before and after);
#     every packet has a latency.
#  7. media-throughput again, 1 s trials, the carrier side withholding every
#     10th packet: in both modes the loss reported is the packets withheld;
#     the transcoder fills each gap (concealed = withheld), the relay does not.
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
# The trunk takes PCMU first so that a PCMU call is relayed and RTP sequence
# numbers pass unchanged: the loss the carrier side makes is the loss the
# phone sees. It also takes G.729: a carrier side answering G.729 to a PCMU
# phone is transcoded (media-throughput's second mode).
sed -i 's/^codecs = \["G729"\]/codecs = ["PCMU", "G729"]/' "$work/gw.toml"
grep -q '^codecs = \["PCMU", "G729"\]' "$work/gw.toml" || fail "could not set the trunk's codecs"
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
    assert sum(s["setup_ms_histogram"].values()) == s["setup_ms"]["n"], s["setup_ms_histogram"]
    assert max(int(k) for k in s["setup_ms_histogram"]) == round(s["setup_ms"]["max"]), s["setup_ms_histogram"]
    # The tool read both sides' UDP MIBs around the step; a drop there would
    # be in generator_limits (at these rates there is none).
    drops = s["tool_socket_drops"]
    assert set(drops) == {"phone", "carrier"}, drops
    for side in drops.values():
        assert side["receive_buffer"] <= side["receive_errors"], drops
    assert (sum(side["receive_errors"] + side["send_buffer"] for side in drops.values()) > 0) == \
        any("sockets on the" in l for l in s["generator_limits"]), (drops, s["generator_limits"])
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

# 2b. re-registration: 40 refreshes of registered bindings at 20/s, each
#     answered; and self-test (the tool's own ceiling: its loopback SIPp
#     target, no rig): 40 calls at 20/s counted alike on both sides.
"$tool" reregistration "${sides[@]}" --rates 20 --step-s 2 --json "$work/rereg.json" --html "$work/rereg.html" \
  --work-dir "$work/lt-rereg" >"$work/rereg.out" 2>"$work/rereg.err" || fail "reregistration run: $(tail -n 3 "$work/rereg.err")"
"$tool" self-test --rates 20 --step-s 2 --json "$work/self.json" --html "$work/self.html" \
  --work-dir "$work/lt-self" >"$work/self.out" 2>"$work/self.err" || fail "self-test run: $(tail -n 3 "$work/self.err")"
python3 - "$work/rereg.json" "$work/rereg.html" "$work/self.json" "$work/self.html" <<'PY' || fail "reregistration / self-test runs"
import json, sys
from html.parser import HTMLParser
r = json.load(open(sys.argv[1]))
s = r["steps"][0]
assert r["test"] == "reregistration" and s["passed"], s
assert s["uac"]["attempted"] == 40 and s["uac"]["successful"] == 40 and s["uac"]["failed"] == 0, s["uac"]
assert r["found_rate"] == 20, r["found_rate"]
HTMLParser().feed(open(sys.argv[2]).read())
t = json.load(open(sys.argv[3]))
u = t["steps"][0]
assert t["test"] == "self-test" and u["passed"], u
assert u["uac"]["attempted"] == u["uas"]["attempted"] == 40, (u["uac"], u["uas"])
assert u["uac"]["successful"] == u["uas"]["successful"] == 40 and u["uac"]["failed"] == 0, (u["uac"], u["uas"])
HTMLParser().feed(open(sys.argv[4]).read())
print("ok   reregistration: 40 of 40 refreshes answered at 20/s, p99 %.0f ms; self-test: 40/40 calls on both sides, "
      "p99 %.0f ms" % (s["setup_ms"]["p99"], u["setup_ms"]["p99"]))
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
# 4b. capacity --no-media (scripts/bench-calls.sh's live calls): 30
#    signalling-only calls filled at 20/s, held 1 s; the level is calls up.
"$tool" capacity "${sides[@]}" --no-media --capacity-rate 20 --capacity-max-calls 30 --step-s 1 --confirm-s 0 \
  --json "$work/capn.json" --html "$work/capn.html" --work-dir "$work/lt-capn" >"$work/capn.out" 2>"$work/capn.err" \
  || fail "capacity --no-media run: $(tail -n 3 "$work/capn.err")"
python3 - "$work/capn.json" <<'PY' || fail "capacity --no-media run (stderr: $(tail -n 5 "$work/capn.err"))"
import json, sys
r = json.load(open(sys.argv[1]))
assert "error" not in r and "media" not in r, r
assert len(r["steps"]) == 1 and r["steps"][0]["passed"], r["steps"]
uac, uas = r["steps"][0]["uac"], r["steps"][0]["uas"]
assert uac["attempted"] == uas["attempted"] == 30 and uac["successful"] == uas["successful"] == 30, (uac, uas)
assert r["found_rate"] == 30 and not r["confirmed"], r["found_rate"]
samples = r["capacity"]["samples"]
assert max(x["calls_up"] for x in samples) == 30 and max(x["calls_with_media"] for x in samples) == 0, samples
print("ok   capacity --no-media: 30 calls up held, 30/30 on both sides, no RTP")
PY
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
assert not ramp["passed"] and not ramp["confirmation"], f["steps"]
assert ramp["capacity"]["first_fault"], ramp["capacity"]
# A sample taken before the first withheld packet (each stream's 10th, 200 ms
# in) may be clean: the tool then confirms at that level, and the same fault
# fails every confirmation.  Clean level 0: nothing to confirm.
for conf in f["steps"][1:]:
    assert conf["confirmation"] and not conf["passed"] and conf["capacity"]["first_fault"], conf
assert len(f["steps"]) == 1 or ramp["capacity"]["clean_level"] > 0, f["steps"]
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
for f, want in zip(sys.argv[1:], ("Session capacity", "Session capacity", "Overload goodput", "calls, no media")):
    text = open(f).read()
    class P(HTMLParser):
        def handle_starttag(self, tag, a):
            assert tag not in ("script", "link"), tag
    p = P(); p.feed(text); p.close()
    assert want in text, (f, want)
print("ok   capacity and overload HTML reports parse, with their plots")' "$work/cap.html" "$work/capf.html" "$work/ovl.html" "$work/capn.html" \
  || fail "capacity/overload HTML reports"
# --- media-throughput: the dataplane's counters before and after each run.
dp_counters() {  # prints "relayed transcoded_packets concealed_frames", summed over workers
  ip netns exec msgw-gw curl -sS --max-time 5 http://127.0.0.1:9105/metrics | python3 -c '
import sys
t = {"relayed": 0, "transcoded_packets": 0, "concealed_frames": 0}
for line in sys.stdin:
    for k in t:
        if line.startswith("msgw_dataplane_worker_%s_total{" % k):
            t[k] += int(float(line.split()[-1]))
print(t["relayed"], t["transcoded_packets"], t["concealed_frames"])'
}
mtp() {  # NAME extra-args...: one media-throughput run, JSON/HTML checked for form
  local name=$1; shift
  read -r r0 t0 c0 <<<"$(dp_counters)"
  "$tool" media-throughput "${sides[@]}" --codec PCMU --transcode-codec G729 --sessions 4 --setup-rate 50 "$@" \
    --json "$work/$name.json" --html "$work/$name.html" --work-dir "$work/lt-$name" \
    >"$work/$name.out" 2>"$work/$name.err" || fail "$name run: $(tail -n 3 "$work/$name.err")"
  sleep 0.5  # the dataplane publishes its counters every 200 ms
  read -r r1 t1 c1 <<<"$(dp_counters)"
  tail -n 1 "$work/$name.out" | cmp -s - "$work/$name.json" || fail "$name: JSON on stdout's last line differs from --json"
  echo "$(( r1 - r0 )) $(( t1 - t0 )) $(( c1 - c0 ))" >"$work/$name.dp"
}
mtp mtp --step-s 2
python3 - "$work/mtp.json" "$work/mtp.html" $(cat "$work/mtp.dp") <<'PY' || fail "media-throughput run (stderr: $(tail -n 5 "$work/mtp.err"))"
import json, sys
from html.parser import HTMLParser
r = json.load(open(sys.argv[1]))
relayed, transcoded, concealed = map(int, sys.argv[3:6])
assert "error" not in r, r.get("error")
modes = {m["mode"]: m for m in r["media_throughput"]["modes"]}
assert set(modes) == {"relayed", "transcoded"}, modes.keys()
got = {}
for name, m in modes.items():
    (t,) = m["trials"]
    assert t["passed"] and t["verdict"] == "pass", t
    assert t["calls_up"] == 4 and m["found_sessions"] == 4, (t["calls_up"], m["found_sessions"])
    # 4 calls x 2 directions x (2 s x 50 + the pairing probe) packets, all back, each with a latency.
    assert t["packets_sent"] == 4 * 2 * 101, t["packets_sent"]
    assert t["packets_received"] == t["packets_sent"] and t["packets_lost"] == 0, t
    assert t["concealed_by_target"] == 0 and t["to_phone"]["duplicates"] == 0, t
    lat = t["latency_ms"]
    assert lat["n"] == t["packets_received"] and 0 < lat["p50"] <= lat["p99"] <= lat["p99_9"] <= lat["max"] < 1000, lat
    got[name] = t["packets_received"]
    print("ok   media-throughput %s (%s/%s): 4 sessions, %d packets sent, %d received, 0 lost; latency p50 %.3f p99 %.3f p99.9 %.3f ms; tool %.2f us/packet"
          % (name, m["phone_codec"], m["carrier_codec"], t["packets_sent"], t["packets_received"],
             lat["p50"], lat["p99"], lat["p99_9"], t["tool_cpu_us_per_packet"]))
# The dataplane relayed every packet of the relayed mode and built one egress
# packet per packet of the transcoded mode (20 ms both legs), concealing none.
assert relayed == got["relayed"], ("dataplane relayed", relayed, "tool received", got["relayed"])
assert transcoded == got["transcoded"], ("dataplane transcoded", transcoded, "tool received", got["transcoded"])
assert concealed == 0, concealed
print("ok   the dataplane agrees: %d relayed, %d transcoded packets, no concealment" % (relayed, transcoded))
class P(HTMLParser):
    svgs = 0
    def handle_starttag(self, tag, a):
        if tag == "svg": P.svgs += 1
        assert tag not in ("script", "link"), tag
p = P(); p.feed(open(sys.argv[2]).read()); p.close()
assert P.svgs >= 4, P.svgs
print("ok   HTML report: %d inline SVG plots" % P.svgs)
PY

mtp mtp-loss --step-s 1 --withhold-rtp-every 10
python3 - "$work/mtp-loss.json" $(cat "$work/mtp-loss.dp") <<'PY' || fail "media-throughput run with loss (stderr: $(tail -n 5 "$work/mtp-loss.err"))"
import json, sys
r = json.load(open(sys.argv[1]))
relayed, transcoded, concealed = map(int, sys.argv[2:5])
modes = {m["mode"]: m for m in r["media_throughput"]["modes"]}
for name, m in modes.items():
    (t,) = m["trials"]
    ph, ca = t["to_phone"], t["to_carrier"]
    # Packets 0..50 per stream; the carrier side withholds 9, 19, 29, 39, 49.
    assert ph["withheld_by_test_aid"] == 4 * 5 and ph["packets_sent"] == 4 * 51, ph
    assert ph["packets_lost"] == ph["withheld_by_test_aid"], ph
    assert ca["packets_lost"] == 0 and ca["withheld_by_test_aid"] == 0, ca
    assert not t["passed"] and "lost" in t["verdict"], t["verdict"]
    want_concealed = ph["withheld_by_test_aid"] if name == "transcoded" else 0
    assert ph["concealed_by_target"] == want_concealed, (name, ph)
    print("ok   media-throughput %s with every 10th carrier packet withheld: %d withheld, %d lost, %d concealed by the target; trial failed"
          % (name, ph["withheld_by_test_aid"], ph["packets_lost"], ph["concealed_by_target"]))
# The dataplane built a packet for each gap (concealment) and relayed only what reached it.
t = modes["transcoded"]["trials"][0]
assert transcoded == t["packets_received"] + t["concealed_by_target"], (transcoded, t)
assert relayed == modes["relayed"]["trials"][0]["packets_received"], relayed
print("ok   the dataplane agrees: %d relayed, %d transcoded packets (%d concealment frames)" % (relayed, transcoded, concealed))
PY
