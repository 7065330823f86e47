#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# msgw side by side with the field (issue 23, item 3): the same msgw-loadtest
# workload, pinning and network against
#   msgw     msgw-dataplane + msgw-control on the namespace rig, and
#   peer     Kamailio (tm, auth_db on db_text, record-route) + rtpengine
#            (userspace, one worker; offer/answer/delete on every call),
#            Debian's packages, configured by bench/peers/.
# Both run in the rig's namespaces: the peer in msgw-gw on the gateway's own
# addresses (10.10.0.1 access, 10.20.0.1 trunk), so the tool's command is
# the same for both, target included. The system under test is pinned to
# SUT_CPU (0), the tool (its SIPps and RTP thread) to GEN_CPU (1).
# DATAPLANE_CPU (default SUT_CPU) moves msgw-dataplane elsewhere: with
# DATAPLANE_CPU=$GEN_CPU and --only msgw, msgw-control has the SUT core to
# itself (issue 23's "msgw-control on one core"; a carrier host gives the
# dataplane lcores of its own) and the dataplane shares the tool's core,
# whose busy share the tool checks against its generator limit (90 %).
#
# Workload: digest INVITE -> 407 -> INVITE -> 200 -> ACK -> hold -> BYE,
# the tool's establishment test (RFC 7502 search, or --rates), without
# media (a media flow is still programmed per call: msgw's dataplane,
# rtpengine's offer/answer) and with RTP both ways on every call (PCMU 20 ms,
# relayed by both: msgw's trunk takes PCMU first for this run, and G.729 for
# media-throughput's transcoded mode).
# Per round: msgw (no media, media), then the peer (no media, media). The
# table quotes medians over the rounds; the last line is one JSON object:
# msgw_cps, peer_cps (no RTP, a media flow per call), msgw_cps_media,
# peer_cps_media (RTP on every call), msgw_/peer_setup_p99_ms(_media) (at
# the found rate), msgw_/peer_concurrent_media (the tool's capacity test:
# most calls held with RTP both ways and zero loss, confirmed by a hold;
# msgw_/peer_concurrent_media_ramp: the most its ramp reached before the
# first fault, not held), msgw_concurrent_media_bypass(_ramp) (the same test
# against msgw with the tool's DPDK engine on the memif rig: msgw's dataplane
# on net_memif ports, as on a NIC; the peer, on kernel sockets, has no such
# run), msgw_/peer_relayed_streams
# and msgw_/peer_transcoded_sessions (the media-throughput test, SUT on one
# core; the peer's transcoded mode on a kamailio started with -A
# WITH_TRANSCODING, which offers G.729 beside PCMU so rtpengine transcodes),
# ratio_cps(_media), msgw_/peer_sut_cpu_us_per_call (the SUT core's CPU time
# per completed call at --cpu-rate, no media: /proc/stat's user + system +
# irq + softirq of SUT_CPU over a fixed-rate run right before each SUT's
# ladder, so the kernel's work for the SUT counts on both sides; this host's
# speed moves ~2x by the hour, the calls/s alone do not compare runs),
# ratio_sut_cpu (peer/msgw: > 1, msgw uses less CPU per call),
# msgw_/peer_setup_p99_ms_at_cpu_rate (the setup p99 of those fixed-rate runs:
# both SUTs at one rate, where the p99 at each one's found rate compares queues
# at different rates), sut_cpu_per_round,
# sut_cpu_notes (fixed-rate runs with failures or other work on the core: the
# figure stands, per completed call), at_ceiling (figures at the highest rate offered: lower
# bounds), generator_bound (the figures the tool itself may have
# limited, a list; empty when none) with generator_limits (the reasons per
# run), not_built, per_round, method.
# Figures not measured are printed "n/a" with the reason under "not_measured".
#
# Usage: scripts/bench-peers.sh [options] [BUILD_DIR]     (root; takes /tmp/msgw-rig.lock)
#   --rounds N (3)  --step-s S (20)  --confirm-s S (60)  --threshold-ms MS (1000)
#   --hold-ms MS (1500)  --start-rate R (100)  --max-rate R (5000)  --resolution R (50)
#   --rates R1,R2,...  fixed steps instead of the search (each runs to its end)
#   --cpu-rate R (400)  the fixed rate of the SUT CPU per call run (one step of --step-s)
#   --keep-work        keep the work directory (tool JSON/HTML, logs)
#   --only msgw|peer   run one side only (the other's figures are null)
#   --capacity-rate R (200)  --capacity-max-calls N (20000)   the capacity test
#   --max-sessions N (4000)  media-throughput's ceiling (its trials last --step-s)
#   --no-media-tests   skip capacity and media-throughput (establishment only)
#   --no-media-calls   skip the establishment run with RTP on every call too (signalling only)
#   --no-bypass-capacity  skip msgw's capacity run on the memif rig (msgw_concurrent_media_bypass)
#   --media-ports xdp|socket (xdp)  how the RTP of the calls with media (establishment with RTP,
#                      capacity) leaves the tool: xdp, its DPDK engine on AF_XDP ports (net_af_xdp) on
#                      the rig's veths (scripts/rig.sh, RIG_PORTS=xdp; the rig comes up again for
#                      them); socket, its UDP sockets (~1,600 calls of RTP on one core here).
#                      media-throughput has its own socket sender either way.
#   --rounds 1 --rates 50,100 --step-s 3 --cpu-rate 100 --no-media-tests   a trial of establishment and CPU only
# Trial (a few minutes): scripts/bench-peers.sh --rounds 1 --rates 50,100 --step-s 3 --capacity-max-calls 200 --max-sessions 200
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peers=$root/bench/peers
rounds=3 step_s=20 confirm_s=60 threshold_ms=1000 hold_ms=1500
start_rate=100 max_rate=5000 resolution=50 rates="" build_arg="" only=""
capacity_rate=200 capacity_max=20000 max_sessions=4000 media_tests=1 media_calls=1 cpu_rate=400
media_ports=xdp bypass_capacity=1
SUT_CPU=${SUT_CPU:-0} GEN_CPU=${GEN_CPU:-1}
DATAPLANE_CPU=${DATAPLANE_CPU:-$SUT_CPU}
usage() { sed -n '/^# Usage:/,/^# Trial/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --step-s) step_s=$2; shift ;;
    --confirm-s) confirm_s=$2; shift ;;
    --threshold-ms) threshold_ms=$2; shift ;;
    --hold-ms) hold_ms=$2; shift ;;
    --start-rate) start_rate=$2; shift ;;
    --max-rate) max_rate=$2; shift ;;
    --resolution) resolution=$2; shift ;;
    --rates) rates=$2; shift ;;
    --cpu-rate) cpu_rate=$2; shift ;;
    --keep-work) export KEEP_WORK=1 ;;
    --only) only=$2; shift ;;
    --capacity-rate) capacity_rate=$2; shift ;;
    --capacity-max-calls) capacity_max=$2; shift ;;
    --max-sessions) max_sessions=$2; shift ;;
    --no-media-tests) media_tests=0 ;;
    --no-media-calls) media_tests=0 media_calls=0 ;;
    --media-ports) media_ports=$2; shift ;;
    --no-bypass-capacity) bypass_capacity=0 ;;
    -h|--help) usage ;;
    -*) echo "bench-peers: unknown option $1" >&2; usage ;;
    *) build_arg=$1 ;;
  esac
  shift
done
[[ -z $only || $only == msgw || $only == peer ]] || { echo "bench-peers: --only msgw|peer" >&2; exit 2; }
[[ $media_ports == xdp || $media_ports == socket ]] || { echo "bench-peers: --media-ports xdp|socket" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench-peers: --rounds N, N >= 1" >&2; exit 2; }
[[ $cpu_rate =~ ^[1-9][0-9]*$ ]] || { echo "bench-peers: --cpu-rate R, R >= 1" >&2; exit 2; }
if [[ $(id -u) -ne 0 ]]; then echo "bench-peers: run as root" >&2; exit 2; fi
build=$(cd "${build_arg:-$root/build}" && pwd)
tool=$build/loadtest/msgw-loadtest
needed=("$tool")
[[ $only == peer ]] || needed+=("$build/dataplane/msgw-dataplane" "$build/control/msgw-control")
for b in "${needed[@]}"; do
  [[ -x $b ]] || { echo "bench-peers: $b is not built" >&2; exit 1; }
done
# The peer, from Debian's packages; for benchmarks only (not in setup.sh).
if ! command -v kamailio >/dev/null || ! command -v rtpengine >/dev/null; then
  echo "bench-peers: installing kamailio rtpengine-daemon" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y kamailio rtpengine-daemon >&2
fi
peer_version="kamailio $(dpkg-query -W -f '${Version}' kamailio 2>/dev/null || echo '?'), rtpengine $(dpkg-query -W -f '${Version}' rtpengine-daemon 2>/dev/null || echo '?')"

# One rig at a time on this host: hold the lock for the whole run (the peer
# uses the same namespaces).
exec 9>/tmp/msgw-rig.lock
flock 9
source "$root/tests/integration/control_lib.sh"
# rig_ports: veth for the signalling-only tests and media-throughput, xdp
# (--media-ports xdp) while the calls with media run,
# memif (msgw alone, --no-bypass-capacity to skip): its capacity run with the
# dataplane's ports on net_memif, rings of 2^14 (RIG_MEMIF_RSIZE) for 10,000
# calls and more.
rig_ports=veth
rig() {
  RIG_PORTS=$rig_ports RIG_MEMIF_RSIZE=${RIG_MEMIF_RSIZE:-14} MSGW_BUILD=$build MSGW_RIG_RUN=$work/run \
    "$root/scripts/rig.sh" "$@"
}
# The tool's DPDK engine on the xdp rig's two AF_XDP ports (or the memif
# rig's two memif clients), on the tool's core.
media_port_args() {
  [[ $rig_ports == xdp || $rig_ports == memif ]] || return 0
  # shellcheck disable=SC2046 # the EAL's arguments are words
  printf '%s\n' --media-dpdk --linger-s 0 -- -l "$GEN_CPU" --file-prefix "lt-peers$$" --no-pci --no-huge -m 512 \
    $(rig "$rig_ports-eal")
}

# Credentials and number: the rig's subscriber (config/examples/spa-to-carrier.toml).
user=spa1 password=spa1-secret number=1-800-555-1212
access_ip=10.10.0.1 trunk_ip=10.20.0.1 ng_port=2223
base=(--target "$access_ip:5060" --phone 10.10.0.2:5062 --phone-netns msgw-phone
      --carrier 10.20.0.2:5060 --carrier-netns msgw-carrier
      --user "$user" --password "$password" --number "$number" --hold-ms "$hold_ms"
      --threshold-ms "$threshold_ms" --step-s "$step_s" --quiet)
sides=("${base[@]}")  # and the ladder
if [[ -n $rates ]]; then
  sides+=(--rates "$rates")
else
  sides+=(--start-rate "$start_rate" --max-rate "$max_rate" --resolution "$resolution" --confirm-s "$confirm_s")
fi

kam_pid="" rtp_pid=""
stop_pid() {  # PID: TERM, wait up to 5 s, KILL
  local p=$1
  [[ -n $p ]] || return 0
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() { stop_pid "$kam_pid"; stop_pid "$rtp_pid"; rig_cleanup; rm -rf "/var/run/dpdk/lt-peers$$"; }
trap cleanup EXIT
raise_socket_buffer_limits  # the tool's 16 MiB socket buffers (control_lib.sh)

# msgw's configuration: the trunk takes PCMU first (relayed, as rtpengine relays;
# G.729 too, for media-throughput's transcoded mode),
# a port range for many concurrent calls.
make_config </dev/null
sed -i -e 's/^codecs = \["G729"\]/codecs = ["PCMU", "G729"]/' -e 's/^port_min = .*/port_min = 10000/' \
  -e 's/^port_max = .*/port_max = 65000/' "$work/gw.toml"
grep -q '^codecs = \["PCMU", "G729"\]' "$work/gw.toml" || { echo "bench-peers: could not set msgw's trunk to PCMU, G.729" >&2; exit 1; }
bench_port_rings "$work/gw.toml"

# The peer's configuration: the repository's files with this run's addresses.
mkdir -p "$work/dbtext" "$work/kam-run"
cp "$peers/kamailio/dbtext/version" "$work/dbtext/version"
{ echo "id(int,auto) username(string) domain(string) password(string) ha1(string,null) ha1b(string,null)"
  echo "1:$user:$access_ip:$password:NULL:NULL"; } >"$work/dbtext/subscriber"
sed -e "s|@LISTEN_IP@|$access_ip|g" -e "s|@LISTEN_PORT@|5060|g" -e "s|@CARRIER@|10.20.0.2:5060|g" \
    -e "s|@NG_PORT@|$ng_port|g" -e "s|@WORK@|$work|g" "$peers/kamailio/kamailio.cfg" >"$work/kamailio.cfg"
sed -e "s|@MEDIA_IP@|$access_ip|g" -e "s|@NG_PORT@|$ng_port|g" "$peers/rtpengine.conf" >"$work/rtpengine.conf"

wait_udp() {  # ADDR:PORT listening in msgw-gw, up to 10 s
  for _ in $(seq 100); do
    ip netns exec msgw-gw ss -Huln "src $1" 2>/dev/null | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

msgw_up() {
  rig up "$work/gw.toml" >"$work/rig-up.log" 2>&1 || { tail -n 20 "$work/rig-up.log" >&2; return 1; }
  local p
  taskset -a -p -c "$DATAPLANE_CPU" "$(cat "$work/run/dataplane.pid")" >/dev/null
  taskset -a -p -c "$SUT_CPU" "$(cat "$work/run/control.pid")" >/dev/null
}
msgw_down() { rig down >/dev/null 2>&1 || true; }

# The peer in msgw-gw: the rig's namespaces without the dataplane; the gateway
# namespace's kernel owns the veths and the gateway's addresses.
peer_up() {  # [transcoding]: kamailio offers G.729 beside the caller's codecs (-A WITH_TRANSCODING)
  local defines=()
  [[ ${1:-} == transcoding ]] && defines=(-A WITH_TRANSCODING)
  rig net-up >/dev/null
  local dev
  for dev in gw-access gw-trunk; do
    ip netns exec msgw-gw sysctl -qw net.ipv4.conf.$dev.arp_ignore=0 net.ipv4.conf.$dev.rp_filter=0
  done
  ip netns exec msgw-gw ip addr add "$access_ip/24" dev gw-access
  ip netns exec msgw-gw ip addr add "$trunk_ip/24" dev gw-trunk
  ip netns exec msgw-gw taskset -c "$SUT_CPU" rtpengine --config-file="$work/rtpengine.conf" \
    --config-section=rtpengine --pidfile="$work/rtpengine.pid" >"$work/rtpengine.log" 2>&1 &
  rtp_pid=$!
  wait_udp "127.0.0.1:$ng_port" || { echo "bench-peers: rtpengine did not start" >&2; tail -n 20 "$work/rtpengine.log" >&2; return 1; }
  ip netns exec msgw-gw taskset -c "$SUT_CPU" kamailio -f "$work/kamailio.cfg" "${defines[@]}" -DD -E -m 1024 -M 32 \
    -w "$work" -Y "$work/kam-run" -P "$work/kamailio.pid" >"$work/kamailio.log" 2>&1 &
  kam_pid=$!
  wait_udp "$access_ip:5060" || { echo "bench-peers: kamailio did not start" >&2; tail -n 20 "$work/kamailio.log" >&2; return 1; }
  sleep 1  # its receivers fork after the socket is bound
  kill -0 "$kam_pid" 2>/dev/null || { echo "bench-peers: kamailio exited" >&2; tail -n 20 "$work/kamailio.log" >&2; return 1; }
}
peer_down() {
  stop_pid "$kam_pid"; kam_pid=""
  stop_pid "$rtp_pid"; rtp_pid=""
  rig net-down >/dev/null 2>&1 || true
}

# run_media_tests SUT ROUND [MODES [TESTS]]: capacity, then media-throughput
# in MODES (relayed,transcoded), pinned; JSON in $work/SUT-capacity-rN.json and
# SUT-mtp-rN.json (SUT-mtpx-rN.json when TESTS is "transcoded-only": the
# peer's transcoded mode, run on a kamailio that offers G.729). TESTS
# capacity-only or mtp-only: that test alone (the xdp rig runs capacity).
run_media_tests() {
  local sut=$1 round=$2 modes=${3:-relayed,transcoded} only=${4:-} mtp=mtp
  if [[ $only == transcoded-only ]]; then
    mtp=mtpx
  elif [[ $only != mtp-only ]]; then
    local ports=()
    mapfile -t ports < <(media_port_args)
    taskset -c "$GEN_CPU" "$tool" capacity "${sides[@]}" --codec PCMU --capacity-rate "$capacity_rate" \
    --capacity-max-calls "$capacity_max" --step-s "$step_s" --confirm-s "$confirm_s" --threshold-ms "$threshold_ms" \
    --json "$work/$sut-capacity-r$round.json" --html "$work/$sut-capacity-r$round.html" "${ports[@]}" \
    >"$work/$sut-capacity-r$round.out" 2>"$work/$sut-capacity-r$round.err" || true
  fi
  [[ $only == capacity-only ]] && { media_summary "$sut" "$round" "$mtp" "$only"; return; }
  taskset -c "$GEN_CPU" "$tool" media-throughput "${sides[@]}" --codec PCMU --transcode-codec G729 --modes "$modes" \
    --start-sessions 100 --max-sessions "$max_sessions" --step-s "$step_s" \
    --json "$work/$sut-$mtp-r$round.json" --html "$work/$sut-$mtp-r$round.html" \
    >"$work/$sut-$mtp-r$round.out" 2>"$work/$sut-$mtp-r$round.err" || true
  media_summary "$sut" "$round" "$mtp" "$only"
}
media_summary() {  # SUT ROUND MTP ONLY: what run_media_tests found, one line per test
  python3 - "$work" "$1" "$2" "$3" "$4" <<'PY' >&2
import json, os, sys
work, sut, rnd, mtp, only = sys.argv[1:]
for test in (("capacity",) if only not in ("transcoded-only", "mtp-only") else ()) + ((mtp,) if only != "capacity-only" else ()):
    name = "%s-%s-r%s" % (sut, test, rnd)
    try:
        r = json.load(open(os.path.join(work, name + ".json")))
    except (OSError, ValueError):
        print("  %-16s no JSON (see %s.err)" % (name, name)); continue
    if "error" in r:
        print("  %-16s could not run: %s" % (name, r["error"])); continue
    if test == "capacity":
        print("  %-16s %5d calls with media, zero loss%s%s" % (name, r["found_rate"], " (confirmed)" if r.get("confirmed") else "",
              "; generator-bound: " + "; ".join(r["generator_limits"]) if r.get("generator_bound") else ""))
    else:
        for m in r.get("media_throughput", {}).get("modes", []):
            print("  %-16s %s: %d sessions (%d streams) zero loss%s" % (name, m["mode"], m["found_sessions"], m["found_streams"],
                  " (generator-bound)" if m.get("generator_bound_at_found") else ""))
PY
}

# run_tool SUT MODE ROUND: one establishment run, pinned; its JSON in $work.
# MODE nomedia or media: the ladder; cpu: one step at --cpu-rate, no media,
# for the SUT core's CPU time per call (every run reports it, --sut-cpus).
run_tool() {
  local sut=$1 mode=$2 round=$3 name=$1-$2-r$3 opts=("${sides[@]}")
  [[ $mode == media ]] && opts+=(--media --codec PCMU)
  local ports=()
  [[ $mode == media ]] && mapfile -t ports < <(media_port_args)
  [[ $mode == cpu ]] && opts=("${base[@]}" --rates "$cpu_rate")
  taskset -c "$GEN_CPU" "$tool" establishment "${opts[@]}" --sut-cpus "$SUT_CPU" \
    --json "$work/$name.json" --html "$work/$name.html" "${ports[@]}" >"$work/$name.out" 2>"$work/$name.err" || true
  [[ -s $work/$name.json ]] || echo '{"error": "no JSON (see the tool stderr)"}' >"$work/$name.json"
  python3 - "$work/$name.json" "$name" "$mode" <<'PY' >&2
import json, sys
r = json.load(open(sys.argv[1]))
if "error" in r:
    print("  %-16s could not run: %s" % (sys.argv[2], r["error"])); sys.exit()
bound = "; generator-bound: " + "; ".join(r["generator_limits"]) if r.get("generator_bound") else ""
if sys.argv[3] == "cpu":
    s = r["steps"][-1]
    us = s.get("sut_cpu_us_per_call")
    print("  %-16s %s CPU us per call on the SUT core at %d calls/s (core %.0f %% busy, %.0f %% niced); %d ok, %d failed; setup p99 %s ms%s" % (
        sys.argv[2], "-" if us is None else "%.0f" % us, s["rate"], s.get("sut_cpu_busy_percent", 0),
        s.get("sut_cpu_niced_percent", 0), s["uac"]["successful"], s["uac"]["failed"],
        "%.0f" % s["setup_ms"]["p99"] if s["setup_ms"].get("n") else "-", bound))
    sys.exit()
st = r.get("setup_ms_at_found_rate") or {}
steps = " ".join("%d%s" % (s["rate"], "+" if s["passed"] else "-") for s in r["steps"])
us = r.get("sut_cpu_us_per_call_at_found")
print("  %-16s %5d calls/s%s, setup p99 %s ms%s; steps %s%s" % (
    sys.argv[2], r["found_rate"], " (confirmed)" if r.get("confirmed") else "",
    st.get("p99", "-") if st.get("n") else "-", "" if us is None else ", SUT CPU %.0f us/call" % us, steps, bound))
PY
}

if [[ -n $rates ]]; then ladder="rates $rates"
else ladder="search $start_rate..$max_rate by $resolution, confirmation ${confirm_s} s"; fi
dp_note=""
[[ $DATAPLANE_CPU == "$SUT_CPU" ]] || dp_note=" (msgw-dataplane on core $DATAPLANE_CPU)"
echo "bench-peers: msgw vs $peer_version; $rounds round(s); SUT on core $SUT_CPU$dp_note, msgw-loadtest on core $GEN_CPU;" \
  "hold ${hold_ms} ms, steps ${step_s} s, threshold ${threshold_ms} ms, $ladder; CPU per call at $cpu_rate calls/s" >&2
for round in $(seq "$rounds"); do
  echo "round $round/$rounds" >&2
  # Each SUT: the signalling-only runs and media-throughput on the veth rig;
  # the calls with media there too (--media-ports socket) or on the xdp rig.
  for sut in msgw peer; do
    [[ -n $only && $only != "$sut" ]] && continue
    if [[ $sut == msgw ]]; then up=msgw_up down=msgw_down; else up=peer_up down=peer_down; fi
    modes=relayed,transcoded
    [[ $sut == peer ]] && modes=relayed
    rig_ports=veth
    if $up; then
      run_tool $sut cpu "$round"
      run_tool $sut nomedia "$round"
      if [[ $media_ports == socket ]]; then
        ((media_calls)) && run_tool $sut media "$round"
        ((media_tests)) && run_media_tests $sut "$round" "$modes"
      else
        ((media_tests)) && run_media_tests $sut "$round" "$modes" mtp-only
      fi
    else
      echo "  $sut: the rig did not come up" >&2
    fi
    $down
    if [[ $media_ports == xdp ]] && ((media_calls || media_tests)); then
      rig_ports=xdp
      if $up; then
        ((media_calls)) && run_tool $sut media "$round"
        ((media_tests)) && run_media_tests $sut "$round" "$modes" capacity-only
      else
        echo "  $sut (xdp rig): did not come up" >&2
      fi
      $down
      rig_ports=veth
    fi
    if [[ $sut == msgw ]] && ((media_tests && bypass_capacity)); then
      rig_ports=memif
      if msgw_up; then
        run_media_tests msgw-bypass "$round" relayed capacity-only
      else
        echo "  msgw (memif rig): did not come up" >&2
      fi
      msgw_down
      rig_ports=veth
    fi
  done
  # The peer's transcoded sessions: a kamailio that offers G.729 too, so the
  # carrier's G.729 answer makes rtpengine transcode (bench/peers/README.md).
  if [[ $only != msgw ]] && ((media_tests)); then
    if peer_up transcoding; then
      run_media_tests peer "$round" transcoded transcoded-only
    else
      echo "  peer (transcoding): did not come up" >&2
    fi
    peer_down
  fi
done

python3 - "$work" "$rounds" "$peer_version" "$step_s" "$confirm_s" "$threshold_ms" "$hold_ms" "$rates" "$max_rate" "$media_tests" "$capacity_max" "$max_sessions" "$cpu_rate" "$SUT_CPU" "$DATAPLANE_CPU" "$media_calls" "$media_ports" "$bypass_capacity" <<'PY'
import json, os, statistics, sys
work, rounds, peer_version, step_s, confirm_s, threshold_ms, hold_ms, rates, max_rate, media_tests, capacity_max, max_sessions, cpu_rate, sut_cpu, dataplane_cpu, media_calls, media_ports, bypass_capacity = sys.argv[1:]
rounds = int(rounds)
cpu_rate = int(cpu_rate)
media_tests = media_tests == "1"
# The highest rate offered: a figure there is the ladder's ceiling, not the target's.
ceiling = max(int(x) for x in rates.split(",")) if rates else int(max_rate)
runs, limits = {}, {}
for sut in ("msgw", "peer"):
    for mode in ("nomedia", "media"):
        for k in range(1, rounds + 1):
            name = "%s-%s-r%d" % (sut, mode, k)
            try:
                r = json.load(open(os.path.join(work, name + ".json")))
            except (OSError, ValueError):
                r = {"error": "no result"}
            runs[name] = r
            if r.get("generator_bound"):
                limits[name] = r.get("generator_limits", [])

def values(sut, mode, get):
    out = []
    for k in range(1, rounds + 1):
        r = runs["%s-%s-r%d" % (sut, mode, k)]
        if "error" in r:
            continue
        v = get(r)
        if v is not None:
            out.append(v)
    return out

def median(v):
    return statistics.median(v) if v else None

def p99(r):
    s = r.get("setup_ms_at_found_rate") or {}
    return s.get("p99") if s.get("n") else None

fig = {}
for sut in ("msgw", "peer"):
    fig[sut + "_cps"] = median(values(sut, "nomedia", lambda r: r["found_rate"]))
    fig[sut + "_cps_media"] = median(values(sut, "media", lambda r: r["found_rate"]))
    fig[sut + "_setup_p99_ms"] = median(values(sut, "nomedia", p99))
    fig[sut + "_setup_p99_ms_media"] = median(values(sut, "media", p99))

def load(name):
    try:
        r = json.load(open(os.path.join(work, name + ".json")))
    except (OSError, ValueError):
        return None
    return None if "error" in r else r

# The figure's key: msgw-bypass's capacity is msgw_concurrent_media_bypass(_ramp).
def fig_key(sut, figure):
    if sut == "msgw-bypass":
        return "msgw_concurrent_media_bypass" + figure[len("_concurrent_media"):]
    return sut + figure

def mtp_found(r, mode):
    for m in r.get("media_throughput", {}).get("modes", []):
        if m["mode"] == mode:
            return m["found_sessions"]
    return None

media_bound = set()
for sut in ("msgw", "peer", "msgw-bypass"):
    cap, ramp, rel, tra = [], [], [], []
    for k in range(1, rounds + 1):
        c = load("%s-capacity-r%d" % (sut, k))
        if c:
            cap.append(c["found_rate"])
            # The ramp's clean level: the most calls with media before its
            # first fault, not held (a round whose confirmations all met a
            # fault confirms 0 but still reached this).
            if c.get("steps") and c["steps"][0].get("capacity"):
                ramp.append(c["steps"][0]["capacity"]["clean_level"])
                if c["steps"][0].get("generator_limits"):
                    media_bound.add(fig_key(sut, "_concurrent_media_ramp"))
            if c.get("generator_bound"):
                media_bound.add(fig_key(sut, "_concurrent_media"))
        for t in (load("%s-mtp-r%d" % (sut, k)), load("%s-mtpx-r%d" % (sut, k))):
            if not t:
                continue
            for mode, lst in (("relayed", rel), ("transcoded", tra)):
                v = mtp_found(t, mode)
                if v is not None:
                    lst.append(2 * v if mode == "relayed" else v)
            for m in t.get("media_throughput", {}).get("modes", []):
                if m.get("generator_bound_at_found"):
                    media_bound.add(sut + ("_relayed_streams" if m["mode"] == "relayed" else "_transcoded_sessions"))
    fig[fig_key(sut, "_concurrent_media")] = median(cap)
    fig[fig_key(sut, "_concurrent_media_ramp")] = median(ramp)
    if sut == "msgw-bypass":
        continue
    fig[sut + "_relayed_streams"] = median(rel)
    fig[sut + "_transcoded_sessions"] = median(tra)

def ratio(a, b):
    return round(a / b, 2) if a is not None and b else None

# The SUT core's CPU per completed call at --cpu-rate: the one step of each
# round's fixed-rate run. A run with failures still counts (per completed
# call) but is noted, as is other (niced) work on the core or a generator limit.
sut_cpu_per_round, sut_cpu_notes, cpu_runs = {"msgw": [], "peer": []}, [], {}
# And the setup p99 of those runs: both SUTs at one rate, well under either's
# capacity (the p99 at each one's found rate compares queues at different rates).
setup_p99_at_cpu_rate = {"msgw": [], "peer": []}
for sut in ("msgw", "peer"):
    for k in range(1, rounds + 1):
        name = "%s-cpu-r%d" % (sut, k)
        r = load(name)
        if r is None or not r.get("steps"):
            sut_cpu_per_round[sut].append(None)
            if os.path.exists(os.path.join(work, name + ".json")):
                sut_cpu_notes.append("%s: no figure (the run could not be done)" % name)
            continue
        s = r["steps"][-1]
        us = s.get("sut_cpu_us_per_call")
        sut_cpu_per_round[sut].append(round(us, 1) if us is not None else None)
        setup_p99 = s["setup_ms"]["p99"] if s.get("setup_ms", {}).get("n") else None
        setup_p99_at_cpu_rate[sut].append(setup_p99)
        cpu_runs[name] = {"rate": s["rate"], "passed": s["passed"], "verdict": s["verdict"],
                          "completed": s["uac"]["successful"], "failed": s["uac"]["failed"],
                          "sut_cpu_us_per_call": us, "sut_cpu_busy_percent": s.get("sut_cpu_busy_percent"),
                          "sut_cpu_niced_percent": s.get("sut_cpu_niced_percent"), "setup_p99_ms": setup_p99}
        if not s["passed"]:
            sut_cpu_notes.append("%s: %s at %d calls/s (the figure is per completed call)" % (name, s["verdict"], s["rate"]))
        if (s.get("sut_cpu_niced_percent") or 0) > 5:
            sut_cpu_notes.append("%s: niced work (not counted) %.0f %% of core %s: the SUT shared its core"
                                 % (name, s["sut_cpu_niced_percent"], sut_cpu))
        if r.get("generator_bound"):
            sut_cpu_notes.append("%s: generator-bound: %s" % (name, "; ".join(r.get("generator_limits", []))))
for sut in ("msgw", "peer"):
    fig[sut + "_setup_p99_ms_at_cpu_rate"] = median([v for v in setup_p99_at_cpu_rate[sut] if v is not None])
    fig[sut + "_sut_cpu_us_per_call"] = median([v for v in sut_cpu_per_round[sut] if v is not None])
    if fig[sut + "_sut_cpu_us_per_call"] is not None:
        fig[sut + "_sut_cpu_us_per_call"] = round(fig[sut + "_sut_cpu_us_per_call"], 1)

not_measured = {}
if not media_tests:
    for k in ("concurrent_media", "concurrent_media_ramp", "relayed_streams", "transcoded_sessions"):
        not_measured[k] = "--no-media-tests"
if not media_tests or bypass_capacity != "1":
    for k in ("msgw_concurrent_media_bypass", "msgw_concurrent_media_bypass_ramp"):
        not_measured[k] = "--no-media-tests" if not media_tests else "--no-bypass-capacity"
if media_calls != "1":
    for k in ("cps_media", "setup_p99_ms_media"):
        not_measured[k] = "--no-media-calls"
# Figures where the tool itself was the limit in at least one round.
which = {"nomedia": ["_cps", "_setup_p99_ms"], "media": ["_cps_media", "_setup_p99_ms_media"]}
bound = sorted({name.split("-")[0] + key for name in limits for key in which[name.split("-")[1]]} | media_bound)

at_ceiling = sorted("%s_cps%s" % (sut, "_media" if mode == "media" else "")
                    for sut in ("msgw", "peer") for mode in ("nomedia", "media")
                    if ceiling in values(sut, mode, lambda r: r["found_rate"]))
# The capacity and media-throughput figures at the most the tool was told to try.
for sut in ("msgw", "peer"):
    for k, top in (("_concurrent_media", int(capacity_max)), ("_relayed_streams", 2 * int(max_sessions)),
                   ("_transcoded_sessions", int(max_sessions))):
        if fig.get(sut + k) is not None and fig[sut + k] >= top:
            at_ceiling.append(sut + k)
if fig.get("msgw_concurrent_media_bypass") is not None and fig["msgw_concurrent_media_bypass"] >= int(capacity_max):
    at_ceiling.append("msgw_concurrent_media_bypass")
at_ceiling.sort()

def cell(v, unit="", key=None):
    if v is None:
        return "-"
    return (">= " if key in at_ceiling else "") + ("%g" % v) + unit

rows = [
    ("calls/s zero-fail, no media (flow per call)", "_cps", ""),
    ("calls/s zero-fail, media through (RTP both ways)", "_cps_media", ""),
    ("setup p99 at that rate, no media", "_setup_p99_ms", " ms"),
    ("setup p99 at that rate, media", "_setup_p99_ms_media", " ms"),
]
print("%-50s %14s %14s %12s" % ("median of %d round(s)" % rounds, "msgw", "peer", "msgw/peer"))
for label, key, unit in rows:
    m, p = fig["msgw" + key], fig["peer" + key]
    if key.endswith("_media") and media_calls != "1":
        print("%-50s %14s %14s %12s" % (label, "n/a", "n/a", "-"))
        continue
    print("%-50s %14s %14s %12s" % (label, cell(m, unit, "msgw" + key), cell(p, unit, "peer" + key),
                                    cell(ratio(m, p))))
for label, key in (("concurrent calls with media, zero loss", "_concurrent_media"),
                   ("  the ramp's most before its first fault", "_concurrent_media_ramp"),
                   ("relayed streams zero loss (SUT on one core)", "_relayed_streams"),
                   ("transcoded sessions zero loss (one core)", "_transcoded_sessions")):
    m, p = fig["msgw" + key], fig["peer" + key]
    if not media_tests:
        m = p = "n/a"
    print("%-50s %14s %14s %12s" % (label, cell(m, "", "msgw" + key) if m != "n/a" else m,
                                    (cell(p, "", "peer" + key) if p is not None or key != "_transcoded_sessions" else "n/a") if p != "n/a" else p,
                                    cell(ratio(m, p)) if media_tests else "-"))
if media_tests and bypass_capacity == "1":
    for label, k in (("concurrent calls with media, DPDK ports (memif)", "msgw_concurrent_media_bypass"),
                     ("  the ramp's most before its first fault", "msgw_concurrent_media_bypass_ramp")):
        print("%-50s %14s %14s %12s" % (label, cell(fig[k], "", k), "n/a", "-"))
    print("  (memif: msgw's dataplane ports as on a NIC, the tool's DPDK engine; rtpengine has no DPDK port)")
m, p = fig["msgw_sut_cpu_us_per_call"], fig["peer_sut_cpu_us_per_call"]
print("%-50s %14s %14s %12s" % ("SUT core CPU µs per call at %d calls/s" % cpu_rate,  # 10 ms ticks: no decimals
                                cell(m if m is None else round(m), " µs"), cell(p if p is None else round(p), " µs"),
                                cell(ratio(p, m))))
print("  (SUT core CPU: the last column is peer/msgw, > 1 means msgw uses less CPU per call)")
m, p = fig["msgw_setup_p99_ms_at_cpu_rate"], fig["peer_setup_p99_ms_at_cpu_rate"]
print("%-50s %14s %14s %12s" % ("setup p99 at %d calls/s (both)" % cpu_rate, cell(m, " ms"), cell(p, " ms"), cell(ratio(m, p))))
print("peer: %s" % peer_version)
if sut_cpu_notes:
    print("SUT CPU notes: " + "; ".join(sut_cpu_notes))
if at_ceiling:
    print("at the most the tool offered (%d calls/s, %s calls, %s sessions) in a round, a lower bound: %s"
          % (ceiling, capacity_max, max_sessions, ", ".join(at_ceiling)))
if bound:
    print("generator-bound (the tool, not the target, may have been the limit): " + ", ".join(bound))

per_round = {name: {"found_rate": r.get("found_rate"), "confirmed": r.get("confirmed"),
                    "setup_p99_ms": p99(r) if "error" not in r else None,
                    "sut_cpu_us_per_call_at_found": r.get("sut_cpu_us_per_call_at_found"),
                    **({"error": r["error"]} if "error" in r else {})}
             for name, r in runs.items()}
per_round.update(cpu_runs)
out = dict(fig)
out.update({
    "ratio_cps": ratio(fig["msgw_cps"], fig["peer_cps"]),
    "ratio_cps_media": ratio(fig["msgw_cps_media"], fig["peer_cps_media"]),
    "ratio_sut_cpu": ratio(fig["peer_sut_cpu_us_per_call"], fig["msgw_sut_cpu_us_per_call"]),
    "sut_cpu_per_round": sut_cpu_per_round,
    "sut_cpu_notes": sut_cpu_notes,
    "generator_bound": bound,
    "generator_limits": limits,
    "at_ceiling": at_ceiling,
    "not_measured": not_measured,
    "rounds": rounds,
    "per_round": per_round,
    "peer": peer_version,
    "method": {"step_s": int(step_s), "confirm_s": None if rates else int(confirm_s), "threshold_ms": int(threshold_ms),
               "hold_ms": int(hold_ms), "rates": rates or None, "codec_media": "PCMU relayed",
               "cpu_rate": cpu_rate, "sut_cpu": int(sut_cpu), "msgw_dataplane_cpu": int(dataplane_cpu),
               "media_ports": media_ports, "bypass_capacity": bypass_capacity == "1"},
})
print(json.dumps(out))
PY
