// SPDX-License-Identifier: GPL-3.0-or-later
// Admission control on the SIP receive path: what the stack refuses before
// it spends a parse or a transaction on it.
//
//  - Overload shedding.  The transports stamp each datagram with its age
//    (kernel receive timestamp to the moment the stack gets to it).  Past
//    `shed_queue_age_ms` the stack is behind its input by more than a call
//    can afford (phones retransmit INVITEs after T1 = 500 ms, and each
//    retransmission is more work for a stack already behind), so new
//    out-of-dialog INVITEs and REGISTERs get a stateless 503 with
//    Retry-After, built from the pre-scan alone (no oSIP2 parse, no
//    transaction), until the age falls below `resume_queue_age_ms`.  What
//    finishes calls already admitted (ACK, BYE, CANCEL, in-dialog requests,
//    responses, retransmissions of transactions that exist) always passes.
//  - Per-source limits (the idea of Kamailio's pike).  INVITEs and REGISTERs
//    per source address through token buckets; a source over its rate is
//    blocked for `source_block_s` (extended while it keeps exceeding the
//    rate) and every message from it is dropped before parsing.  A bounded
//    table: the least recently seen source is evicted, so a flood from
//    sprayed addresses costs a fixed amount of memory.  Exempt: the
//    addresses in `exempt` (the gateway's trunks and the operator's
//    trusted prefixes).
//
// The mechanisms take the time as an argument (nanoseconds on any
// monotonic clock) so that tests drive them with their own clock.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "msgw/common/sip_admission.hpp"

namespace msgw::sip {

// The admission counters, one list: Stats members and msgw-control's
// /metrics families (msgw_sip_<name>_total) are generated from it.
#define MSGW_SIP_ADMISSION_COUNTERS(X)                                                                        \
  X(shed_invites, "new INVITEs answered 503 with Retry-After unparsed: the receive queue was too old "        \
                  "([sip] overload_queue_age_ms)")                                                            \
  X(shed_registers, "REGISTERs answered 503 with Retry-After unparsed: the receive queue was too old")       \
  X(overload_episodes, "times the receive queue's age passed [sip] overload_queue_age_ms (shedding began)")   \
  X(source_blocks, "sources blocked for exceeding [sip] source_invite_rate or source_register_rate")          \
  X(source_blocked_drops, "SIP messages dropped unparsed because their source address was blocked")          \
  X(source_table_evictions, "sources forgotten from the full per-source table (least recently seen first)")

// An IPv4 or IPv6 address as 16 bytes (IPv4 as ::ffff:a.b.c.d).
using SourceAddr = std::array<uint8_t, 16>;
// `len` leading bits of `addr` (IPv4 prefixes: 96 + their length).
struct SourcePrefix {
  SourceAddr addr{};
  uint8_t len = 128;
  bool contains(const SourceAddr& a) const;
};
SourceAddr source_addr_v4(uint32_t host_order);
// "192.0.2.1", "10.0.0.0/8", "2001:db8::/32"; false when not an address.
bool parse_source_prefix(std::string_view text, SourcePrefix& out);

struct AdmissionConfig {
  uint32_t shed_queue_age_ms = 200;    // 0: never shed
  uint32_t resume_queue_age_ms = 50;   // shedding ends below this age
  uint32_t retry_after_s = 2;          // Retry-After of the 503s
  uint32_t source_invite_rate = 0;     // INVITEs/s per source; 0: no limit
  uint32_t source_register_rate = 0;   // REGISTERs/s per source; 0: no limit
  uint32_t source_burst = 0;           // bucket depth; 0: twice the rate (at least 1)
  uint32_t source_block_s = 30;
  std::size_t source_table_size = 16384;
  std::vector<SourcePrefix> exempt;    // never limited per source
  // Also never limited (the gateway's trunks, whose addresses DNS may
  // change); asked when a source is first seen and before it is blocked.
  std::function<bool(const SourceAddr&)> exempt_source;
};

// A token bucket: `rate` tokens a second up to `burst`; starts full.
class TokenBucket {
 public:
  // Takes one token; false when there is none.
  bool take(int64_t now_ns, double rate, double burst);
  double tokens() const { return tokens_; }

 private:
  double tokens_ = -1;  // < 0: not used yet (full)
  int64_t last_ns_ = 0;
};

// Which messages the per-source limits and shedding count; found from the
// first bytes.  One definition with the dataplane's shedding
// (msgw/common/sip_admission.hpp).
using common::LimitedMethod;
using common::limited_method;

// The per-source table.
class SourceLimiter {
 public:
  enum class Verdict : uint8_t {
    pass,
    drop,           // the source is blocked
    drop_blocked,   // ... and this message blocked it now (log it once)
  };
  explicit SourceLimiter(const AdmissionConfig& cfg) : cfg_(&cfg) {}
  void set_config(const AdmissionConfig& cfg) { cfg_ = &cfg; }
  bool enabled() const { return cfg_->source_invite_rate != 0 || cfg_->source_register_rate != 0; }
  Verdict check(const SourceAddr& src, LimitedMethod m, int64_t now_ns);
  std::size_t size() const { return lru_.size(); }
  uint64_t evictions() const { return evictions_; }
  uint64_t blocks() const { return blocks_; }
  bool blocked(const SourceAddr& src, int64_t now_ns) const;
  void clear() {
    index_.clear();
    lru_.clear();
  }

 private:
  struct Entry {
    SourceAddr addr;
    TokenBucket invite, reg;
    int64_t blocked_until_ns = 0;  // 0: not blocked
  };
  struct Hash {
    std::size_t operator()(const SourceAddr& a) const noexcept;
  };
  bool exempt(const SourceAddr& a) const;

  const AdmissionConfig* cfg_;
  std::list<Entry> lru_;  // most recently seen first
  std::unordered_map<SourceAddr, std::list<Entry>::iterator, Hash> index_;
  uint64_t evictions_ = 0, blocks_ = 0;
};

// Queue-age hysteresis: admitting until a message is older than the shed
// age, shedding until one is younger than the resume age.
enum class OverloadState : uint8_t { admitting, shedding };
class OverloadGate {
 public:
  explicit OverloadGate(const AdmissionConfig& cfg) : cfg_(&cfg) {}
  void set_config(const AdmissionConfig& cfg) { cfg_ = &cfg; }
  // One message's age (microseconds; < 0: unknown, e.g. TCP), seen at now_ns.
  // Returns the state the message is judged in.
  OverloadState observe(int64_t age_us, int64_t now_ns);
  // Called after a pass that found the receive queues empty: no datagram
  // was met for the resume age, so none waiting is that old (the next one
  // will be young).  Ends shedding without waiting for a message, which
  // may never come: while msgw-dataplane sheds for the stack, a flood of
  // new INVITEs does not reach it at all.
  OverloadState idle(int64_t now_ns);
  // Off while something upstream holds the rate of new requests (msgw-
  // dataplane's workers, at the rate msgw-control's controller sets, which
  // keeps the queue near its resume age): then each message is judged by
  // its own age against the shed age, with no band where what upstream
  // let in is shed as well.  On by default.
  void set_hysteresis(bool on) { hysteresis_ = on; }
  bool hysteresis() const { return hysteresis_; }
  OverloadState state() const { return state_; }
  uint64_t episodes() const { return episodes_; }
  // Largest age over the last complete second (and the one running).
  int64_t recent_max_age_us() const { return std::max(prev_max_us_, cur_max_us_); }

 private:
  const AdmissionConfig* cfg_;
  OverloadState state_ = OverloadState::admitting;
  bool hysteresis_ = true;
  uint64_t episodes_ = 0;
  int64_t window_start_ns_ = 0, cur_max_us_ = 0, prev_max_us_ = 0;
  int64_t last_seen_ns_ = 0;  // the last message with a known age
};

}  // namespace msgw::sip
