#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The network-namespace test rig (no NIC needed):
#
#   msgw-phone                msgw-gw                          msgw-carrier
#   phone0 10.10.0.2/24 ──── gw-access ┐              ┌ gw-trunk ──── carrier0 10.20.0.2/24
#                                      msgw-dataplane (net_af_packet on both)
#                              TAP msgw-access 10.10.0.1   TAP msgw-trunk 10.20.0.1
#
# The dataplane owns gw-access and gw-trunk; the gateway's own addresses
# live on the TAP interfaces its exception path creates, so ARP, ICMP and
# SIP reach the kernel in msgw-gw only through the dataplane.
#
#   rig.sh net-up | net-down      namespaces and veth pairs only
#   rig.sh up [CONFIG]            net-up, hugepages, msgw-dataplane (and msgw-control
#                                 once it is built); returns when the gateway answers
#   rig.sh down                   stops everything, removes the namespaces (safe to
#                                 run after any failure, and more than once)
#   rig.sh status
#   rig.sh memif-eal              (RIG_PORTS=memif) the EAL arguments naming the two
#                                 memif clients for msgw-loadtest --media-dpdk
#   rig.sh xdp-eal                (RIG_PORTS=xdp) the same, two net_af_xdp ports
#
# RIG_PORTS=xdp: the veth rig with the phone's and the carrier's ends of the
# veths (lt-access, lt-trunk) unaddressed in the namespace rig.sh runs in,
# and phone0/carrier0 persistent TAPs as below: msgw-loadtest --media-dpdk on
# net_af_xdp ports there bridges them, and drives any target in msgw-gw (msgw,
# or a peer on the kernel's sockets, scripts/bench-peers.sh) through AF_XDP:
#
#   TAP phone0 10.10.0.2/24 ─ msgw-loadtest ═ AF_XDP lt-access ── gw-access (msgw-gw) ...
#
# RIG_PORTS=memif: the dataplane's access and trunk ports are net_memif
# servers (socket files $run/access.sock and $run/trunk.sock, reachable from
# every namespace) instead of net_af_packet on veths, and there are no veths:
# phone0 and carrier0 are persistent TAPs with the same addresses and routes,
# which msgw-loadtest --media-dpdk attaches to and bridges to its memif
# clients (loadtest/README.md), so the phones and the carrier reach the
# gateway only while the tool runs:
#
#   msgw-phone                                  msgw-gw                         msgw-carrier
#   TAP phone0 10.10.0.2/24 ─ msgw-loadtest ═ memif access ┐  ┌ memif trunk ═ msgw-loadtest ─ TAP carrier0 10.20.0.2/24
#                                              msgw-dataplane (net_memif servers)
#
# `up` then checks the gateway from inside msgw-gw (its TAPs' addresses,
# SIP OPTIONS to 10.10.0.1 from there). The CONFIG's access and trunk device
# lines (net_af_packet0,iface=gw-access / net_af_packet1,iface=gw-trunk) are
# replaced in a copy ($run/gw-memif.toml). Stop the rig (down) before the
# tool exits: DPDK 22.11's memif server must hang up first (packet_rate.hpp);
# the tool waits for that after its report. RIG_MEMIF_RSIZE: log2 of the
# memif ring size (13), buffers of 2,048 bytes (SIP fits one).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MSGW_BUILD:-$root/build}
run=${MSGW_RIG_RUN:-/run/msgw-rig}
config=${2:-$root/config/examples/spa-to-carrier.toml}

ns_phone=msgw-phone ns_gw=msgw-gw ns_carrier=msgw-carrier
ports=${RIG_PORTS:-veth}
memif_rsize=${RIG_MEMIF_RSIZE:-13}
case $ports in veth|memif|xdp) ;; *) echo "rig: RIG_PORTS=$ports: veth, memif or xdp expected" >&2; exit 2 ;; esac

in_ns() { ip netns exec "$@"; }

net_up() {
  net_down quiet
  ip netns add $ns_phone
  ip netns add $ns_gw
  ip netns add $ns_carrier
  if [[ $ports != veth ]]; then
    # Persistent TAPs: addresses and routes set now, carrier up once the
    # tool attaches. Fixed MACs, so a capture reads the same every run.
    in_ns $ns_phone ip tuntap add dev phone0 mode tap
    in_ns $ns_phone ip link set phone0 address 02:00:0a:0a:00:02
    in_ns $ns_carrier ip tuntap add dev carrier0 mode tap
    in_ns $ns_carrier ip link set carrier0 address 02:00:0a:14:00:02
  fi
  if [[ $ports == xdp ]]; then
    # The tool's ends of the veths, unaddressed, in the namespace the tool
    # runs in: its AF_XDP sockets take every frame (loadtest/README.md).
    ip link del lt-access 2>/dev/null || true
    ip link del lt-trunk 2>/dev/null || true
    ip link add lt-access type veth peer name gw-access netns $ns_gw
    ip link add lt-trunk type veth peer name gw-trunk netns $ns_gw
    for dev in lt-access lt-trunk; do
      sysctl -qw net.ipv6.conf.$dev.disable_ipv6=1 net.ipv4.conf.$dev.arp_ignore=8 net.ipv4.conf.$dev.rp_filter=1
      ethtool -K $dev tx off rx off >/dev/null 2>&1 || true
      ip link set $dev up
    done
  elif [[ $ports == veth ]]; then
    ip link add phone0 netns $ns_phone type veth peer name gw-access netns $ns_gw
    ip link add carrier0 netns $ns_carrier type veth peer name gw-trunk netns $ns_gw
  fi
  for ns in $ns_phone $ns_gw $ns_carrier; do in_ns $ns ip link set lo up; done
  in_ns $ns_phone ip addr add 10.10.0.2/24 dev phone0
  in_ns $ns_phone ip link set phone0 up
  in_ns $ns_phone ip route add default via 10.10.0.1
  in_ns $ns_carrier ip addr add 10.20.0.2/24 dev carrier0
  in_ns $ns_carrier ip link set carrier0 up
  in_ns $ns_carrier ip route add default via 10.20.0.1
  if [[ $ports == memif ]]; then
    echo "rig: namespaces $ns_phone $ns_gw $ns_carrier up (memif: TAPs phone0, carrier0)"
    return 0
  fi
  [[ $ports == xdp ]] && echo "rig: TAPs phone0, carrier0; the tool's veth ends lt-access, lt-trunk in this namespace"
  for dev in gw-access gw-trunk; do
    in_ns $ns_gw ip link set $dev up promisc on
    # The gateway's kernel must not take frames from the veths itself: the
    # dataplane reads them (AF_PACKET) and hands SIP to the kernel through the
    # TAP. Without this, the kernel also accepted every datagram arriving on
    # the veth (its address is local on the TAP; weak host model) and answered
    # each request twice: every 100/407 left twice, a trunk's 180 was relayed
    # twice (issue 21, "On the wire"). No ARP replies there, and strict
    # reverse-path filtering drops IPv4 arriving on them (the subnets route
    # via the TAPs); the same settings as tests/integration/dataplane_rig.sh.
    in_ns $ns_gw sysctl -qw net.ipv6.conf.$dev.disable_ipv6=1 \
      net.ipv4.conf.$dev.arp_ignore=8 net.ipv4.conf.$dev.rp_filter=1
  done
  # veth hands the kernel's packets over with checksums left to "offload":
  # the peers must put real checksums on the wire the dataplane reads.
  if [[ $ports == veth ]]; then
    in_ns $ns_phone ethtool -K phone0 tx off >/dev/null 2>&1 || true
    in_ns $ns_carrier ethtool -K carrier0 tx off >/dev/null 2>&1 || true
  fi
  for dev in gw-access gw-trunk; do in_ns $ns_gw ethtool -K $dev tx off rx off >/dev/null 2>&1 || true; done
  echo "rig: namespaces $ns_phone $ns_gw $ns_carrier up"
}

stop_pidfile() {
  local f=$1
  [[ -f $f ]] || return 0
  local pid
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

net_down() {
  stop_pidfile "$run/control.pid"
  stop_pidfile "$run/dataplane.pid"
  for ns in $ns_phone $ns_gw $ns_carrier; do
    if ip netns list | grep -qw "$ns"; then
      # Anything still running in the namespace (SIPp, tshark) goes with it.
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  # RIG_PORTS=xdp: the tool's veth ends go with msgw-gw; a rig left half made may hold one.
  ip link del lt-access 2>/dev/null || true
  ip link del lt-trunk 2>/dev/null || true
  [[ ${1:-} == quiet ]] || echo "rig: down"
}

hugepages() {
  local nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
  if [[ -w $nr ]] && (( $(cat $nr) < 512 )); then echo 512 >$nr 2>/dev/null || true; fi
  mkdir -p /dev/hugepages
  mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
  if mountpoint -q /dev/hugepages && (( $(cat $nr 2>/dev/null || echo 0) > 0 )); then
    echo "rig: hugepages: $(cat $nr) x 2 MiB mounted on /dev/hugepages"
  else
    echo "rig: hugepages unavailable: the dataplane runs with --no-huge"
  fi
}

wait_for() {  # seconds description command...
  local secs=$1 what=$2; shift 2
  for _ in $(seq $((secs * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "rig: timed out after ${secs}s waiting for $what" >&2
  return 1
}

# The CONFIG with its access and trunk ports as memif servers.
memif_config() {
  local out=$run/gw-memif.toml opts="socket-abstract=no,rsize=$memif_rsize"
  sed -e "s|^device = \"net_af_packet0,iface=gw-access[^\"]*\"|device = \"net_memif0,role=server,socket=$run/access.sock,$opts,mac=02:00:0a:0a:00:01\"|" \
      -e "s|^device = \"net_af_packet1,iface=gw-trunk[^\"]*\"|device = \"net_memif1,role=server,socket=$run/trunk.sock,$opts,mac=02:00:0a:14:00:01\"|" \
      "$config" >"$out"
  # net_memif needs the EAL's multi-process files, so the dataplane does not
  # run --in-memory here: without --huge-unlink its hugepage files (memory_mb
  # of them) would outlive it and hold the hugepages until the next run.
  if ! grep -q '^eal_args' "$out"; then sed -i '/^\[dataplane\]/a eal_args = ["--huge-unlink"]' "$out"; fi
  if [[ $(grep -c '^device = "net_memif' "$out") != 2 ]]; then
    echo "rig: $config: no access and trunk device lines to make memif servers of" >&2
    exit 1
  fi
  rm -f "$run/access.sock" "$run/trunk.sock"
  config=$out
}

xdp_eal() {
  echo "--vdev net_af_xdp0,iface=lt-access --vdev net_af_xdp1,iface=lt-trunk"
}

memif_eal() {
  local opts="socket-abstract=no,rsize=$memif_rsize"
  echo "--vdev net_memif0,role=client,socket=$run/access.sock,$opts,mac=02:00:0a:0a:00:03" \
       "--vdev net_memif1,role=client,socket=$run/trunk.sock,$opts,mac=02:00:0a:14:00:03"
}

up() {
  [[ -x $build/dataplane/msgw-dataplane ]] || { echo "rig: $build/dataplane/msgw-dataplane is not built" >&2; exit 1; }
  net_up
  hugepages
  mkdir -p "$run"
  [[ $ports == memif ]] && memif_config
  # ip netns exec (not the in_ns function) so that $! is the daemon itself.
  ip netns exec $ns_gw "$build/dataplane/msgw-dataplane" --config "$config" >"$run/dataplane.log" 2>&1 &
  echo $! >"$run/dataplane.pid"
  # veth: from the phone and carrier sides, through the dataplane. memif:
  # those sides are the tool's (not there yet): the gateway's TAPs from
  # inside msgw-gw, and the memif servers' sockets.
  local from_phone=$ns_phone from_carrier=$ns_carrier options_from=(in_ns $ns_phone sipp)
  if [[ $ports != veth ]]; then
    from_phone=$ns_gw from_carrier=$ns_gw
    options_from=(in_ns $ns_gw sipp -i 10.10.0.1 -p 5070)
  fi
  if [[ $ports == memif ]]; then
    if ! wait_for 30 "the memif sockets $run/access.sock, $run/trunk.sock" \
        test -S "$run/access.sock" -a -S "$run/trunk.sock"; then
      tail -n 30 "$run/dataplane.log" >&2
      exit 1
    fi
  fi
  if ! wait_for 30 "the exception path (ping 10.10.0.1 from $from_phone)" \
      in_ns $from_phone ping -c 1 -W 1 10.10.0.1; then
    tail -n 30 "$run/dataplane.log" >&2
    exit 1
  fi
  wait_for 10 "ping 10.20.0.1 from $from_carrier" in_ns $from_carrier ping -c 1 -W 1 10.20.0.1
  echo "rig: msgw-dataplane up (log $run/dataplane.log); 10.10.0.1 and 10.20.0.1 answer"
  if [[ -x $build/control/msgw-control ]]; then
    ip netns exec $ns_gw "$build/control/msgw-control" --config "$config" >"$run/control.log" 2>&1 &
    echo $! >"$run/control.pid"
    wait_for 20 "SIP OPTIONS 200 from 10.10.0.1" "${options_from[@]}" \
      -sf "$root/tests/integration/sipp/control_options.xml" -m 1 -timeout 2s 10.10.0.1:5060 -nostdin \
      || { tail -n 30 "$run/control.log" >&2; exit 1; }
    echo "rig: msgw-control up (log $run/control.log)"
  else
    echo "rig: msgw-control is not built yet: signalling is not served"
  fi
}

status() {
  for ns in $ns_phone $ns_gw $ns_carrier; do
    ip netns list | grep -qw "$ns" && echo "namespace $ns: present" || echo "namespace $ns: absent"
  done
  for p in dataplane control; do
    if [[ -f $run/$p.pid ]] && kill -0 "$(cat "$run/$p.pid")" 2>/dev/null; then
      echo "msgw-$p: running (pid $(cat "$run/$p.pid"))"
    else
      echo "msgw-$p: not running"
    fi
  done
}

case ${1:-} in
  net-up) net_up ;;
  net-down) net_down ;;
  up) up ;;
  down) net_down ;;
  status) status ;;
  memif-eal) memif_eal ;;
  xdp-eal) xdp_eal ;;
  *) echo "usage: $0 net-up|net-down|up [CONFIG]|down|status|memif-eal|xdp-eal" >&2; exit 2 ;;
esac
