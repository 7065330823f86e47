// SPDX-License-Identifier: GPL-3.0-or-later
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

void PortAllocator::set_range(uint16_t port_min, uint16_t port_max) {
  std::vector<uint16_t> busy = outside_;
  for (size_t i = 0; i < in_use_.size(); ++i)
    if (in_use_[i]) busy.push_back(static_cast<uint16_t>(base_ + 2 * i));
  std::deque<uint16_t> old_free;  // the old order: recently freed pairs stay last
  for (uint16_t p : free_)
    if (!in_use_[(p - base_) / 2]) old_free.push_back(p);
  PortAllocator fresh(port_min, port_max);
  fresh.free_.clear();
  std::fill(fresh.queued_.begin(), fresh.queued_.end(), false);
  auto queue = [&fresh](uint16_t p) {
    if (p < fresh.base_ || (p & 1u)) return;
    const size_t i = (p - fresh.base_) / 2;
    if (i >= fresh.queued_.size() || fresh.queued_[i]) return;
    fresh.queued_[i] = true;
    fresh.free_.push_back(p);
  };
  // New pairs first (they were never used), then the old free ones in their order.
  std::vector<bool> known(65536, false);
  for (uint16_t p : old_free) known[p] = true;
  for (uint16_t p : busy) known[p] = true;
  for (uint32_t p = fresh.base_; p + 1 <= port_max; p += 2)
    if (!known[p]) queue(static_cast<uint16_t>(p));
  for (uint16_t p : old_free) queue(p);
  for (uint16_t p : busy)
    if (!fresh.reserve(p)) {
      fresh.outside_.push_back(p);
      ++fresh.used_;
    }
  *this = std::move(fresh);
}

bool PortAllocator::release(uint16_t rtp_port) {
  if (auto it = std::find(outside_.begin(), outside_.end(), rtp_port); it != outside_.end()) {
    outside_.erase(it);  // out of the range now: it leaves the pool
    --used_;
    return true;
  }
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
