// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer: arbitrary SIP datagrams from the sip_out ring through worker
// 0's SipEgress (sip_divert.hpp), with neighbours learned and time passing
// in between so that the ARP hold, its retries and its expiry run too.
// Every frame built is checked: lengths agree, the source is the port's,
// both checksums verify (the tests' own checksum code).
// Input: records [op:1] ...:
//   op % 4 == 0  a datagram: [sel:1][remote_ip:4][local_port:2]
//                [remote_port:2][length:2][data: length bytes, or what is
//                left, at most kSipDatagramMax]; sel bit 0 the port whose
//                address is the source, bit 1 a raw source address
//                [local_ip:4] before remote_ip
//   op % 4 == 1  the main lcore learns a neighbour: [port:1][ip:4]
//   op % 4 == 2  time passes: [ms:2]
//   op % 4 == 3  worker 0 polls
// Ports: 10.0.0.1/24 (no gateway), 192.168.1.1/24 (gateway 192.168.1.254).
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "msgw/common/byte_order.hpp"
#include "msgw/common/inet_checksum.hpp"
#include "msgw/dataplane/client.hpp"
#include "msgw/dataplane/sip_divert.hpp"

#include "eal_in_memory.hpp"

using namespace msgw::dataplane;
using msgw::common::load_be16;
using msgw::common::load_be32;

namespace {

struct World {
  rte_mempool* pool = nullptr;
  std::optional<Segment> seg;
  rte_ring* resolve = nullptr;
  PortInfo ports[2];
  WorkerContext ctx;
  BurstOutput out;
  std::optional<SipEgress> egress;
  uint64_t now_ns = 1'000'000'000;
  unsigned tables = 0;
};

World* world = nullptr;

bool setup() {
  if (!msgw::testing::init_eal_in_memory("msgwfze", 128)) return false;
  world = new World;
  World& w = *world;
  w.pool = rte_pktmbuf_pool_create("fze_pool", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  std::string err;
  w.seg = Segment::create("fuzz-egress-" + std::to_string(getpid()), 4, 2, 1, err);
  if (!w.seg || w.pool == nullptr) return false;
  w.seg->unlink();
  w.resolve = rte_ring_create_elem("fze_res", 8, 64, SOCKET_ID_ANY, RING_F_SC_DEQ);
  if (w.resolve == nullptr) return false;
  w.ports[0].mac = {{2, 0, 0, 0, 0, 0x0a}};
  w.ports[0].ip = 0x0a000001;
  w.ports[0].netmask = 0xffffff00;
  w.ports[1].mac = {{2, 0, 0, 0, 0, 0x0b}};
  w.ports[1].ip = 0xc0a80101;
  w.ports[1].netmask = 0xffffff00;
  w.ports[1].next_hop = 0xc0a801fe;
  w.ctx.n_ports = 2;
  w.ctx.ports = w.ports;
  w.ctx.resolve = w.resolve;
  w.ctx.sip = &*w.seg;
  w.egress.emplace();
  return true;
}

void check_frame(const rte_mbuf* m, uint16_t port) {
  const auto* f = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t len = m->data_len;
  if (m->nb_segs != 1 || len < 14 + 20 + 8 + 1 || len > 14 + 20 + 8 + kSipDatagramMax) __builtin_trap();
  if (std::memcmp(f + 6, world->ports[port].mac.addr_bytes, 6) != 0) __builtin_trap();
  const uint8_t* ip = f + 14;
  if (ip[0] != 0x45 || load_be16(ip + 2) != len - 14 || ip[9] != 17 ||
      load_be32(ip + 12) != world->ports[port].ip || (load_be16(ip + 6) & 0x3fff) != 0)
    __builtin_trap();
  if (msgw::common::inet_checksum(ip, 20) != 0) __builtin_trap();
  const uint8_t* udp = ip + 20;
  const uint32_t ulen = load_be16(udp + 4);
  if (ulen != len - 34 || load_be16(udp) == 0 || load_be16(udp + 2) == 0 || load_be16(udp + 6) == 0)
    __builtin_trap();
  if (msgw::common::inet_checksum(udp, ulen, msgw::common::inet_sum(ip + 12, 8, 17 + ulen)) != 0)
    __builtin_trap();
}

void poll_once(NeighbourTable& nt) {
  World& w = *world;
  w.ctx.neighbours = &nt;
  w.out.clear();
  w.egress->poll(w.ctx, *w.seg, w.pool, w.now_ns, w.out);
  for (uint16_t p = 0; p < kMaxPorts; ++p) {
    for (uint16_t i = 0; i < w.out.n_tx[p]; ++i) {
      if (p >= 2) __builtin_trap();
      check_frame(w.out.tx[p][i], p);
    }
    rte_pktmbuf_free_bulk(w.out.tx[p], w.out.n_tx[p]);
  }
  uint64_t key;
  while (rte_ring_sc_dequeue_elem(w.resolve, &key, sizeof key) == 0) {
    if ((key >> 32) >= 2) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!setup()) __builtin_trap();
  std::atexit([] {
    delete world;
    world = nullptr;
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = *world;
  // A fresh neighbour table per input: what is unknown stays unknown.
  NeighbourTable nt("fze_nt" + std::to_string(++w.tables), 16, SOCKET_ID_ANY);
  if (!nt.ok()) __builtin_trap();
  nt.learn(0, 0x0a000010, rte_ether_addr{{2, 0, 0, 0, 0, 0x10}});
  nt.learn(1, 0xc0a801fe, rte_ether_addr{{2, 0, 0, 0, 0, 0xfe}});
  w.ctx.neighbours = &nt;
  size_t off = 0;
  while (off < size) {
    const uint8_t op = data[off++] & 3;
    if (op == 0) {
      if (size - off < 1 + 4 + 2 + 2 + 2) break;
      SipDatagram d{};
      const uint8_t sel = data[off++];
      if (sel & 2) {
        if (size - off < 4 + 4 + 2 + 2 + 2) break;
        d.local_ip = load_be32(data + off);
        off += 4;
      } else {
        d.local_ip = w.ports[sel & 1].ip;
      }
      d.remote_ip = load_be32(data + off);
      d.local_port = load_be16(data + off + 4);
      d.remote_port = load_be16(data + off + 6);
      d.length = load_be16(data + off + 8);
      off += 10;
      size_t take = size - off;
      if (take > d.length) take = d.length;
      if (take > kSipDatagramMax) take = kSipDatagramMax;
      std::memcpy(d.data, data + off, take);
      off += take;
      // Through the ring, as msgw-control sends it (full: worker 0 polls first).
      if (rte_ring_mp_enqueue_elem(w.seg->sip_out_ring(), &d, sizeof d) != 0) {
        poll_once(nt);
        rte_ring_mp_enqueue_elem(w.seg->sip_out_ring(), &d, sizeof d);
      }
    } else if (op == 1) {
      if (size - off < 5) break;
      nt.learn(data[off] & 1, load_be32(data + off + 1),
               rte_ether_addr{{2, 0, 0, 0, data[off + 3], data[off + 4]}});
      off += 5;
    } else if (op == 2) {
      if (size - off < 2) break;
      w.now_ns += uint64_t(load_be16(data + off)) * 1'000'000;
      off += 2;
    } else {
      poll_once(nt);
    }
  }
  // Everything sent or expired before the table goes.
  while (rte_ring_count(w.seg->sip_out_ring()) != 0) poll_once(nt);
  w.now_ns += kSipHoldNs;
  poll_once(nt);
  if (w.egress->pending(*w.seg)) __builtin_trap();  // all held ones expired
  w.ctx.neighbours = nullptr;
  return 0;
}
