#include "msgw/control/port_allocator.hpp"

namespace msgw::control {

PortAllocator::PortAllocator(uint16_t port_min, uint16_t port_max)
    : base_(static_cast<uint16_t>(port_min + (port_min & 1u))) {
  for (uint32_t p = base_; p + 1 <= port_max; p += 2) free_.push_back(static_cast<uint16_t>(p));
  in_use_.assign(free_.size(), false);
  queued_.assign(free_.size(), true);
}

std::optional<uint16_t> PortAllocator::allocate() {
  while (!free_.empty()) {
    uint16_t p = free_.front();
    free_.pop_front();
    size_t i = (p - base_) / 2;
    queued_[i] = false;
    if (in_use_[i]) continue;  // taken by reserve() while queued
    in_use_[i] = true;
    ++used_;
    return p;
  }
  return std::nullopt;
}

bool PortAllocator::reserve(uint16_t rtp_port) {
  if (rtp_port < base_ || (rtp_port & 1u)) return false;
  size_t i = (rtp_port - base_) / 2;
  if (i >= in_use_.size() || in_use_[i]) return false;
  in_use_[i] = true;
  ++used_;
  return true;
}

bool PortAllocator::release(uint16_t rtp_port) {
  if (rtp_port < base_ || (rtp_port & 1u)) return false;
  size_t i = (rtp_port - base_) / 2;
  if (i >= in_use_.size() || !in_use_[i]) return false;
  in_use_[i] = false;
  --used_;
  // A pair reserved at restart may still sit in the queue (allocate() skips
  // such entries lazily); enqueue only when it is not there already.
  if (!queued_[i]) {
    queued_[i] = true;
    free_.push_back(rtp_port);
  }
  return true;
}

}  // namespace msgw::control
