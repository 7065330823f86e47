// SPDX-License-Identifier: GPL-3.0-or-later
// The admission mechanisms (admission.hpp): token buckets, the bounded
// per-source table, the queue-age hysteresis.  Pure: time comes in as an
// argument.
#include "msgw/sip/admission.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <string>

namespace msgw::sip {

namespace {
constexpr int64_t kNsPerS = 1'000'000'000;

// The transition table of OverloadGate: the state after a message of this
// age, given the thresholds.
OverloadState next_state(OverloadState s, int64_t age_us, int64_t shed_us, int64_t resume_us) {
  switch (s) {
    case OverloadState::admitting: return age_us >= shed_us ? OverloadState::shedding : s;
    case OverloadState::shedding: return age_us < resume_us ? OverloadState::admitting : s;
  }
  return s;
}
}  // namespace

bool SourcePrefix::contains(const SourceAddr& a) const {
  const unsigned full = len / 8, rest = len % 8;
  if (std::memcmp(a.data(), addr.data(), full) != 0) return false;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF00u >> rest);
  return (a[full] & mask) == (addr[full] & mask);
}

SourceAddr source_addr_v4(uint32_t host_order) {
  SourceAddr a{};
  a[10] = a[11] = 0xFF;
  a[12] = static_cast<uint8_t>(host_order >> 24);
  a[13] = static_cast<uint8_t>(host_order >> 16);
  a[14] = static_cast<uint8_t>(host_order >> 8);
  a[15] = static_cast<uint8_t>(host_order);
  return a;
}

bool parse_source_prefix(std::string_view text, SourcePrefix& out) {
  std::string ip(text.substr(0, text.find('/')));
  int len = -1;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    std::string_view l = text.substr(slash + 1);
    if (l.empty() || l.size() > 3) return false;
    len = 0;
    for (char c : l) {
      if (c < '0' || c > '9') return false;
      len = len * 10 + (c - '0');
    }
  }
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) {
    if (len > 32) return false;
    out.addr = source_addr_v4(ntohl(v4.s_addr));
    out.len = static_cast<uint8_t>(96 + (len < 0 ? 32 : len));
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), &v6) == 1) {
    if (len > 128) return false;
    std::memcpy(out.addr.data(), &v6, 16);
    out.len = static_cast<uint8_t>(len < 0 ? 128 : len);
    return true;
  }
  return false;
}

bool TokenBucket::take(int64_t now_ns, double rate, double burst) {
  if (tokens_ < 0) {
    tokens_ = burst;
  } else if (now_ns > last_ns_) {
    tokens_ = std::min(burst, tokens_ + static_cast<double>(now_ns - last_ns_) * rate / kNsPerS);
  }
  last_ns_ = std::max(last_ns_, now_ns);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

std::size_t SourceLimiter::Hash::operator()(const SourceAddr& a) const noexcept {
  uint64_t hi, lo;
  std::memcpy(&hi, a.data(), 8);
  std::memcpy(&lo, a.data() + 8, 8);
  uint64_t h = (hi * 0x9E3779B97F4A7C15ull) ^ (lo + 0x632BE59BD9B4E019ull + (hi << 6) + (hi >> 2));
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return static_cast<std::size_t>(h ^ (h >> 32));
}

bool SourceLimiter::exempt(const SourceAddr& a) const {
  for (const auto& p : cfg_->exempt)
    if (p.contains(a)) return true;
  return cfg_->exempt_source && cfg_->exempt_source(a);
}

bool SourceLimiter::blocked(const SourceAddr& src, int64_t now_ns) const {
  auto it = index_.find(src);
  return it != index_.end() && it->second->blocked_until_ns > now_ns;
}

SourceLimiter::Verdict SourceLimiter::check(const SourceAddr& src, LimitedMethod m, int64_t now_ns) {
  if (!enabled()) return Verdict::pass;
  auto it = index_.find(src);
  if (it == index_.end()) {
    // Only the methods counted make a source worth remembering: responses,
    // ACKs and BYEs of unknown sources cost no table entry.
    if (m == LimitedMethod::none || exempt(src)) return Verdict::pass;
    if (cfg_->source_table_size == 0) return Verdict::pass;
    while (lru_.size() >= cfg_->source_table_size) {
      index_.erase(lru_.back().addr);
      lru_.pop_back();
      ++evictions_;
    }
    lru_.push_front(Entry{src, {}, {}, 0});
    it = index_.emplace(src, lru_.begin()).first;
  } else if (it->second != lru_.begin()) {
    lru_.splice(lru_.begin(), lru_, it->second);
  }
  Entry& e = *it->second;
  const bool was_blocked = e.blocked_until_ns > now_ns;
  bool over = false;
  if (m != LimitedMethod::none) {
    const uint32_t rate = m == LimitedMethod::invite ? cfg_->source_invite_rate : cfg_->source_register_rate;
    if (rate != 0) {
      const double burst = cfg_->source_burst != 0 ? cfg_->source_burst : std::max(1.0, 2.0 * rate);
      over = !(m == LimitedMethod::invite ? e.invite : e.reg).take(now_ns, rate, burst);
    }
  }
  if (over && !was_blocked && exempt(src)) over = false;  // became exempt since it was first seen
  // Traffic over the limit (re)starts the block: it lifts only after a
  // whole block time within the limit.
  if (over) e.blocked_until_ns = now_ns + static_cast<int64_t>(cfg_->source_block_s) * kNsPerS;
  if (was_blocked) return Verdict::drop;
  if (over) {
    ++blocks_;
    return Verdict::drop_blocked;
  }
  return Verdict::pass;
}

OverloadState OverloadGate::observe(int64_t age_us, int64_t now_ns) {
  if (now_ns - window_start_ns_ >= kNsPerS) {
    prev_max_us_ = now_ns - window_start_ns_ >= 2 * kNsPerS ? 0 : cur_max_us_;
    cur_max_us_ = 0;
    window_start_ns_ = now_ns;
  }
  if (age_us < 0) return state_;
  last_seen_ns_ = now_ns;
  cur_max_us_ = std::max(cur_max_us_, age_us);
  if (cfg_->shed_queue_age_ms == 0) return state_ = OverloadState::admitting;
  const int64_t shed_us = int64_t(cfg_->shed_queue_age_ms) * 1000;
  const int64_t resume_us =
      hysteresis_ ? std::min<int64_t>(int64_t(cfg_->resume_queue_age_ms) * 1000, shed_us) : shed_us;
  const OverloadState next = next_state(state_, age_us, shed_us, resume_us);
  if (next == OverloadState::shedding && state_ == OverloadState::admitting) ++episodes_;
  return state_ = next;
}

OverloadState OverloadGate::idle(int64_t now_ns) {
  if (state_ != OverloadState::shedding) return state_;
  const int64_t resume_ns = int64_t(hysteresis_ ? cfg_->resume_queue_age_ms : cfg_->shed_queue_age_ms) * 1'000'000;
  if (now_ns - last_seen_ns_ >= resume_ns) state_ = OverloadState::admitting;
  return state_;
}

}  // namespace msgw::sip
