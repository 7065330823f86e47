#!/usr/bin/env bash
# Dataplane benchmark (not a timed test): msgw-dataplane with one worker core
# on a net_memif port, driven by tests/perf/dataplane_loadgen (memif client).
# Prints figures as it goes and one JSON object on its last line.
#   relay_pps_zero_loss        highest offered rate of 20 ms G.711 RTP over many relay
#                              flows with zero loss, each trial >= 10 s
#   testpmd_io_pps             io-forward ceiling over the same memif port and core
#                              (dpdk-testpmd is not packaged in Debian 12: measured with
#                              dataplane_loadgen's own rx->tx forwarder, said below)
#   transcode_sessions_zero_loss  most PCMU<->G.729 duplex sessions (50 pps each way)
#   codec_bound_sessions       codec engine sessions per core (build/tests/perf/codec_bench)
#   relay_p99_us               p99 loadgen->dataplane->loadgen time at the zero-loss rate
# Usage: scripts/bench-dataplane.sh [BUILD_DIR]      (root; 2+ cores)
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
[[ $build = /* ]] || build="$root/$build"
dp="$build/dataplane/msgw-dataplane"
tool="$build/tests/integration/dataplane_tool"
lg="$build/tests/perf/dataplane_loadgen"
bench="$build/tests/perf/codec_bench"
secs=${BENCH_SECONDS:-10}
flows=${BENCH_FLOWS:-1000}
for b in "$dp" "$tool" "$lg"; do [[ -x $b ]] || { echo "missing $b (build first)"; exit 1; }; done
work=$(mktemp -d /tmp/msgw-bench.XXXXXX)
sock="$work/memif.sock"
inst="bench$$"
dp_pid=""
cleanup() {
  [[ -n $dp_pid ]] && kill "$dp_pid" 2>/dev/null && wait "$dp_pid" 2>/dev/null
  rm -rf "$work" "/dev/shm/msgw-$inst"
}
trap cleanup EXIT
huge=off
if grep -q hugetlbfs /proc/mounts && (( $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) > 256 )); then
  huge=on
fi
hugeargs=(--no-huge -m 512)
[[ $huge == on ]] && hugeargs=(-m 512)
echo "hugepages: $huge"

cat >"$work/dp.toml" <<EOT
[instance]
name = "$inst"
[dataplane]
main_lcore = 0
worker_lcores = [1]
memory_mb = 1024
hugepages = "$huge"
flow_capacity = 131072
media_timeout_ms = 3600000
[[port]]
name = "bench"
device = "net_memif0,role=server,socket=$sock,mac=02:00:00:00:00:01"
address = "10.0.0.1/16"
tap_name = "bn$$"
EOT

loadgen() {  # mode args... ; memif client on lcore 0 next to the dataplane's main lcore
  "$lg" "$@" -- -l 0 --file-prefix "lg$$" --no-pci "${hugeargs[@]}" \
    --vdev "net_memif0,role=client,socket=$sock,mac=02:00:00:00:00:02" 2>>"$work/lg.log" | tail -1
}

start_dp() {  # kind of flows
  "$dp" --config "$work/dp.toml" --static-neighbour 0,10.0.0.2,02:00:00:00:00:02 \
    --static-neighbour 0,10.0.1.2,02:00:00:00:00:02 >"$work/dp.log" 2>&1 &
  dp_pid=$!
  for _ in $(seq 100); do
    "$tool" generation "$inst" 2>/dev/null | grep -q " up" && break
    sleep 0.1
  done
  "$tool" bench-flows "$inst" "$1" "$2"
  sleep 0.5   # memif server listening
}
stop_dp() { kill -TERM "$dp_pid" 2>/dev/null; wait "$dp_pid" 2>/dev/null || true; dp_pid=""; }

# DPDK 22.11's net_memif can crash the server's polling thread when a client
# disconnects mid-poll (seen here once, in librte_net_memif), so every trial
# gets a fresh server: one trial = start peer/dataplane, one loadgen run, stop.
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(*(d[k] for k in sys.argv[2:]))' "$@"; }

# --- ceiling: io-forwarding peer on the worker core (lcore 1)
io_trial() {  # rate -> prints "received sent"
  "$lg" iofwd $((secs + 6)) -- -l 1 --file-prefix "fw$$" --no-pci "${hugeargs[@]}" \
    --vdev "net_memif0,role=server,socket=$sock,mac=02:00:00:00:00:01" >/dev/null 2>>"$work/lg.log" &
  local fw=$!
  sleep 1
  local out; out=$(loadgen relay "$flows" "$1" "$secs" || echo '{"received": 0, "sent": 1}')
  echo "iofwd offered $1 pps: $out" >&2
  kill "$fw" 2>/dev/null; wait "$fw" 2>/dev/null || true
  rm -f "$sock"
  field "$out" received sent
}
best_io=0
for rate in 250000 500000 1000000 2000000 4000000; do
  read -r got sent <<<"$(io_trial "$rate")"
  io_pps=$(( got / secs ))
  (( io_pps > best_io )) && best_io=$io_pps
  (( got < sent )) && break
done
echo "io-forward ceiling (own rx->tx forwarder; dpdk-testpmd not packaged): $best_io pps"

dp_trial() {  # kind(relay|transcode) load(rate|sessions) -> prints "received sent p99"
  start_dp "$([[ $1 == relay ]] && echo "$flows" || echo 4000)" "$1" >/dev/null
  local out
  if [[ $1 == relay ]]; then out=$(loadgen relay "$flows" "$2" "$secs" || true)
  else out=$(loadgen transcode "$2" "$secs" || true); fi
  [[ -n $out ]] || out='{"received": 0, "sent": 1, "p99_us": -1}'
  echo "$1 load $2: $out" >&2
  stop_dp
  grep -h totals "$work/dp.log" >&2 || echo "dataplane died: $(tail -2 "$work/dp.log")" >&2
  rm -f "$sock"
  field "$out" received sent p99_us
}

# --- relay: zero-loss search (grow, then bisect)
lo=0 hi=0 p99=-1 rate=50000
while (( rate <= 8000000 )); do
  read -r got sent lat <<<"$(dp_trial relay "$rate")"
  if (( got >= sent && sent > 0 )); then lo=$rate p99=$lat; rate=$((rate * 2)); else hi=$rate; break; fi
done
for _ in 1 2 3 4; do
  (( hi == 0 )) && break
  mid=$(( (lo + hi) / 2 ))
  read -r got sent lat <<<"$(dp_trial relay "$mid")"
  if (( got >= sent && sent > 0 )); then lo=$mid p99=$lat; else hi=$mid; fi
done
relay=$lo

# --- transcoding: most zero-loss PCMU<->G.729 sessions (the load generator
# counts RTP only, not the dataplane's RTCP SRs).
lo_s=0 hi_s=0 n=50
while (( n <= 4000 )); do
  read -r got sent _ <<<"$(dp_trial transcode "$n")"
  if (( got >= sent && sent > 0 )); then lo_s=$n; n=$((n * 2)); else hi_s=$n; break; fi
done
for _ in 1 2 3 4; do
  (( hi_s == 0 )) && break
  mid=$(( (lo_s + hi_s) / 2 ))
  read -r got sent _ <<<"$(dp_trial transcode "$mid")"
  if (( got >= sent && sent > 0 )); then lo_s=$mid; else hi_s=$mid; fi
done

codec_bound=null
if [[ -x $bench ]]; then
  codec_bound=$("$bench" 2>/dev/null | tail -1 | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["pcmu_g729_duplex_sessions_per_core"]))' || echo null)
fi
echo "{\"relay_pps_zero_loss\": $relay, \"testpmd_io_pps\": $best_io, \"transcode_sessions_zero_loss\": $lo_s, \"codec_bound_sessions\": $codec_bound, \"relay_p99_us\": $p99, \"io_ceiling_tool\": \"dataplane_loadgen iofwd (dpdk-testpmd not packaged)\", \"port\": \"net_memif\", \"trial_seconds\": $secs, \"relay_flows\": $flows}"
