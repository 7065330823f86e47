// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer: arbitrary frames through process_burst().  The input is a
// sequence of [flags:1][len:2 big-endian][frame:len] records processed as one
// burst, so state (latching, continuity, DTMF) carries between frames.
// flags: bit 0 the port, bit 1 a chained second segment, bit 2 "make the
// IPv4 header and UDP checksums valid first", so that mutations reach what
// lies behind the checksum checks (latching, the steady relay path,
// transcoding) instead of stopping at them.
// Sessions: flow 0 relays 10.0.0.1:20000 (latching, port 0) <->
// 192.168.1.1:30000 (carrier 192.168.1.20:5000, port 1); flow 1 is owned by
// another worker (hand-off); flow 2 transcodes PCMU <-> G.729.
// SIP: msgw-control is attached as the SIP consumer and listens on
// 10.0.0.1:5060 and on any port address at 5080, so datagrams bound for the
// exception path run through the divert into sip_in (sip_divert.hpp).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <rte_mbuf.h>

#include "msgw/common/byte_order.hpp"
#include "msgw/common/inet_checksum.hpp"
#include "msgw/dataplane/client.hpp"
#include "msgw/dataplane/packet.hpp"

#include "eal_in_memory.hpp"

using namespace msgw::dataplane;
using msgw::common::load_be16;
using msgw::common::store_be16;

namespace {

struct World {
  rte_mempool* pool = nullptr;
  std::optional<Segment> seg;
  std::optional<FlowTable> ft;
  std::optional<FlowCache> cache;
  std::optional<NeighbourTable> nt;
  PortInfo ports[2];
  WorkerContext ctx;
  std::string instance;
};

World* world = nullptr;

bool setup() {
  if (!msgw::testing::init_eal_in_memory("msgwfz", 128)) return false;
  world = new World;
  World& w = *world;
  w.pool = rte_pktmbuf_pool_create("fz_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   SOCKET_ID_ANY);
  std::string err;
  w.instance = "fuzz-" + std::to_string(getpid());
  w.seg = Segment::create(w.instance, 4, 2, 2, err);
  if (!w.seg || w.pool == nullptr) return false;
  w.seg->unlink();  // keep the mapping, leave nothing in /dev/shm
  w.ft.emplace("fz_ft", 4, 2, 2, nullptr, SOCKET_ID_ANY);
  w.nt.emplace("fz_nt", 16, SOCKET_ID_ANY);
  w.ports[0].mac = {{2, 0, 0, 0, 0, 0x0a}};
  w.ports[0].ip = 0x0a000001;
  w.ports[0].netmask = 0xffffff00;
  w.ports[1].mac = {{2, 0, 0, 0, 0, 0x0b}};
  w.ports[1].ip = 0xc0a80101;
  w.ports[1].netmask = 0xffffff00;
  w.ports[1].next_hop = 0xc0a801fe;
  w.nt->learn(0, 0x0a000010, rte_ether_addr{{2, 0, 0, 0, 0, 0x10}});
  w.nt->learn(1, 0xc0a80114, rte_ether_addr{{2, 0, 0, 0, 0, 0x14}});
  w.nt->learn(1, 0xc0a801fe, rte_ether_addr{{2, 0, 0, 0, 0, 0xfe}});
  for (uint32_t f = 0; f < 2; ++f) {
    LegSpec l[2] = {};
    l[0].port = 0;
    l[0].local_ip = 0x0a000001;
    l[0].local_port = uint16_t(20000 + 2 * f);
    l[0].codec = uint8_t(CodecId::Pcmu);
    l[0].dtmf_pt = 101;
    l[0].flags = kLegLatch;
    l[1].port = 1;
    l[1].local_ip = 0xc0a80101;
    l[1].local_port = uint16_t(30000 + 2 * f);
    l[1].remote_ip = 0xc0a80114;
    l[1].remote_port = 5000;
    l[1].codec = uint8_t(CodecId::Pcmu);
    l[1].dtmf_pt = 96;
    if (w.ft->add(f, l) != Status::ok) return false;
  }
  // Flow 2: transcoded PCMU (port 0, 20004) <-> G.729 (port 1, 30004), so
  // the codec engine and our packet building around it are fuzzed too.
  {
    LegSpec l[2] = {};
    l[0].port = 0;
    l[0].local_ip = 0x0a000001;
    l[0].local_port = 20004;
    l[0].remote_ip = 0x0a000010;
    l[0].remote_port = 4000;
    l[0].codec = uint8_t(CodecId::Pcmu);
    l[0].dtmf_pt = 101;
    l[0].flags = kLegLatch;
    l[1].port = 1;
    l[1].local_ip = 0xc0a80101;
    l[1].local_port = 30004;
    l[1].remote_ip = 0xc0a80114;
    l[1].remote_port = 5000;
    l[1].codec = uint8_t(CodecId::G729);
    l[1].payload_type = 18;
    l[1].dtmf_pt = 96;
    if (w.ft->add(2, l) != Status::ok) return false;
  }
  w.ctx.rtcp_interval_ns = 100000000;
  w.ctx.worker_id = 0;
  w.ctx.n_ports = 2;
  w.ctx.ports = w.ports;
  w.ctx.flows = &*w.ft;
  w.cache.emplace(w.ft->leg_capacity(), SOCKET_ID_ANY);
  if (!w.cache->ok()) return false;
  w.ctx.flow_cache = &*w.cache;  // lookups go the worker's way
  w.ctx.neighbours = &*w.nt;
  w.ctx.stats = w.seg->stats();
  w.ctx.events = &*w.seg;
  w.ctx.sip = &*w.seg;
  SegmentHeader* h = w.seg->header();
  h->sip_consumer_pid = uint32_t(getpid());
  h->sip_shed.listen[0] = {0x0a000001, 5060, 0};
  h->sip_shed.listen[1] = {0, 5080, 0};
  __atomic_store_n(&h->sip_shed.n_listen, 2u, __ATOMIC_RELEASE);
  w.ctx.latch_packets = 2;
  w.ctx.tsc_hz = 8000000;
  return true;
}

void drain_events() {
  Event e;
  while (rte_ring_sc_dequeue_elem(world->seg->event_ring(), &e, sizeof e) == 0) {
  }
  // What the divert posted: within bounds, from a listen address.
  SipDatagram d;
  while (rte_ring_sc_dequeue_elem(world->seg->sip_in_ring(), &d, sizeof d) == 0) {
    if (d.length == 0 || d.length > kSipDatagramMax || d.port > 1 ||
        d.local_ip != world->ports[d.port].ip || (d.local_port != 5060 && d.local_port != 5080))
      __builtin_trap();
  }
  world->ctx.sip_posted = 0;
}

// Record flag 4: where the frame has an IPv4 header (untagged or one VLAN
// tag) its checksum is made valid, and where that carries a whole UDP
// header and datagram, the UDP checksum too (never left 0).
void finish_checksums(uint8_t* f, uint32_t len) {
  if (len < 14) return;
  uint32_t l2 = 14;
  uint16_t et = load_be16(f + 12);
  if (et == 0x8100 || et == 0x88a8) {
    if (len < 18) return;
    et = load_be16(f + 16);
    l2 = 18;
  }
  if (et != 0x0800 || len < l2 + 20) return;
  uint8_t* ip = f + l2;
  const uint32_t ihl = 4u * (ip[0] & 0x0f);
  if (ihl < 20 || l2 + ihl > len) return;
  ip[10] = ip[11] = 0;
  const uint16_t ick = msgw::common::inet_checksum(ip, ihl);
  store_be16(ip + 10, ick);
  if (ip[9] != 17 || l2 + ihl + 8 > len) return;
  uint8_t* udp = ip + ihl;
  const uint32_t ulen = load_be16(udp + 4);
  if (ulen < 8 || l2 + ihl + ulen > len) return;
  udp[6] = udp[7] = 0;
  uint16_t ck = msgw::common::inet_checksum(udp, ulen, msgw::common::inet_sum(ip + 12, 8, 17 + ulen));
  if (ck == 0) ck = 0xffff;
  store_be16(udp + 6, ck);
}

// Each frame lives in its own exactly-sized heap buffer attached to the mbuf
// as external memory, so any read past the frame is an ASan report rather
// than a silent read of the rest of a 2 KiB mbuf.
rte_mbuf* frame_mbuf(const uint8_t* data, uint16_t len, bool chained, bool checksums) {
  rte_mbuf* m = rte_pktmbuf_alloc(world->pool);
  if (m == nullptr) return nullptr;
  auto* buf = static_cast<uint8_t*>(std::malloc(len ? len : 1));
  auto* shinfo = static_cast<rte_mbuf_ext_shared_info*>(std::malloc(sizeof(rte_mbuf_ext_shared_info)));
  if (len) std::memcpy(buf, data, len);
  if (checksums) finish_checksums(buf, len);
  shinfo->free_cb = [](void* addr, void* opaque) {
    std::free(addr);
    std::free(opaque);
  };
  shinfo->fcb_opaque = shinfo;
  rte_mbuf_ext_refcnt_set(shinfo, 1);
  rte_pktmbuf_attach_extbuf(m, buf, 0, len ? len : 1, shinfo);
  m->data_off = 0;
  m->data_len = len;
  m->pkt_len = len;
  if (chained) {
    rte_mbuf* tail = rte_pktmbuf_alloc(world->pool);
    if (tail != nullptr) {
      rte_pktmbuf_append(tail, 1);
      rte_pktmbuf_chain(m, tail);
    }
  }
  return m;
}

void free_all(BurstOutput& out) {
  for (uint16_t q = 0; q < kMaxPorts; ++q) {
    rte_pktmbuf_free_bulk(out.tx[q], out.n_tx[q]);
    rte_pktmbuf_free_bulk(out.exception[q], out.n_exception[q]);
  }
}

void run_burst(uint16_t port, rte_mbuf** burst, uint16_t n) {
  static uint64_t tsc = 0, ns = 0;
  tsc += 160000;
  ns += 20000000;
  BurstOutput out;
  out.clear();
  prefetch_flow_slots(world->ctx, port, burst, n);  // reads headers too, as the worker calls it
  process_burst(world->ctx, port, burst, n, false, tsc, ns, out);
  free_all(out);
  // Each owner then processes what was handed to it, as its worker would.
  for (uint16_t q = 0; q < kMaxWorkers; ++q) {
    if (out.n_handoff[q] == 0) continue;
    BurstOutput o2;
    o2.clear();
    world->ctx.worker_id = q;
    process_burst(world->ctx, port, out.handoff[q], out.n_handoff[q], true, tsc, ns, o2);
    world->ctx.worker_id = 0;
    free_all(o2);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!setup()) __builtin_trap();
  // Tear the world down at exit so LeakSanitizer sees the codec engines
  // (owned by the flow table) freed like in the real binary.
  std::atexit([] {
    delete world;
    world = nullptr;
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rte_mbuf* burst[kBurst];
  uint16_t n = 0;
  uint16_t port = 0;
  size_t off = 0;
  while (off + 3 <= size && n < kBurst) {
    const uint16_t p = data[off] & 1;
    const bool chained = (data[off] & 2) != 0;
    const bool checksums = (data[off] & 4) != 0;
    const uint32_t len = load_be16(data + off + 1);
    off += 3;
    const uint16_t take = uint16_t(len <= size - off ? len : size - off);
    rte_mbuf* m = frame_mbuf(data + off, take, chained, checksums);
    off += take;
    if (m == nullptr) break;
    if (n > 0 && p != port) {  // a burst comes from one port
      run_burst(port, burst, n);
      n = 0;
    }
    port = p;
    burst[n++] = m;
  }
  if (n > 0) run_burst(port, burst, n);
  drain_events();
  return 0;
}
