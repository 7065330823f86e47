# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by the control_* integration tests and scripts/demo.sh: the rig with
# msgw-dataplane and msgw-control, SIPp on both sides, captures, audio checks.
# Source it; set `build` (the meson build dir) first. Needs root.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
sippdir=$root/tests/integration/sipp
audio_check=$build/tests/tools/audio_check
msgwctl=$build/mgmt/msgwctl
work=$(mktemp -d /tmp/msgw-ctl-it.XXXXXX)
capture_pids=()
bg_pids=()
# Envelope correlation of 20 ms energy frames: G.729 keeps the speech
# envelope, not the waveform. Clean tandems give about 0.94; garbled or
# misaligned audio is under 0.5.
audio_threshold=${AUDIO_THRESHOLD:-0.85}

# The benchmarks' load tool asks for 16 MiB socket buffers for its SIPps
# (msgw-loadtest --socket-buffer: a shedding gateway answers a flood in
# bursts); the kernel caps them at net.core.rmem_max / wmem_max, 208 KiB by
# default.  Raised for the run (never lowered), restored by rig_cleanup.
saved_sysctls=()
raise_socket_buffer_limits() {
  local want=${1:-16777216} key cur
  for key in net.core.rmem_max net.core.wmem_max; do
    cur=$(sysctl -n "$key")
    if (( cur < want )); then saved_sysctls+=("$key=$cur"); sysctl -qw "$key=$want"; fi
  done
}

# The benchmarks' gateway config: the dataplane's AF_PACKET rings on the rig's
# veths at 4,096 frames (the PMD's default is 512: 8 ms of one port's RTP at
# 3,000 calls, less than msgw-control, sharing the core, may hold it; the
# kernel drops what overflows before the dataplane can count it). A NIC
# port's ring is its descriptors, sized in the dataplane's config.
bench_port_rings() {
  sed -i -E 's|^device = "(net_af_packet[01],iface=gw-[a-z]+)"|device = "\1,framecnt=4096"|' "$1"
  [[ $(grep -c '^device = "net_af_packet[01],iface=gw-[a-z]*,framecnt=4096"' "$1") == 2 ]] ||
    { echo "bench_port_rings: $1: no access and trunk af_packet devices" >&2; return 1; }
}

rig_cleanup() {
  for kv in "${saved_sysctls[@]}"; do sysctl -qw "$kv" || true; done
  for p in "${capture_pids[@]}" "${bg_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${capture_pids[@]}" "${bg_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  MSGW_BUILD=$build MSGW_RIG_RUN=$work/run "$root/scripts/rig.sh" down >/dev/null 2>&1 || true
  rm -f "/dev/shm/msgw-ctlit"
  if [[ -n ${KEEP_WORK:-} ]]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
}

# The example config with state and socket in the work dir and a private
# dataplane instance; extra TOML lines from stdin are appended.
make_config() {
  sed -e "s|^state_db = .*|state_db = \"$work/state.db\"|" \
      -e "s|^management_socket = .*|management_socket = \"$work/control.sock\"|" \
      -e "s|^name = \"rig\"|name = \"ctlit\"|" \
      "$root/config/examples/spa-to-carrier.toml" >"$work/gw.toml"
  [[ -t 0 ]] || cat >>"$work/gw.toml"
  # Settings outside the last table must go before it: patch keys in place.
  if [[ -n ${MEDIA_TIMEOUT_MS:-} ]]; then
    sed -i "s|^media_timeout_ms = .*|media_timeout_ms = $MEDIA_TIMEOUT_MS|" "$work/gw.toml"
  fi
}

rig_up() {
  MSGW_BUILD=$build MSGW_RIG_RUN=$work/run "$root/scripts/rig.sh" up "$work/gw.toml"
}

ctl() { "$msgwctl" --socket "$work/control.sock" "$@"; }

make_speech() {
  local text="Hello. This is the reference call from the S P A adapter to the carrier. \
One eight hundred, five five five, one two one two. The quick brown fox jumps over the lazy dog."
  espeak-ng -v en-us -s 150 -w "$work/speech.wav" "$text"
  sox "$work/speech.wav" -r 8000 -c 1 -b 16 -e signed "$work/speech.raw"
  pcmu_packets=$("$audio_check" make-pcap "$work/speech.raw" "$work/pcmu.pcap" --codec PCMU/20 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
  g729_packets=$("$audio_check" make-pcap "$work/speech.raw" "$work/g729.pcap" --codec G729/20 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')
  speech_ms=$(( $(stat -c %s "$work/speech.raw") / 16 ))
}

# capture NS IFACE SRC_IP FILE: RTP the gateway sends into that namespace.
capture() {
  ip netns exec "$1" tshark -q -i "$2" -F pcap -w "$4" -f "udp and src host $3 and not port 5060" \
    >"$4.log" 2>&1 &
  capture_pids+=($!)
  for _ in $(seq 50); do [[ -s $4 ]] && break; sleep 0.1; done
}

# capture_sip NS IFACE FILE: SIP (UDP 5060) both ways on that interface.
capture_sip() {
  ip netns exec "$1" tshark -q -i "$2" -F pcap -w "$3" -f "udp port 5060" >"$3.log" 2>&1 &
  capture_pids+=($!)
  for _ in $(seq 50); do [[ -s $3 ]] && break; sleep 0.1; done
}

# responses_once PCAP SRC: every SIP response SRC sent appears once (issue
# 21: each left twice, consecutive IP ids). Prints the responses seen.
responses_once() {
  tshark -r "$1" -Y "sip.Status-Code && ip.src == $2" -T fields -e ip.id -e sip.Call-ID -e sip.CSeq \
    -e sip.Status-Code 2>/dev/null | python3 -c '
import collections, sys
rows = [l.rstrip("\n").split("\t") for l in sys.stdin if l.strip()]
seen = collections.Counter(tuple(r[1:]) for r in rows)
print(" ".join(r[3] for r in rows))
dups = [k for k, n in seen.items() if n > 1]
sys.exit(1 if dups or not rows else 0)'
}

stop_captures() {
  sleep 0.5
  for p in "${capture_pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${capture_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  capture_pids=()
}

# uac_scenario OUT PTS PCAP TALK_MS [PASSWORD [TEMPLATE]]
uac_scenario() {
  local out=$1 pts=$2 pcap=$3 talk=$4 pw=${5:-spa1-secret} tpl=${6:-$sippdir/control_spa_uac.xml}
  local del=""
  [[ " $pts " == *" 18 "* ]] || del="/a=rtpmap:18 /d"
  sed -e "s|@PTS@|$pts|" -e "${del:-s|^\$||}" -e "s|@PCAP@|$pcap|" -e "s|@TALK_MS@|$talk|" \
      -e "s|@WAIT_MS@|${WAIT_MS:-30000}|" -e "s|@PASSWORD@|$pw|" "$tpl" >"$out"
}

# carrier_uas SCENARIO_TEMPLATE PCAP [IP] — runs in the background, pid in bg_pids.
carrier_uas() {
  local tpl=$1 pcap=$2 ip=${3:-10.20.0.2} name
  name=$(basename "$tpl" .xml)-$ip
  sed -e "s|@PCAP@|$pcap|" -e "s|@TALK_MS@|${TALK_MS:-2000}|" "$tpl" >"$work/$name.xml"
  ip netns exec msgw-carrier sipp -sf "$work/$name.xml" -i "$ip" -p 5060 -mi "$ip" -mp 6000 -m 1 \
    -nostdin -timeout 90s -trace_msg -message_file "$work/$name.msg" -trace_err -error_file "$work/$name.err" \
    -trace_logs -log_file "$work/$name.log" \
    >"$work/$name.out" 2>&1 &
  bg_pids+=($!)
  carrier_pid=$!
  sleep 0.3
}

# phone_uac SCENARIO [extra sipp args...]: runs to completion; returns SIPp's status.
phone_uac() {
  local sf=$1; shift
  local number=${NUMBER:-1-800-555-1212}
  ip netns exec msgw-phone sipp -sf "$sf" -s "$number" -i 10.10.0.2 -p 5062 -mi 10.10.0.2 -mp 16388 \
    -m 1 -nostdin -timeout 90s -auth_uri "$number@10.10.0.1" -trace_msg -trace_logs -log_file "$sf.log" \
    -message_file "$sf.msg" -trace_err -error_file "$sf.err" "$@" 10.10.0.1:5060 >"$sf.out" 2>&1
}

# check_audio NAME CAPTURE CODEC SRC: prints a line, returns non-zero below threshold.
check_audio() {
  local name=$1 cap=$2 codec=$3 src=$4 json
  json=$("$audio_check" from-pcap "$cap" "$work/speech.raw" --codec "$codec" --src "$src") || {
    echo "FAIL $name: no $codec RTP from $src in the capture"; return 1; }
  read -r pk lost env wave < <(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["packets"], d["lost"], d["envelope_corr"], d["waveform_corr"])' "$json")
  local verdict=pass
  awk -v e="$env" -v t="$audio_threshold" 'BEGIN{exit !(e >= t)}' || verdict=FAIL
  printf '%-4s %-34s %-6s packets %-5s lost %-3s envelope %-6s (>= %s) waveform %s\n' \
    "$verdict" "$name" "$codec" "$pk" "$lost" "$env" "$audio_threshold" "$wave"
  [[ $verdict == pass ]]
}

fail() { echo "FAIL: $*"; for f in "$work"/run/control.log; do [[ -f $f ]] && tail -n 20 "$f"; done; exit 1; }
