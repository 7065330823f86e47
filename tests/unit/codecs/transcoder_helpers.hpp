// SPDX-License-Identifier: GPL-3.0-or-later
// Helpers for driving a Transcoder in tests: packetise, run, and collect egress packets.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "msgw/codecs/transcoder.hpp"

namespace msgw::codecs::testing {

struct InPkt {
  std::vector<std::uint8_t> payload;
  std::uint8_t pt = 0;
  std::uint16_t seq = 0;
  std::uint32_t ts = 0;
  bool marker = false;
};

struct OutPkt {
  std::vector<std::uint8_t> payload;
  std::uint8_t pt = 0;
  std::uint32_t ts = 0;
  bool marker = false;
  bool event = false;
};

inline std::unique_ptr<Transcoder> make_tc(const TranscoderConfig& cfg) {
  std::string err;
  auto tc = Transcoder::create(cfg, &err);
  EXPECT_TRUE(tc) << err;
  return tc;
}

inline void collect(const std::array<EgressPacket, kMaxEgressPerCall>& buf, std::size_t n, std::vector<OutPkt>& out) {
  for (std::size_t i = 0; i < n; ++i)
    out.push_back({std::vector<std::uint8_t>(buf[i].payload, buf[i].payload + buf[i].length), buf[i].payload_type,
                   buf[i].timestamp, buf[i].marker, buf[i].telephone_event});
}

inline std::vector<OutPkt> run(Transcoder& tc, const std::vector<InPkt>& in) {
  std::vector<OutPkt> out;
  std::array<EgressPacket, kMaxEgressPerCall> buf;
  for (const auto& p : in) collect(buf, tc.process(p.payload, p.pt, p.seq, p.ts, p.marker, buf), out);
  return out;
}

// Cuts an encoded byte stream into RTP packets of `bytes_per_packet`, `samples_per_packet` apart.
inline std::vector<InPkt> packetise(const std::vector<std::uint8_t>& bits, std::size_t bytes_per_packet,
                                    std::uint32_t samples_per_packet, std::uint8_t pt, std::uint16_t seq0 = 1000,
                                    std::uint32_t ts0 = 123456) {
  std::vector<InPkt> v;
  std::uint16_t seq = seq0;
  std::uint32_t ts = ts0;
  for (std::size_t off = 0; off + bytes_per_packet <= bits.size(); off += bytes_per_packet) {
    v.push_back({std::vector<std::uint8_t>(bits.begin() + static_cast<std::ptrdiff_t>(off),
                                           bits.begin() + static_cast<std::ptrdiff_t>(off + bytes_per_packet)),
                 pt, seq, ts, v.empty()});
    ++seq;
    ts += samples_per_packet;
  }
  return v;
}

inline std::vector<std::uint8_t> concat(const std::vector<OutPkt>& pkts, bool events = false) {
  std::vector<std::uint8_t> all;
  for (const auto& p : pkts)
    if (p.event == events) all.insert(all.end(), p.payload.begin(), p.payload.end());
  return all;
}

}  // namespace msgw::codecs::testing
