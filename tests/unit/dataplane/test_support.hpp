// SPDX-License-Identifier: GPL-3.0-or-later
// Shared helpers for dataplane tests: one EAL per binary (no hugepages, no
// PCI, in memory), a mempool, and a frame builder with its own checksum code
// so the dataplane's checksums are verified independently.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "msgw/common/byte_order.hpp"
#include "msgw/common/inet_checksum.hpp"

#include "eal_in_memory.hpp"

namespace dptest {

inline rte_mempool* pool() {
  static rte_mempool* p = [] {
    if (!msgw::testing::init_eal_in_memory("msgwut", 256)) return static_cast<rte_mempool*>(nullptr);
    return rte_pktmbuf_pool_create("ut_pool", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   SOCKET_ID_ANY);
  }();
  return p;
}

// The reference checksum, independent of the dataplane's own (SSE) one.
using msgw::common::inet_checksum;
using msgw::common::inet_fold;
using msgw::common::inet_sum;

struct Frame {
  uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
  uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, 0x99};
  int vlan = -1;
  uint32_t src_ip = 0, dst_ip = 0;
  uint16_t sport = 0, dport = 0;
  uint8_t ttl = 60;
  uint16_t frag = 0;  // flags+offset field
  uint8_t proto = 17;
  bool udp_cksum = true;
  std::vector<uint8_t> payload;

  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> f;
    auto put16 = [&f](uint16_t v) { f.push_back(uint8_t(v >> 8)); f.push_back(uint8_t(v)); };
    auto put32 = [&](uint32_t v) { put16(uint16_t(v >> 16)); put16(uint16_t(v)); };
    f.insert(f.end(), dst_mac, dst_mac + 6);
    f.insert(f.end(), src_mac, src_mac + 6);
    if (vlan >= 0) {
      put16(0x8100);
      put16(uint16_t(vlan));
    }
    put16(0x0800);
    const size_t ip = f.size();
    const uint16_t tot = uint16_t(20 + 8 + payload.size());
    f.push_back(0x45); f.push_back(0); put16(tot); put16(0x1234); put16(frag);
    f.push_back(ttl); f.push_back(proto); put16(0); put32(src_ip); put32(dst_ip);
    const uint16_t ick = inet_checksum(&f[ip], 20);
    f[ip + 10] = uint8_t(ick >> 8); f[ip + 11] = uint8_t(ick);
    const size_t udp = f.size();
    put16(sport); put16(dport); put16(uint16_t(8 + payload.size())); put16(0);
    f.insert(f.end(), payload.begin(), payload.end());
    if (udp_cksum) {
      uint32_t s = inet_sum(&f[ip + 12], 8);
      s += 17 + uint32_t(8 + payload.size());
      s = inet_sum(&f[udp], 8 + payload.size(), s);
      uint16_t c = uint16_t(~inet_fold(s));
      if (c == 0) c = 0xffff;
      f[udp + 6] = uint8_t(c >> 8); f[udp + 7] = uint8_t(c);
    }
    return f;
  }
};

inline std::vector<uint8_t> rtp(uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc,
                                size_t body = 160, bool marker = false) {
  std::vector<uint8_t> r = {0x80, uint8_t((marker ? 0x80 : 0) | pt),
                            uint8_t(seq >> 8), uint8_t(seq),
                            uint8_t(ts >> 24), uint8_t(ts >> 16), uint8_t(ts >> 8), uint8_t(ts),
                            uint8_t(ssrc >> 24), uint8_t(ssrc >> 16), uint8_t(ssrc >> 8),
                            uint8_t(ssrc)};
  for (size_t i = 0; i < body; ++i) r.push_back(uint8_t(0xff - (i & 0x7f)));
  return r;
}

inline rte_mbuf* mbuf(const std::vector<uint8_t>& bytes) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool());
  if (m == nullptr) return nullptr;
  char* d = rte_pktmbuf_append(m, uint16_t(bytes.size()));
  if (d == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(d, bytes.data(), bytes.size());
  return m;
}

inline std::vector<uint8_t> data(const rte_mbuf* m) {
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  return std::vector<uint8_t>(p, p + m->data_len);
}

// Network-order fields of a captured frame, at byte offset o.
inline uint16_t rd16(const std::vector<uint8_t>& f, size_t o) { return msgw::common::load_be16(f.data() + o); }
inline uint32_t rd32(const std::vector<uint8_t>& f, size_t o) { return msgw::common::load_be32(f.data() + o); }

// True when the untagged IPv4/UDP frame's checksums verify.
inline bool checksums_ok(const std::vector<uint8_t>& f) {
  if (f.size() < 42) return false;
  if (inet_fold(inet_sum(&f[14], 20)) != 0xffff) return false;
  const size_t ulen = rd16(f, 38);
  if (14 + 20 + ulen > f.size()) return false;
  uint32_t s = inet_sum(&f[26], 8);
  s += 17 + uint32_t(ulen);
  s = inet_sum(&f[34], ulen, s);
  return rd16(f, 40) == 0 || inet_fold(s) == 0xffff;
}

}  // namespace dptest
