// SPDX-License-Identifier: GPL-3.0-or-later
// Gateway RTP port allocation for one side (access or trunk) of the gateway.
//
// Ports come in pairs (even RTP, odd RTCP) from the configured range. A freed
// pair goes to the back of the queue, so it is the last to be handed out
// again: stray packets of an ended call then find no flow instead of landing
// in a new one.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>
#include <algorithm>

namespace msgw::control {

class PortAllocator {
 public:
  // [port_min, port_max]; port_min is rounded up to even.
  PortAllocator(uint16_t port_min, uint16_t port_max);

  std::optional<uint16_t> allocate();   // even RTP port; RTCP is +1
  // Takes a specific pair (restoring calls after a restart). False if taken or out of range.
  bool reserve(uint16_t rtp_port);
  // False (and nothing changes) for a port not allocated: double frees are bugs upstream.
  bool release(uint16_t rtp_port);

  // A reload's new range: pairs in use stay in use (inside the new range
  // they are not handed out again; outside it they leave the pool when
  // released); new allocations come from the new range.
  void set_range(uint16_t port_min, uint16_t port_max);

  size_t capacity() const { return in_use_.size(); }
  size_t in_use() const { return used_; }

 private:
  uint16_t base_;
  std::deque<uint16_t> free_;
  std::vector<bool> in_use_;   // index (port - base_) / 2
  std::vector<bool> queued_;   // the pair is somewhere in free_
  size_t used_ = 0;
  std::vector<uint16_t> outside_;  // in use, outside the range since a reload
};

}  // namespace msgw::control
