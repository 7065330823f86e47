#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# CPU time of msgw-control per call, and optionally its perf profile, at one
# steady call rate through the rig: the workload of scripts/bench-calls.sh
# (SIPp phone with digest auth, the gateway with a media flow programmed per
# call, SIPp carrier; 1 s calls, no RTP).  CPU time per call is what moves
# when msgw-control does less work per call; this host's speed swings too much
# between runs for rates alone to show it.
#
# Prints one line per round and, last, one JSON object:
#   {"rate": R, "calls": N, "control_cpu_us_per_call": [..], "median_us_per_call": M,
#    "dataplane_cpu_us_per_call": [..], "setup_ms_p99": [..]}
# msgw-dataplane's CPU per call (all its threads) is printed beside: on one core the two share it.
# CPU time is msgw-control's utime+stime (/proc) from just before the phone
# starts to its end, over the calls the phone completed.
# Usage: scripts/profile-calls.sh [BUILD_DIR]   (root; run under the rig lock)
#   RATE=700  SECONDS_PER_ROUND=15  ROUNDS=3
#   EARLY_MEDIA=1   the carrier answers 183 with SDP before its 200 (ringback from the
#                   network, as most carriers do): each call then adds its flow at the
#                   183 and modifies it at the 200
#   PERF_DATA=FILE  one more round, recorded with perf (not in the CPU figures)
#   PERF_ARGS="-F 499 --call-graph dwarf,16384"   (the build has no frame pointers)
#   PERF_TARGET=dataplane   record msgw-dataplane (all its threads) instead of msgw-control
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
if [[ $(id -u) -ne 0 ]]; then echo "profile-calls: run as root" >&2; exit 2; fi
source "$root/tests/integration/control_lib.sh"
trap rig_cleanup EXIT
rate=${RATE:-700}
secs=${SECONDS_PER_ROUND:-15}
rounds=${ROUNDS:-3}

make_config </dev/null
sed -i -e 's/^port_min = .*/port_min = 10000/' -e 's/^port_max = .*/port_max = 65000/' "$work/gw.toml"
rig_up >/dev/null || { echo "profile-calls: rig did not come up" >&2; exit 1; }
ctl_pid=$(cat "$work/run/control.pid")
dp_pid=$(cat "$work/run/dataplane.pid")

uac_scenario "$work/uac.xml" "2 0 4 8 18 96 97 98 100 101" none 1000
sed -i -e '/<nop>/,/<\/nop>/d' "$work/uac.xml"
sed -e '/<nop>/,/<\/nop>/d' "$sippdir/control_carrier_uas.xml" >"$work/uas.xml"
if [[ ${EARLY_MEDIA:-0} == 1 ]]; then
  # The 180 becomes a 183 with the 200's SDP.
  python3 - "$work/uas.xml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
sdp = re.search(r"(Content-Type: application/sdp.*?)\s*\]\]>", s.split("SIP/2.0 200 OK", 1)[1], re.S).group(1)
s = re.sub(r"SIP/2.0 180 Ringing(.*?)Content-Length: 0\s*\]\]>",
           lambda m: "SIP/2.0 183 Session Progress" + m.group(1) + sdp + "\n    ]]>", s, count=1, flags=re.S)
open(p, "w").write(s)
PY
fi
ip netns exec msgw-carrier sipp -sf "$work/uas.xml" -i 10.20.0.2 -p 5060 -mi 10.20.0.2 -mp 6000 -nostdin -bg \
  -max_socket 65000 >/dev/null 2>&1 || true
sleep 0.5

cpu_ticks() { awk '{print $14 + $15}' "/proc/${1:-$ctl_pid}/stat"; }
hz=$(getconf CLK_TCK)
# msgw-dataplane's threads (main lcore, workers, EAL's) as "name=ticks ...".
dp_threads() {
  for t in /proc/"$dp_pid"/task/*; do
    printf '%s=%s\n' "$(tr ' ' _ <"$t/comm")" "$(awk '{print $14 + $15}' "$t/stat")"
  done | sort
}
results=() p99s=() dp_results=()
total=$rounds
[[ -n ${PERF_DATA:-} ]] && total=$((rounds + 1))
for round in $(seq "$total"); do
  n=$((rate * secs))
  perf_pid=
  if (( round > rounds )); then
    perf_target=$ctl_pid
    [[ ${PERF_TARGET:-control} == dataplane ]] && perf_target=$dp_pid
    perf record ${PERF_ARGS:--F 499 --call-graph dwarf,16384} -o "$PERF_DATA" -p "$perf_target" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5
  fi
  t0=$(cpu_ticks) d0=$(cpu_ticks "$dp_pid") th0=$(dp_threads)
  (cd "$work" && ip netns exec msgw-phone sipp -sf "$work/uac.xml" -s 1-800-555-1212 -i 10.10.0.2 -p 5062 \
    -auth_uri "1-800-555-1212@10.10.0.1" -r "$rate" -m "$n" -l $((rate * 4 + 100)) -nostdin \
    -timeout $((secs + 40))s -trace_stat -stf "$work/stat-$round.csv" -trace_rtt -rtt_freq 1 -max_socket 65000 \
    10.10.0.1:5060 >"$work/phone-$round.out" 2>&1) || true
  t1=$(cpu_ticks) d1=$(cpu_ticks "$dp_pid") th1=$(dp_threads)
  [[ -n $perf_pid ]] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
  mv -f "$work"/uac*_rtt.csv "$work/rtt-$round.csv" 2>/dev/null || true
  read -r ok failed p99 < <(python3 - "$work/stat-$round.csv" "$work/rtt-$round.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1]), delimiter=';'))
h = rows[0]; last = rows[-1]
v = []
try:
    for line in open(sys.argv[2]):
        p = line.strip().split(";")
        if len(p) >= 2 and p[0] != "Date_ms":
            try: v.append(float(p[1]))
            except ValueError: pass
except OSError: pass
v.sort()
print(last[h.index("SuccessfulCall(C)")], last[h.index("FailedCall(C)")],
      "%.1f" % v[min(len(v) - 1, int(len(v) * 0.99))] if v else "null")
PY
)
  us=$(python3 -c "print(round(($t1 - $t0) * 1e6 / $hz / max(1, $ok), 1))")
  dus=$(python3 -c "print(round(($d1 - $d0) * 1e6 / $hz / max(1, $ok), 1))")
  # Per dataplane thread, µs per call (threads that used none are left out).
  dth=$(join -t= <(echo "$th0") <(echo "$th1") | awk -F= -v hz="$hz" -v ok="$ok" \
    '$3 > $2 {printf " %s %.0f", $1, ($3 - $2) * 1e6 / hz / (ok > 0 ? ok : 1)}')
  echo "  round $round${perf_pid:+ (perf)}: $rate calls/s × ${secs} s: $ok ok, $failed failed, setup p99 $p99 ms, msgw-control $us µs CPU per call, msgw-dataplane $dus (${dth# })"
  [[ -n $perf_pid ]] || results+=("$us") p99s+=("$p99") dp_results+=("$dus")
  sleep 2
done
median=$(printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}')
echo "{\"rate\": $rate, \"early_media\": ${EARLY_MEDIA:-0}, \"calls\": $((rate * secs)), \"control_cpu_us_per_call\": [$(IFS=,; echo "${results[*]}")], \"median_us_per_call\": $median, \"dataplane_cpu_us_per_call\": [$(IFS=,; echo "${dp_results[*]}")], \"setup_ms_p99\": [$(IFS=,; echo "${p99s[*]}")]}"
