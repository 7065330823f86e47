// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/control/auth_guard.hpp"

namespace msgw::control {

AuthGuard::AuthGuard(uint32_t max_failures, std::chrono::seconds window,
                     std::chrono::seconds block, size_t max_sources)
    : max_failures_(max_failures), window_(window), block_(block), max_sources_(max_sources) {}

void AuthGuard::touch(Entry& e, const std::string& source) {
  lru_.erase(e.age);
  lru_.push_front(source);
  e.age = lru_.begin();
}

bool AuthGuard::blocked(const std::string& source, Clock::time_point now) {
  auto it = entries_.find(source);
  return it != entries_.end() && now < it->second.blocked_until;
}

void AuthGuard::failure(const std::string& source, Clock::time_point now) {
  auto it = entries_.find(source);
  if (it == entries_.end()) {
    if (entries_.size() >= max_sources_) {
      entries_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(source);
    it = entries_.emplace(source, Entry{}).first;
    it->second.age = lru_.begin();
  } else {
    touch(it->second, source);
  }
  Entry& e = it->second;
  if (e.failures == 0 || now - e.first_failure > window_) {
    e.failures = 0;
    e.first_failure = now;
  }
  if (++e.failures >= max_failures_) e.blocked_until = now + block_;
}

void AuthGuard::success(const std::string& source, Clock::time_point now) {
  auto it = entries_.find(source);
  if (it == entries_.end()) return;
  // A source under a block stays blocked: a correct guess must not lift it.
  if (now < it->second.blocked_until) return;
  lru_.erase(it->second.age);
  entries_.erase(it);
}

}  // namespace msgw::control
