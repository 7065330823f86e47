#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# msgw-loadtest packet-rate against msgw-dataplane over net_memif, short and
# at a low rate: checks the tool's own arithmetic, not the dataplane's rate
# (scripts/bench-dataplane.sh does that with the same tool).
#  1. relayed, 20 flows programmed (dataplane_tool bench-flows), 2,000
#     packets/s for 2 s to those 20: everything sent comes back (received =
#     sent, no loss, no TX refusal, every flow whole), every packet back has
#     a latency, the per-second timeline adds up to the totals, and the
#     dataplane relayed exactly what the tool received (its totals line).
#  2. the same, but the tool sends round 25 flows, 5 never programmed: the
#     dataplane drops what goes to those (to its exception path), and the
#     tool reports exactly that loss: the packets its round gave flows 20-24,
#     5 flows with loss, all 5 silent, nothing lost in the other 20.
#  3. transcoded, 4 PCMU <-> G.729 sessions for 2 s: every packet comes back
#     (the transcoder makes one 20 ms packet per packet in), no latency stamps.
# Every run writes JSON (also the last line of stdout) and HTML: both parse.
# Each trial gets a fresh dataplane, stopped before the tool (net_memif's
# server hangs up first: packet_rate.hpp). The dataplane runs in its own
# network namespace (its TAP's 10.0.0.1/16 stays there); both sides run
# without hugepages, so a killed run leaves no hugepage files, and the trap
# removes the EAL's runtime directories whatever happens.
# Usage: loadtest_packet_rate.sh BUILD_DIR   (root; 77 = skipped). Run it
# under flock /tmp/msgw-rig.lock (instance names, cores).
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then echo "needs root (network namespace, EAL)"; exit 77; fi
build=$(cd "$1" && pwd)
dp=$build/dataplane/msgw-dataplane
tool=$build/tests/integration/dataplane_tool
lt=$build/loadtest/msgw-loadtest
for b in "$dp" "$tool" "$lt"; do [[ -x $b ]] || { echo "missing $b"; exit 1; }; done
id=$(( $$ % 100000 ))
inst=lpr$id ns=msgw-lpr$id prefix=lpr-lt$id
work=$(mktemp -d /tmp/msgw-lt-pr.XXXXXX)
sock=$work/memif.sock
dp_pid="" lt_pid=""
cleanup() {
  [[ -n $lt_pid ]] && kill -KILL "$lt_pid" 2>/dev/null
  [[ -n $dp_pid ]] && kill "$dp_pid" 2>/dev/null && wait "$dp_pid" 2>/dev/null
  [[ -n $lt_pid ]] && wait "$lt_pid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work" "/dev/shm/msgw-$inst" "/var/run/dpdk/msgw-$inst" "/var/run/dpdk/$prefix"
  rm -f /dev/hugepages/msgw-"$inst"map_* /dev/hugepages/"$prefix"map_*
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [[ -f $work/dp.log ]] && tail -n 5 "$work/dp.log"; [[ -f $work/lt.err ]] && tail -n 5 "$work/lt.err"; exit 1; }

ip netns add "$ns"
memif="socket=$sock,socket-abstract=no"  # a file, reachable across namespaces
cat >"$work/dp.toml" <<EOT
[instance]
name = "$inst"
[dataplane]
main_lcore = 0
worker_lcores = [1]
memory_mb = 256
hugepages = "off"
flow_capacity = 1024
media_timeout_ms = 3600000
[[port]]
name = "bench"
device = "net_memif0,role=server,$memif,mac=02:00:00:00:00:01"
address = "10.0.0.1/16"
tap_name = "lpr$id"
EOT

# trial NAME KIND(relay|transcode) PROGRAMMED TOOL-OPTIONS...: a fresh
# dataplane with PROGRAMMED flows of KIND, one tool run; leaves
# $work/NAME.{out,json,html} and the dataplane's totals in $work/NAME.totals.
trial() {
  local name=$1 kind=$2 programmed=$3 line=""
  shift 3
  rm -f "$sock"
  ip netns exec "$ns" "$dp" --config "$work/dp.toml" --static-neighbour 0,10.0.0.2,02:00:00:00:00:02 \
    --static-neighbour 0,10.0.1.2,02:00:00:00:00:02 >"$work/dp.log" 2>&1 &
  dp_pid=$!
  for _ in $(seq 100); do
    "$tool" generation "$inst" 2>/dev/null | grep -q " up" && break
    kill -0 "$dp_pid" 2>/dev/null || fail "$name: the dataplane exited"
    sleep 0.1
  done
  "$tool" bench-flows "$inst" "$programmed" "$kind" >/dev/null || fail "$name: bench-flows"
  for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
  [[ -S $sock ]] || fail "$name: no memif socket"
  rm -f "$work/lt.fifo"
  mkfifo "$work/lt.fifo"
  timeout -s KILL 60 "$lt" packet-rate "$@" --step-s 2 --linger-s 10 \
    --json "$work/$name.json" --html "$work/$name.html" -- \
    -l 0 --file-prefix "$prefix" --no-pci --no-huge -m 512 --vdev "net_memif0,role=client,$memif,mac=02:00:00:00:00:02" \
    >"$work/lt.fifo" 2>"$work/lt.err" &
  lt_pid=$!
  # Its JSON is the last line of its stdout; then the server hangs up first.
  while IFS= read -r line; do
    echo "$line" >>"$work/$name.out"
    [[ $line == "{"*"}" ]] && break
  done <"$work/lt.fifo"
  kill -TERM "$dp_pid"
  wait "$dp_pid" || true
  dp_pid=""
  local rc=0
  wait "$lt_pid" || rc=$?
  lt_pid=""
  (( rc == 0 )) || fail "$name: msgw-loadtest exited $rc: $(tail -n 3 "$work/lt.err")"
  tail -n 1 "$work/$name.out" | cmp -s - "$work/$name.json" || fail "$name: stdout's last line differs from --json"
  grep -h " totals " "$work/dp.log" >"$work/$name.totals" || fail "$name: no totals from the dataplane"
}

# check NAME PYTHON: runs PYTHON with r = the run's packet_rate object, t =
# the dataplane's totals {word: number}, html = the report (parsed).
check() {
  python3 - "$work/$1.json" "$work/$1.html" "$work/$1.totals" "$2" <<'PY' || fail "$1 (stderr: $(tail -n 3 "$work/lt.err"))"
import json, re, sys
from html.parser import HTMLParser
run = json.load(open(sys.argv[1]))
assert "error" not in run, run.get("error")
assert run["test"] == "packet-rate" and run["rate_unit"] == "packets/s", run
HTMLParser().feed(open(sys.argv[2]).read())
assert "Packet rate (DPDK)" in open(sys.argv[2]).read()
t = {k: int(v) for k, v in re.findall(r"(\w+)[ =](\d+)", open(sys.argv[3]).read().split("totals", 1)[1])}
r = run["packet_rate"]
assert sum(s["sent"] for s in r["timeline"]) == r["sent"], r["timeline"]
assert sum(s["received"] for s in r["timeline"]) == r["received"], r["timeline"]
assert r["tx_fail"] == 0 and r["received_outside_flows"] == 0, r
exec(sys.argv[4])
PY
}

trial relay relay 20 --modes relayed --flows 20 --pps 2000
check relay '
assert r["sent"] >= 3000, r  # 2,000/s for 2 s, less whatever a stalled host skipped
assert r["received"] == r["sent"] and r["lost"] == 0 and r["zero_loss"], r
assert r["flows_with_loss"] == 0 and r["lost_in_flows"] == 0 and r["extra_in_flows"] == 0, r
assert r["latency_samples"] == r["received"] and 0 < r["p50_us"] <= r["p99_us"] <= r["max_us"], r
assert t["relayed"] == r["received"], (t, r)
assert run["found_rate"] == int(r["achieved_pps"]), run["found_rate"]
print("ok   relayed, 20 flows: sent %d, received %d, dataplane relayed %d; latency p50 %.0f p99 %.0f us"
      % (r["sent"], r["received"], t["relayed"], r["p50_us"], r["p99_us"]))'

trial unprogrammed relay 20 --modes relayed --flows 25 --pps 2000
check unprogrammed '
sent, flows = r["sent"], 25
to = [sent // flows + (1 if f < sent % flows else 0) for f in range(flows)]  # the round from flow 0
expected = sum(to[20:])
assert r["lost"] == expected and r["received"] == sent - expected, (expected, r)
assert r["lost_in_flows"] == expected and r["flows_with_loss"] == 5 and r["flows_silent"] == 5, r
assert not r["zero_loss"] and run["found_rate"] == 0, r
assert t["relayed"] == r["received"], (t, r)
print("ok   relayed, 25 flows, 20 programmed: sent %d, lost %d = what went to flows 20-24 (%s), in 5 silent flows"
      % (sent, r["lost"], "+".join(map(str, to[20:]))))'

trial transcode transcode 4 --modes transcoded --flows 4
check transcode '
assert r["mode"] == "transcoded" and r["offered_pps"] == 400, r
assert r["sent"] >= 600 and r["received"] == r["sent"] and r["lost"] == 0, r
assert r["flows_with_loss"] == 0 and r["latency_samples"] == 0 and r["p99_us"] == -1, r
print("ok   transcoded, 4 sessions: sent %d, received %d" % (r["sent"], r["received"]))'
echo "PASS loadtest_packet_rate"
