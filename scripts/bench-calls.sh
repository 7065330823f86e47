#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Call-rate benchmark through the rig, a thin wrapper of msgw-loadtest run by
# scripts/bench-loadtest.sh (the rig's config, msgw pinned to SUT_CPU, the tool
# to GEN_CPU): the tool as the phone (digest-authenticated INVITEs) and as the
# carrier, the gateway (msgw-dataplane + msgw-control, a media flow programmed
# for every call). No RTP is sent: this measures signalling and flow programming.
#
#  1. rate steps (1 s calls): `msgw-loadtest establishment --rates RATES`
#     (fixed steps, each to its end, stopped after the first step that could
#     not complete its calls). The sustained rate is the highest step, every
#     step up to it included, with zero failed calls AND a p99 setup time within
#     SETUP_LIMIT_MS (1,000 ms: two SIP T1s). Zero failures alone is not a
#     sustained rate: past capacity the gateway queues, setup times grow by
#     the second and the phone retransmits, yet a step still completes every
#     call. The rate that only completes every call is calls_per_s_completed.
#     (The tool's own verdict, RFC 7502's, is stricter: every setup within
#     the threshold; it is printed per step.)
#  2. concurrency: `msgw-loadtest capacity --no-media`: calls arrive at
#     CONC_RATE for CONC_S seconds and are all held; the most calls up (phone
#     side) before the first failed call or setup over SETUP_LIMIT_MS;
#  3. setup time: p99 of INVITE-to-200 (including the 407 round trip) over
#     the calls of the steps in 1., from the tool's per-step setup histograms
#     (1 ms bins, SIPp's clock: the union is exact).
# What changed when this became a wrapper (2026-12-06; figures before it were
# taken by SIPp scenarios of its own): msgw and the generator are pinned to
# one core each (unpinned before); a call that gets no answer within 4 s now
# fails (SIPp's -recv_timeout in the tool); max_concurrent_calls counts calls
# up on the phone side (before: msgw-control's calls_active), and a setup
# over SETUP_LIMIT_MS also ends that run (before: only a failed call); the
# call offers and answers PCMU (before: the phone offered ten codecs and the
# carrier answered G.729): a relay flow per call either way.
# The last line is one JSON object, keys unchanged:
#   {"calls_per_s_zero_fail": N, "max_concurrent_calls": M, "setup_ms_p99": P,
#    "setup_ms_limit": L, "calls_per_s_completed": C, "step_s": S}
# Usage: scripts/bench-calls.sh [BUILD_DIR]   (root; takes no lock: run it under
#   flock /tmp/msgw-rig.lock when other rig users may run)
#   RATES="100 200 400 700 850 1000 1200 1400 2000"  STEP_S=10  SETUP_LIMIT_MS=1000  CONC_RATE=200  CONC_S=60
#   SUT_CPU, GEN_CPU as for scripts/bench-loadtest.sh; OUT_DIR (a new /tmp dir) keeps both runs'
#   JSON and HTML reports (rates/, concurrency/) and their logs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
if [[ $(id -u) -ne 0 ]]; then echo "bench-calls: run as root" >&2; exit 2; fi
rates=${RATES:-"100 200 400 700 850 1000 1200 1400 2000"}
step_s=${STEP_S:-10}
setup_limit=${SETUP_LIMIT_MS:-1000}
conc_rate=${CONC_RATE:-200}
conc_s=${CONC_S:-60}
out=${OUT_DIR:-$(mktemp -d /tmp/msgw-bench-calls.XXXXXX)}
mkdir -p "$out"

echo "bench-calls: rate steps of ${step_s} s, 1 s calls (digest auth, flow programmed per call, no RTP);" \
  "a step passes with zero failed calls and p99 setup <= ${setup_limit} ms"
OUT_DIR=$out/rates bash "$root/scripts/bench-loadtest.sh" "$build" establishment \
  --rates "$(echo $rates | tr ' ' ',')" --step-s "$step_s" --threshold-ms "$setup_limit" --hold-ms 1000 \
  --stop-on-failed-call --quiet >/dev/null 2>"$out/rates.log" ||
  { tail -n 5 "$out/rates.log" >&2; exit 1; }

# summarise MODE FILE: "rates" prints the ladder and writes $out/ladder.json;
# "concurrency" prints that run and the last line.
summarise() {
python3 - "$1" "$2" "$out/ladder.json" "$setup_limit" "$step_s" <<'PY'
import json, sys
mode, run = sys.argv[1], json.load(open(sys.argv[2]))
ladder_file, limit, step_s = sys.argv[3], float(sys.argv[4]), int(sys.argv[5])

def percentile(hist, q):
    # The old script's rank: the value at index int(n * q) of the sorted setups.
    n = sum(hist.values())
    if n == 0:
        return None
    rank = min(n - 1, int(n * q))
    for ms in sorted(hist):
        rank -= hist[ms]
        if rank < 0:
            return float(ms)

def merge(into, hist):
    for ms, n in hist.items():
        into[int(ms)] = into.get(int(ms), 0) + n
    return into

fmt = lambda v: "null" if v is None else "%.1f" % v
for l in run.get("generator_limits", []):
    print("  the tool may have been the limit: %s" % l)
if run.get("error"):
    print("  %s could not run: %s" % (run["test"], run["error"]))
if mode == "rates":
    best = completed = 0
    within = True
    passing = {}
    for s in run["steps"]:
        r, uac = s["rate"], s["uac"]
        ok, failed, n = uac["successful"], uac["failed"], s["rate"] * step_s
        hist = merge({}, s.get("setup_ms_histogram", {}))
        p50, p99 = percentile(hist, 0.5), percentile(hist, 0.99)
        print("  %5s calls/s: %6s ok %6s failed, setup p50 %s ms p99 %s ms (tool, RFC 7502: %s)"
              % (r, ok, failed, fmt(p50), fmt(p99), s["verdict"]))
        if failed != 0 or ok != n:
            break
        completed = r
        # The sustained rate: every step up to it also kept setup within the limit.
        if within and p99 is not None and p99 <= limit:
            best = r
            merge(passing, hist)
        else:
            within = False
    p99 = percentile(passing, 0.99)
    json.dump({"best": best, "completed": completed, "p99": None if p99 is None else round(p99, 1)},
              open(ladder_file, "w"))
else:
    ladder = json.load(open(ladder_file))
    peak = 0 if run.get("error") else run.get("found_rate", 0)
    for s in run.get("steps", []):
        print("  %s" % s["verdict"])
    print("  live calls held: %d" % peak)
    print(json.dumps({"calls_per_s_zero_fail": ladder["best"], "max_concurrent_calls": peak,
                      "setup_ms_p99": ladder["p99"], "setup_ms_limit": int(limit),
                      "calls_per_s_completed": ladder["completed"], "step_s": step_s}))
PY
}
summarise rates "$out/rates/result.json"

echo "bench-calls: concurrency: $conc_rate calls/s for ${conc_s} s, every call held (no RTP)"
MEDIA_TIMEOUT_MS=$(( (conc_s + 60) * 1000 )) OUT_DIR=$out/concurrency bash "$root/scripts/bench-loadtest.sh" \
  "$build" capacity --no-media --capacity-rate "$conc_rate" --capacity-max-calls $(( conc_rate * conc_s )) \
  --step-s 1 --confirm-s 0 --threshold-ms "$setup_limit" --quiet >/dev/null 2>"$out/concurrency.log" ||
  { tail -n 5 "$out/concurrency.log" >&2; exit 1; }

summarise concurrency "$out/concurrency/result.json"
