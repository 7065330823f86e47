// SPDX-License-Identifier: GPL-3.0-or-later
#include "media_frame.hpp"

#include <algorithm>

#include "msgw/common/byte_order.hpp"

namespace msgw::loadtest {

FrameClass classify_frame(const std::uint8_t* f, std::size_t len, std::uint32_t media_ip, std::uint16_t media_port) {
  FrameClass c;
  constexpr std::size_t kEth = 14;
  if (len < kEth + 20 + 8 || f[12] != 0x08 || f[13] != 0x00) return c;  // not IPv4
  const std::uint8_t* ip = f + kEth;
  const std::size_t ihl = static_cast<std::size_t>(ip[0] & 0x0f) * 4;
  if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 17) return c;  // not IPv4/UDP
  const std::uint16_t frag = common::load_be16(ip + 6);
  if ((frag & 0x3fff) != 0) return c;  // a fragment (MF or an offset): the kernel reassembles
  const std::size_t ip_total = common::load_be16(ip + 2);
  if (ip_total < ihl + 8 || kEth + ip_total > len) return c;
  if (common::load_be32(ip + 16) != media_ip) return c;
  const std::uint8_t* udp = ip + ihl;
  const std::uint16_t dport = common::load_be16(udp + 2);
  const std::size_t udp_len = common::load_be16(udp + 4);
  if (udp_len < 8 || udp_len > ip_total - ihl) return c;
  if (dport == media_port) c.kind = FrameKind::media;
  else if (dport == static_cast<std::uint16_t>(media_port + 1)) c.kind = FrameKind::media_rtcp;
  else return c;
  c.src_ip = common::load_be32(ip + 12);
  c.src_port = common::load_be16(udp);
  c.payload_offset = kEth + ihl + 8;
  c.payload_len = udp_len - 8;
  return c;
}

void MacLearner::on_frame(const std::uint8_t* f, std::size_t len) {
  if (len < 12) return;
  const std::uint8_t* src = f + 6;
  if (src[0] & 1) return;  // a group address is never a source
  if (std::all_of(src, src + 6, [](std::uint8_t b) { return b == 0; })) return;
  if (known_ && std::equal(src, src + 6, mac_.begin())) return;
  if (known_) ++changes_;
  std::copy(src, src + 6, mac_.begin());
  known_ = true;
}

}  // namespace msgw::loadtest
