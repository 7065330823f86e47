// SPDX-License-Identifier: GPL-3.0-or-later
// The rig of the process_burst() tests: a worker context with two ports, a
// flow table, a segment and helpers that build frames from the phone and the
// carrier (included by packet_test.cpp and packet_rtcp_test.cpp).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "msgw/dataplane/control_loop.hpp"
#include "msgw/dataplane/packet.hpp"
#include "test_support.hpp"

using namespace msgw::dataplane;
using dptest::Frame;
using dptest::rd16;
using dptest::rd32;

namespace {

constexpr uint32_t kGwA = 0x0a000001;      // 10.0.0.1 access port address
constexpr uint32_t kPhone = 0x0a000010;    // 10.0.0.16
constexpr uint32_t kGwB = 0xc0a80101;      // 192.168.1.1 trunk port address
constexpr uint32_t kCarrier = 0xc0a80114;  // 192.168.1.20
constexpr uint32_t kRouter = 0xc0a801fe;   // trunk next hop
constexpr uint32_t kFar = 0x08080808;      // off-link carrier media

struct Rig {
  std::string instance;
  std::optional<Segment> seg;
  std::optional<FlowTable> ft;
  std::optional<FlowCache> cache;
  std::optional<NeighbourTable> nt;
  PortInfo ports[2];
  WorkerContext ctx;
  BurstOutput out;
  rte_ring* resolve = nullptr;
  uint64_t tsc = 1'000'000;
  uint64_t ns = 1'000'000'000;
  static int& count() {
    static int n = 0;
    return n;
  }
  Rig() {
    const int id = ++count();
    instance = "ut-pkt-" + std::to_string(getpid()) + "-" + std::to_string(id);
    std::string err;
    seg = Segment::create(instance, 16, 2, 2, err);
    ft.emplace("ut_pkt_ft" + std::to_string(id), 16, 2, 1, nullptr, SOCKET_ID_ANY);
    nt.emplace("ut_pkt_nt" + std::to_string(id), 64, SOCKET_ID_ANY);
    resolve = rte_ring_create_elem(("ut_res" + std::to_string(id)).c_str(), 8, 64, SOCKET_ID_ANY,
                                   RING_F_SC_DEQ);
    ports[0].mac = {{0x02, 0, 0, 0, 0, 0x0a}};
    ports[0].ip = kGwA;
    ports[0].netmask = 0xffffff00;
    ports[1].mac = {{0x02, 0, 0, 0, 0, 0x0b}};
    ports[1].ip = kGwB;
    ports[1].netmask = 0xffffff00;
    ports[1].next_hop = kRouter;
    nt->learn(0, kPhone, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x10}});
    nt->learn(1, kCarrier, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x14}});
    nt->learn(1, kRouter, rte_ether_addr{{0x02, 0, 0, 0, 0, 0xfe}});
    ctx.worker_id = 0;
    ctx.n_ports = 2;
    ctx.ports = ports;
    ctx.flows = &*ft;
    cache.emplace(ft->leg_capacity(), SOCKET_ID_ANY);
    ctx.flow_cache = &*cache;  // as a worker has it
    ctx.neighbours = &*nt;
    ctx.stats = seg->stats();
    ctx.events = &*seg;
    ctx.resolve = resolve;
    ctx.latch_packets = 3;
    ctx.tsc_hz = 8'000'000;  // 1000 ticks per RTP tick
  }
  ~Rig() {
    rte_ring_free(resolve);
    shm_unlink(segment_name(instance).c_str());
  }
  // phone leg (latching) on port 0, carrier leg on port 1.
  static void specs(LegSpec l[2], uint32_t flow, uint32_t phone_ip, uint16_t phone_port,
                    uint32_t carrier_ip, uint8_t leg1_pt, bool phone_hold) {
    l[0] = {};
    l[1] = {};
    l[0].port = 0;
    l[0].local_ip = kGwA;
    l[0].local_port = uint16_t(20000 + 2 * flow);
    l[0].remote_ip = phone_ip;
    l[0].remote_port = phone_port;
    l[0].codec = uint8_t(CodecId::Pcmu);
    l[0].payload_type = 0;
    l[0].dtmf_pt = 101;
    l[0].ptime_ms = 20;
    l[0].flags = uint8_t(kLegLatch | (phone_hold ? kLegHold : 0));
    l[1].port = 1;
    l[1].local_ip = kGwB;
    l[1].local_port = uint16_t(30000 + 2 * flow);
    l[1].remote_ip = carrier_ip;
    l[1].remote_port = 5000;
    l[1].codec = uint8_t(CodecId::Pcmu);
    l[1].payload_type = leg1_pt;
    l[1].dtmf_pt = 96;
    l[1].ptime_ms = 20;
  }
  Status add(uint32_t flow, uint32_t phone_ip = 0, uint16_t phone_port = 0,
             uint32_t carrier_ip = kCarrier, uint8_t leg1_pt = 0) {
    LegSpec l[2];
    specs(l, flow, phone_ip, phone_port, carrier_ip, leg1_pt, false);
    return ft->add(flow, l);
  }
  // Phone leg PCMU, carrier leg PCMA (PT 8): a transcoded session, whose
  // RTCP the dataplane terminates and replaces with its own SR per leg.
  Status add_transcoded(uint32_t flow) {
    LegSpec l[2];
    specs(l, flow, kPhone, 4000, kCarrier, 8, false);
    l[1].codec = uint8_t(CodecId::Pcma);
    return ft->add(flow, l);
  }
  // Re-programs flow (as add() built it) with kLegHold on the phone leg or not.
  Status set_phone_hold(uint32_t flow, bool hold) {
    LegSpec l[2];
    specs(l, flow, 0, 0, kCarrier, 0, hold);
    return ft->modify(flow, l);
  }
  // Runs one frame through port rx_port; returns the frame sent (empty if none).
  std::vector<uint8_t> run(uint16_t rx_port, const std::vector<uint8_t>& bytes,
                           uint16_t* tx_port = nullptr, bool handed_off = false) {
    rte_mbuf* m = dptest::mbuf(bytes);
    EXPECT_NE(m, nullptr);
    out.clear();
    tsc += 160'000;  // 20 ms in the test's TSC
    ns += 20'000'000;
    process_burst(ctx, rx_port, &m, 1, handed_off, tsc, ns, out);
    std::vector<uint8_t> r;
    sent.clear();
    for (uint16_t p = 0; p < kMaxPorts; ++p) {
      for (uint16_t i = 0; i < out.n_tx[p]; ++i) {
        r = dptest::data(out.tx[p][i]);
        sent.push_back(r);
        if (tx_port) *tx_port = p;
        rte_pktmbuf_free(out.tx[p][i]);
      }
      for (uint16_t i = 0; i < out.n_exception[p]; ++i) rte_pktmbuf_free(out.exception[p][i]);
    }
    for (uint16_t w = 0; w < kMaxWorkers; ++w)
      for (uint16_t i = 0; i < out.n_handoff[w]; ++i) rte_pktmbuf_free(out.handoff[w][i]);
    return r;
  }
  // Every frame the last run() sent (run() returns only the last one).
  std::vector<std::vector<uint8_t>> sent;
  // The RTCP SR among them (UDP payload from offset 42), or empty.
  std::vector<uint8_t> sender_report() const {
    for (const auto& f : sent)
      if (f.size() >= 42 + 28 && (rd16(f, 36) & 1) != 0 && f[43] == 200) return f;
    return {};
  }
  uint64_t dropped(Drop d) const { return ctx.counters.dropped[size_t(d)]; }
  std::vector<Event> events() {
    std::vector<Event> v;
    Event e;
    while (rte_ring_sc_dequeue_elem(seg->event_ring(), &e, sizeof e) == 0) v.push_back(e);
    return v;
  }
};

inline Frame from_phone(uint32_t flow, uint16_t sport = 4000, uint32_t src = kPhone) {
  Frame f;
  f.src_ip = src;
  f.dst_ip = kGwA;
  f.sport = sport;
  f.dport = uint16_t(20000 + 2 * flow);
  return f;
}

inline Frame from_carrier(uint32_t flow) {
  Frame f;
  f.src_ip = kCarrier;
  f.dst_ip = kGwB;
  f.sport = 5000;
  f.dport = uint16_t(30000 + 2 * flow);
  return f;
}

}  // namespace
