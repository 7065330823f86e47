#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Any msgw-loadtest test against msgw on the namespace rig, with the same
# pinning as scripts/bench-peers.sh: msgw-control and msgw-dataplane on
# SUT_CPU (0), the tool (its SIPps and RTP thread) on GEN_CPU (1). The rig's
# config with a wide RTP port range, a media timeout past the longest hold and
# a trunk taking PCMU and G.729 (so media-throughput's transcoded mode
# transcodes). The tool's JSON and HTML go to OUT_DIR; the last line printed
# is the tool's JSON result; the gateway's counters after the run go to
# OUT_DIR/gateway-metrics.txt, the namespaces' kernel counters to OUT_DIR/nstat-*.txt.
#
# Usage (root): scripts/bench-loadtest.sh BUILD_DIR TEST [msgw-loadtest options...]
#   scripts/bench-loadtest.sh build capacity --capacity-rate 200 --capacity-max-calls 20000 --step-s 10 --confirm-s 60
#   scripts/bench-loadtest.sh build overload --rate 400 --overload 2,10 --step-s 10
#   scripts/bench-loadtest.sh build media-throughput --start-sessions 100 --max-sessions 4000 --step-s 10
#   scripts/bench-loadtest.sh build establishment --start-rate 200 --max-rate 4000 --step-s 20 --confirm-s 60 --media
#   RIG_PORTS=memif RIG_MEMIF_RSIZE=14 scripts/bench-loadtest.sh build capacity --capacity-rate 400 --capacity-max-calls 12000 --step-s 10 --confirm-s 10 --codec PCMU
# Environment: SUT_CPU, GEN_CPU, OUT_DIR (/tmp/msgw-bench-TEST), MEDIA_TIMEOUT_MS (600000),
#   GW_SET ("key = value" lines appended to the [sip] section, e.g. overload_queue_age_ms = 0),
#   RIG_PORTS (veth; memif: the rig's memif variant, scripts/rig.sh, and the tool's RTP from
#   its DPDK engine, --media-dpdk, on lcore GEN_CPU without hugepages; EAL memory LT_EAL_MB, 512;
#   RIG_MEMIF_RSIZE, the memif rings' log2 size, 13: 14 for 10,000 calls and more).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:?usage: bench-loadtest.sh BUILD_DIR TEST [options...]}" && pwd)
test_name=${2:?usage: bench-loadtest.sh BUILD_DIR TEST [options...]}
shift 2
if [[ $(id -u) -ne 0 ]]; then echo "bench-loadtest: run as root" >&2; exit 2; fi
tool=$build/loadtest/msgw-loadtest
[[ -x $tool ]] || { echo "bench-loadtest: $tool is not built" >&2; exit 1; }
SUT_CPU=${SUT_CPU:-0} GEN_CPU=${GEN_CPU:-1}
out=${OUT_DIR:-/tmp/msgw-bench-$test_name}
mkdir -p "$out"

source "$root/tests/integration/control_lib.sh"
trap rig_cleanup EXIT
raise_socket_buffer_limits  # the tool's 16 MiB socket buffers (control_lib.sh)
MEDIA_TIMEOUT_MS=${MEDIA_TIMEOUT_MS:-600000} make_config </dev/null
sed -i -e 's/^port_min = .*/port_min = 10000/' -e 's/^port_max = .*/port_max = 65000/' \
  -e 's/^codecs = \["G729"\]/codecs = ["PCMU", "G729"]/' "$work/gw.toml"
bench_port_rings "$work/gw.toml"
if [[ -n ${GW_SET:-} ]]; then
  # Each line replaces the key where the rig's config has it, else joins [sip].
  while IFS= read -r line; do
    [[ -z $line ]] && continue
    key=${line%%=*}; key=${key// /}
    if grep -q "^$key *=" "$work/gw.toml"; then sed -i "s|^$key *=.*|$line|" "$work/gw.toml"
    else sed -i "/^\[sip\]/a $line" "$work/gw.toml"; fi
  done <<<"$GW_SET"
fi
rig_up >/dev/null || { echo "bench-loadtest: rig did not come up" >&2; exit 1; }
for p in dataplane control; do taskset -a -p -c "$SUT_CPU" "$(cat "$work/run/$p.pid")" >/dev/null; done

# The memif rig: the tool's RTP from its DPDK engine through the rig's memif
# ports. It does not linger for the rig to hang up first (packet_rate.hpp):
# the rig goes down right after it anyway.
dpdk=()
case ${RIG_PORTS:-veth} in
  memif|xdp)
    # shellcheck disable=SC2207 # the EAL's arguments are words
    dpdk=(--media-dpdk --linger-s 0 -- -l "$GEN_CPU" --file-prefix "lt-bench$$" --no-pci --no-huge -m "${LT_EAL_MB:-512}"
          $(MSGW_BUILD=$build MSGW_RIG_RUN=$work/run "$root/scripts/rig.sh" "$RIG_PORTS-eal")) ;;
esac
taskset -c "$GEN_CPU" "$tool" "$test_name" --target 10.10.0.1:5060 \
  --phone 10.10.0.2:5062 --phone-netns msgw-phone --carrier 10.20.0.2:5060 --carrier-netns msgw-carrier \
  --user spa1 --password spa1-secret --number 1-800-555-1212 \
  --json "$out/result.json" --html "$out/report.html" --work-dir "$out/work" "$@" "${dpdk[@]}" >&2
rm -rf "/var/run/dpdk/lt-bench$$"
# Where the calls that did not make it went: the gateway's counters and each
# namespace's kernel counters (socket buffer overruns, drops) after the run.
metrics_at=$(sed -n 's/^metrics_listen = "\(.*\)"/\1/p' "$work/gw.toml")
[[ -n $metrics_at ]] && ip netns exec msgw-gw curl -s "http://$metrics_at/metrics" >"$out/gateway-metrics.txt" || true
for ns in msgw-phone msgw-carrier msgw-gw; do ip netns exec "$ns" nstat -az >"$out/nstat-$ns.txt" 2>/dev/null || true; done
echo "bench-loadtest: $test_name against msgw (${RIG_PORTS:-veth} rig); SUT on core $SUT_CPU, tool on core $GEN_CPU; report $out/report.html" >&2
python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))))' "$out/result.json"
