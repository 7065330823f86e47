#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Call-rate benchmark through the rig: SIPp as the phone (digest-authenticated
# INVITEs, the reference SPA offer), the gateway (msgw-dataplane + msgw-control,
# a media flow programmed for every call), SIPp as the carrier (answers G.729).
# No RTP is sent: this measures signalling and flow programming.
#
#  1. rate steps (short calls): the highest rate at which a step of calls
#     completes with zero failed calls AND a p99 setup time within
#     SETUP_LIMIT_MS (1,000 ms: two SIP T1s).  Zero failures alone is not a
#     sustained rate: past capacity the gateway queues, setup times grow by
#     the second and the phone retransmits, yet a 5 s step still completes
#     every call before SIPp gives up.  The rate that only completes every
#     call is printed as calls_per_s_completed;
#  2. concurrency: long calls at a steady rate until calls fail or the
#     budget ends; the peak of live calls msgw-control reports;
#  3. setup time: p99 of INVITE-to-200 (including the 407 round trip) over
#     the calls of the zero-failure steps, from SIPp's per-call RTD log.
# The last line is one JSON object:
#   {"calls_per_s_zero_fail": N, "max_concurrent_calls": M, "setup_ms_p99": P}
# Usage: scripts/bench-calls.sh [BUILD_DIR]   (root)
#   RATES="100 200 400 700 850 1000 1200 1400 2000"  STEP_S=10  SETUP_LIMIT_MS=1000  CONC_RATE=200  CONC_S=60
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
if [[ $(id -u) -ne 0 ]]; then echo "bench-calls: run as root" >&2; exit 2; fi
source "$root/tests/integration/control_lib.sh"
trap rig_cleanup EXIT
rates=${RATES:-"100 200 400 700 850 1000 1200 1400 2000"}
step_s=${STEP_S:-10}
setup_limit=${SETUP_LIMIT_MS:-1000}
conc_rate=${CONC_RATE:-200}
conc_s=${CONC_S:-60}

# A media port range for > 10,000 calls per side.  No RTP flows in this
# benchmark, so the media timeout is set past the longest hold (it would
# otherwise end every call after 30 s, as it should for a silent call).
MEDIA_TIMEOUT_MS=$(( (conc_s + 60) * 1000 )) make_config </dev/null
sed -i -e 's/^port_min = .*/port_min = 10000/' -e 's/^port_max = .*/port_max = 65000/' "$work/gw.toml"
rig_up >/dev/null || { echo "bench-calls: rig did not come up" >&2; exit 1; }

# Scenarios without RTP playback; the call length is set per run.
uac_scenario "$work/uac.xml" "2 0 4 8 18 96 97 98 100 101" none @HOLD@
sed -i -e '/<nop>/,/<\/nop>/d' -e 's/<pause milliseconds="@HOLD@"\/>/<pause milliseconds="@HOLD@"\/>/' "$work/uac.xml"
sed -e '/<nop>/,/<\/nop>/d' "$sippdir/control_carrier_uas.xml" >"$work/uas.xml"

ip netns exec msgw-carrier sipp -sf "$work/uas.xml" -i 10.20.0.2 -p 5060 -mi 10.20.0.2 -mp 6000 -nostdin -bg \
  -max_socket 65000 -trace_err -error_file "$work/carrier.err" -trace_stat -stf "$work/carrier-stat.csv" \
  >/dev/null 2>&1 || true
sleep 0.5

# run_phone RATE CALLS HOLD_MS LIMIT TAG -> prints "successful failed"
run_phone() {
  local rate=$1 calls=$2 hold=$3 limit=$4 tag=$5
  sed -e "s/@HOLD@/$hold/" "$work/uac.xml" >"$work/uac-$tag.xml"
  # SIPp writes its RTT log into the current directory.
  (cd "$work" && ip netns exec msgw-phone sipp -sf "$work/uac-$tag.xml" -s 1-800-555-1212 -i 10.10.0.2 -p 5062 \
    -auth_uri "1-800-555-1212@10.10.0.1" -r "$rate" -m "$calls" -l "$limit" -nostdin -timeout $((calls / rate + hold / 1000 + 30))s \
    -trace_stat -stf "$work/stat-$tag.csv" -trace_rtt -rtt_freq 1 -max_socket 65000 \
    10.10.0.1:5060 >"$work/phone-$tag.out" 2>&1) || true
  mv -f "$work"/uac-"$tag"*_rtt.csv "$work/rtt-$tag.csv" 2>/dev/null || true
  python3 - "$work/stat-$tag.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
h = rows[0]; last = rows[-1]
print(last[h.index("SuccessfulCall(C)")], last[h.index("FailedCall(C)")])
PY
}

# setup_ms P RTT_FILE... -> the P-th percentile of INVITE-to-200 in ms ("null" if none)
setup_ms() {
  python3 - "$@" <<'PY'
import sys
q = float(sys.argv[1]); v = []
for f in sys.argv[2:]:
    for line in open(f):
        p = line.strip().split(";")   # Date_ms;response_time_ms;rtd_no
        if len(p) >= 2 and p[0] != "Date_ms":
            try: v.append(float(p[1]))
            except ValueError: pass
v.sort()
print("%.1f" % v[min(len(v) - 1, int(len(v) * q))] if v else "null")
PY
}

best=0 completed=0 within=1
rtt_files=()
echo "bench-calls: rate steps of ${step_s} s, 1 s calls (digest auth, flow programmed per call);" \
  "a step passes with zero failed calls and p99 setup <= ${setup_limit} ms"
for r in $rates; do
  n=$((r * step_s))
  read -r ok failed < <(run_phone "$r" "$n" 1000 $((r * 4 + 100)) "r$r")
  p50=$(setup_ms 0.5 "$work/rtt-r$r.csv" 2>/dev/null || echo null)
  p99=$(setup_ms 0.99 "$work/rtt-r$r.csv" 2>/dev/null || echo null)
  printf '  %5s calls/s: %6s ok %6s failed, setup p50 %s ms p99 %s ms\n' "$r" "$ok" "$failed" "$p50" "$p99"
  [[ $failed == 0 && $ok == "$n" ]] || break
  completed=$r
  # The sustained rate: every step up to it also kept setup within the limit.
  if (( within )) && [[ $p99 != null ]] && python3 -c "import sys; sys.exit(0 if $p99 <= $setup_limit else 1)"; then
    best=$r
    rtt_files+=("$work/rtt-r$r.csv")
  else
    within=0
  fi
  sleep 2
done

echo "bench-calls: concurrency: $conc_rate calls/s, calls held ${conc_s} s"
peak=0
total=$((conc_rate * conc_s))
sed -e "s/@HOLD@/$((conc_s * 1000 + 10000))/" "$work/uac.xml" >"$work/uac-conc.xml"
ip netns exec msgw-phone sipp -sf "$work/uac-conc.xml" -s 1-800-555-1212 -i 10.10.0.2 -p 5062 \
  -auth_uri "1-800-555-1212@10.10.0.1" -r "$conc_rate" -m "$total" -l "$total" -nostdin \
  -timeout $((conc_s * 2 + 40))s -trace_stat -stf "$work/stat-conc.csv" -max_socket 65000 \
  10.10.0.1:5060 >"$work/phone-conc.out" 2>&1 &
conc_pid=$!; bg_pids+=($conc_pid)
for _ in $(seq "$conc_s"); do
  sleep 1
  # A busy control plane may not answer the management socket in time: skip that sample.
  a=$(ctl show stats --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["calls_active"])' 2>/dev/null || echo "")
  [[ -n $a ]] && (( a > peak )) && peak=$a
  f=$(tail -n 1 "$work/stat-conc.csv" 2>/dev/null | python3 -c '
import sys
try:
  h=open(sys.argv[1]).readline().split(";"); l=sys.stdin.read().split(";"); print(l[h.index("FailedCall(C)")])
except Exception: print(0)' "$work/stat-conc.csv")
  [[ ${f:-0} != 0 ]] && { echo "  $f calls failed with ${a:-?} live calls (peak $peak): stop"; break; }
done
echo "  peak live calls: $peak"
ctl show stats --json 2>/dev/null | python3 -c '
import json,sys; s=json.load(sys.stdin)
print("  msgw-control: %d attempted, %d answered, %d failed, %d media errors" % (s["calls_attempted"], s["calls_answered"], s["calls_failed"], s["media_errors"]))' 2>/dev/null || true
kill -INT $conc_pid 2>/dev/null || true

p99=null
(( ${#rtt_files[@]} )) && p99=$(setup_ms 0.99 "${rtt_files[@]}")
echo "{\"calls_per_s_zero_fail\": $best, \"max_concurrent_calls\": $peak, \"setup_ms_p99\": $p99, \"setup_ms_limit\": $setup_limit, \"calls_per_s_completed\": $completed, \"step_s\": $step_s}"
