// SPDX-License-Identifier: GPL-3.0-or-later
// Trunks given by name: RFC 3263 resolution of `[[trunk]] address =
// "sip.carrier.example"` into the ordered list of addresses a call tries.
//
// The lookup itself is libmsgw_dns's `lookup_sip` (dns/include/msgw/dns/
// sip_lookup.hpp): SRV `_sip._udp.<name>` (`_sip._tcp` for a TCP trunk) and
// each target's A records, else the name's own A records on port 5060; a
// name with an explicit port: A records only (RFC 3263 §4.2). No NAPTR, no
// AAAA.
//
// The resolver never blocks: queries go through a DnsQuerier (c-ares on the
// daemon's epoll loop, a fake in tests) and complete later. Answers are
// cached for their TTL (the smallest of the answer's records) and refreshed
// before they expire; when a refresh fails because no server answered, the
// last good answer is kept and used (logged), and retried. Each call asks
// for its order afresh: SRV priority, then RFC 2782's weighted random choice
// within a priority, so load spreads as the carrier's weights say.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "msgw/dns/sip_lookup.hpp"

namespace msgw::control {

// The lookup rule, the SRV order and the DNS interface are libmsgw_dns's
// (shared with `msgwctl config check`); the names stay here for callers.
using dns::AAnswer;
using dns::DnsQuerier;
using dns::DnsStatus;
using dns::order_srv;
using dns::RandomDraw;
using dns::SrvAnswer;
using dns::SrvRecord;

// One address a call may try.
struct TrunkAddress {
  uint32_t ip = 0;  // host byte order
  uint16_t port = 0;
  bool operator==(const TrunkAddress&) const = default;
};

class TrunkResolver {
 public:
  using Clock = std::chrono::steady_clock;

  using Name = dns::SipName;

  TrunkResolver(DnsQuerier& dns, std::function<Clock::time_point()> now, RandomDraw draw);
  ~TrunkResolver();
  TrunkResolver(const TrunkResolver&) = delete;
  TrunkResolver& operator=(const TrunkResolver&) = delete;

  // The names to keep resolved (the configuration's trunks by name): new
  // ones are queried at the next tick, ones no longer named are dropped.
  void track(const std::vector<Name>& names);
  // Starts the queries that are due (new names, answers near expiry,
  // retries after a failure).
  void tick();
  // How long until tick() has work, for the event loop; -1: none.
  int next_timeout_ms() const;

  // The addresses to try for a call, in failover order (drawn afresh each
  // time); empty while the name has no answer.
  std::vector<TrunkAddress> targets(const Name& name);
  // Whether `ip` is one of the name's resolved addresses (inbound matching).
  bool has_address(const Name& name, uint32_t ip) const;

  // A refresh starts when this fraction of the TTL has passed.
  static constexpr double kRefreshAt = 0.75;
  // Bounds on the TTL used: a 0 s TTL would re-query every pass.
  static constexpr std::chrono::seconds kMinTtl{1};
  static constexpr std::chrono::seconds kMaxTtl{3600};
  // After a query no server answered: the retry delay.
  static constexpr std::chrono::seconds kRetry{2};
  // After a definite "no such records" (NXDOMAIN, no data): the next try.
  static constexpr std::chrono::seconds kNegativeRetry{30};

 private:
  struct Entry;
  Entry* find(const Name& name);
  const Entry* find(const Name& name) const;
  void start(Entry& e);
  void finish(const std::string& key, uint64_t generation, dns::SipLookupResult result);

  DnsQuerier& dns_;
  std::function<Clock::time_point()> now_;
  RandomDraw draw_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // by key(name)
  uint64_t next_generation_ = 1;
};

}  // namespace msgw::control
