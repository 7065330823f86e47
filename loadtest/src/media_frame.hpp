// SPDX-License-Identifier: GPL-3.0-or-later
// What the DPDK media engine (media_dpdk.hpp) decides about each Ethernet
// frame a side's port delivers, without DPDK (unit-tested): RTP to the
// side's media address is the engine's own (counted per stream), RTCP to
// the port above it is dropped (no kernel socket would take it either),
// everything else (ARP, SIP, ICMP, other UDP) is bridged to the side's TAP.
// And which MAC the engine sends its RTP to: the gateway's, learned from the
// source of the frames its port delivers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace msgw::loadtest {

enum class FrameKind : std::uint8_t {
  media,       // IPv4/UDP to the media address and port: RTP for the engine
  media_rtcp,  // IPv4/UDP to the media address, port + 1: the target's RTCP, dropped
  bridge,      // anything else: to the kernel through the TAP
};

struct FrameClass {
  FrameKind kind = FrameKind::bridge;
  // media and media_rtcp: the sender (host order) and the UDP payload.
  std::uint32_t src_ip = 0;
  std::uint16_t src_port = 0;
  std::size_t payload_offset = 0, payload_len = 0;
};

// f: a whole Ethernet frame of len bytes (no VLAN tag: a tagged frame is
// bridged). media_ip, media_port: the side's media address (host order).
// A frame that is not well formed as IPv4/UDP, an IP fragment, or a UDP
// length past the frame's end is bridged: the kernel judges it.
FrameClass classify_frame(const std::uint8_t* f, std::size_t len, std::uint32_t media_ip, std::uint16_t media_port);

using MacAddress = std::array<std::uint8_t, 6>;

// The gateway's MAC on one side: the source of frames from the port. Only
// unicast sources count (a group address is never a source; an all-zero one
// is no station). The newest wins (the gateway replaced); changes are
// counted for the report.
class MacLearner {
 public:
  // f: the frame's first 12 bytes at least (destination, source).
  void on_frame(const std::uint8_t* f, std::size_t len);
  bool known() const { return known_; }
  const MacAddress& mac() const { return mac_; }
  std::uint64_t changes() const { return changes_; }

 private:
  MacAddress mac_{};
  bool known_ = false;
  std::uint64_t changes_ = 0;
};

}  // namespace msgw::loadtest
