// SPDX-License-Identifier: GPL-3.0-or-later
// Toll-fraud guard: counts failed digest authentications per source address.
//
// A subscriber INVITE is never routed unless it authenticates (407 first).
// After `max_failures` failures from one source within `window`, that source
// gets 403 without a challenge until `block` has passed, so scanners cannot
// keep guessing. Memory is bounded: the oldest entries go first.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace msgw::control {

class AuthGuard {
 public:
  using Clock = std::chrono::steady_clock;
  AuthGuard(uint32_t max_failures, std::chrono::seconds window, std::chrono::seconds block,
            size_t max_sources = 65536);

  bool blocked(const std::string& source, Clock::time_point now);
  void failure(const std::string& source, Clock::time_point now);
  void success(const std::string& source, Clock::time_point now);
  size_t tracked() const { return entries_.size(); }
  // A reload: sources already over the new bound are blocked at their next failure.
  void set_max_failures(uint32_t max_failures) { max_failures_ = max_failures; }

 private:
  struct Entry {
    uint32_t failures = 0;
    Clock::time_point first_failure{};
    Clock::time_point blocked_until{};
    std::list<std::string>::iterator age;
  };
  void touch(Entry& e, const std::string& source);

  uint32_t max_failures_;
  std::chrono::seconds window_, block_;
  size_t max_sources_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> lru_;   // front = most recently touched
};

}  // namespace msgw::control
