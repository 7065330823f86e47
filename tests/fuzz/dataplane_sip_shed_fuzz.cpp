// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer: the worker's SIP shedding (sip_shed.hpp).  The input is one
// UDP payload: first through sip_shed_message() (a 503 is checked for its
// shape and bounds, an ACK carrying that 503's tag must be absorbed), then
// inside an Ethernet/IPv4/UDP frame to a listen address through
// sip_shed_frame() (an answered frame is checked: lengths agree, both
// checksums verify; a passed one is unchanged).
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <rte_mbuf.h>

#include "msgw/common/byte_order.hpp"
#include "msgw/common/inet_checksum.hpp"
#include "msgw/dataplane/sip_shed.hpp"

#include "eal_in_memory.hpp"

using namespace msgw::dataplane;
using msgw::common::load_be16;
using msgw::common::store_be16;
using msgw::common::store_be32;

namespace {

constexpr uint32_t kGw = 0x0a000001, kPhone = 0x0a000010;
constexpr uint64_t kKey = 42;

struct World {
  rte_mempool* pool = nullptr;
  PortInfo port;
  SipShedState state{};
  WorkerContext ctx;
  BurstOutput out;
};
World* world = nullptr;

bool setup() {
  if (!msgw::testing::init_eal_in_memory("msgwfzs", 64)) return false;
  world = new World;
  World& w = *world;
  w.pool = rte_pktmbuf_pool_create("fzs_pool", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (w.pool == nullptr) return false;
  w.port.mac = {{2, 0, 0, 0, 0, 0x0a}};
  w.port.ip = kGw;
  w.state.shed_until_ns = ~0ull;
  w.state.retry_after_s = 4294967295u;  // the longest Retry-After there is
  w.state.n_listen = 1;
  w.state.listen[0] = {0, 5060, 0};
  w.ctx.n_ports = 1;
  w.ctx.ports = &w.port;
  w.ctx.sip_shed = &w.state;
  w.ctx.sip_tag_key = kKey;
  return true;
}

std::vector<uint8_t> frame(const uint8_t* p, size_t n) {
  std::vector<uint8_t> f(14 + 20 + 8 + n, 0);
  f[6] = 2;
  f[11] = 0x10;
  store_be16(&f[12], 0x0800);
  uint8_t* ip = &f[14];
  ip[0] = 0x45;
  store_be16(ip + 2, uint16_t(28 + n));
  ip[8] = 64;
  ip[9] = 17;
  store_be32(ip + 12, kPhone);
  store_be32(ip + 16, kGw);
  const uint16_t ick = msgw::common::inet_checksum(ip, 20);
  store_be16(ip + 10, ick);
  uint8_t* udp = ip + 20;
  store_be16(udp, 5062);
  store_be16(udp + 2, 5060);
  store_be16(udp + 4, uint16_t(8 + n));
  if (n) std::memcpy(udp + 8, p, n);
  uint32_t s = msgw::common::inet_sum(ip + 12, 8);
  s += 17 + uint32_t(8 + n);
  s = msgw::common::inet_sum(udp, 8 + n, s);
  uint16_t c = uint16_t(~msgw::common::inet_fold(s));
  store_be16(udp + 6, c == 0 ? 0xffff : c);
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool ok = setup();
  if (!ok) __builtin_trap();
  World& w = *world;
  if (size > 1472) return 0;
  const std::string_view msg(reinterpret_cast<const char*>(data), size);

  char out[kSipShedMaxResponse];
  uint32_t len = 0;
  const SipShedVerdict v = sip_shed_message(msg, 2, kKey, out, &len);
  if (v == SipShedVerdict::answer) {
    const std::string_view r(out, len);
    if (len > kSipShedMaxResponse || r.substr(0, 32) != "SIP/2.0 503 Service Unavailable\r" ||
        r.substr(r.size() - 4) != "\r\n\r\n")
      __builtin_trap();
    // The tag is found again in the 503's To line.
    if (r.find(";tag=dp") == std::string_view::npos) __builtin_trap();
  }

  std::vector<uint8_t> f = frame(data, size);
  rte_mbuf* m = rte_pktmbuf_alloc(w.pool);
  if (m == nullptr) __builtin_trap();
  std::memcpy(rte_pktmbuf_append(m, uint16_t(f.size())), f.data(), f.size());
  w.out.clear();
  const uint64_t shed = w.ctx.counters.sip_shed, absorbed = w.ctx.counters.sip_shed_acks_absorbed;
  if (!sip_shed_frame(w.ctx, 0, m, 1, w.out)) {
    if (m->data_len != f.size() || std::memcmp(rte_pktmbuf_mtod(m, void*), f.data(), f.size()) != 0)
      __builtin_trap();  // a passed frame must be untouched
    rte_pktmbuf_free(m);
    return 0;
  }
  if (w.out.n_tx[0] == 1) {
    if (w.ctx.counters.sip_shed != shed + 1) __builtin_trap();
    rte_mbuf* o = w.out.tx[0][0];
    const uint8_t* b = rte_pktmbuf_mtod(o, const uint8_t*);
    const uint8_t* ip = b + 14;
    if (load_be16(ip + 2) + 14u != o->data_len || load_be16(ip + 24) + 34u != o->data_len ||
        msgw::common::inet_checksum(ip, 20) != 0)
      __builtin_trap();
    uint32_t s = msgw::common::inet_sum(ip + 12, 8);
    s += 17 + uint32_t(load_be16(ip + 24));
    s = msgw::common::inet_sum(ip + 20, load_be16(ip + 24), s);
    if (uint16_t(~msgw::common::inet_fold(s)) != 0) __builtin_trap();
    rte_pktmbuf_free(o);
  } else if (w.ctx.counters.sip_shed_acks_absorbed != absorbed + 1) {
    __builtin_trap();
  }
  return 0;
}
