// SPDX-License-Identifier: GPL-3.0-or-later
// RFC 3263 server location for a SIP host name, the one rule msgw-control's
// trunk resolver (control/include/msgw/control/trunk_resolver.hpp) and
// `msgwctl config check` (mgmt/src/trunk_name_check.cpp) both follow:
//
// - a name without a port: SRV `_sip._udp.<name>` (`_sip._tcp` for TCP),
//   then each SRV target's A records; no SRV records (or only the RFC 2782
//   "." target): the name's own A records on port 5060;
// - a name with an explicit port: its A records only (RFC 3263 §4.2).
//
// NAPTR is not queried (the trunk's transport is configured, so NAPTR could
// only confirm it); no AAAA (msgw is IPv4-only). The queries go through a
// DnsQuerier: c-ares (ares_dns.hpp) in the daemon and the CLI, a fake in
// tests. Also here: RFC 2782's order of SRV records.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace msgw::dns {

// One SRV record with the A records of its target (host byte order).
struct SrvRecord {
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
  std::string target;
  std::vector<uint32_t> addresses;
};

// RFC 2782 order: ascending priority; within a priority a weighted random
// draw without replacement (zero weights first in the running sum, so they
// are picked only when the draw is 0 or nothing else is left). `draw(n)`
// returns a uniform integer in [0, n].
using RandomDraw = std::function<uint32_t(uint32_t n)>;
std::vector<SrvRecord> order_srv(std::vector<SrvRecord> records, const RandomDraw& draw);

// What a DNS query gave: records, a definite "no such records" (NXDOMAIN or
// no data), or a failure (timeout, refused, server failure).
enum class DnsStatus : uint8_t { ok, no_records, failed };

struct SrvAnswer {
  DnsStatus status = DnsStatus::failed;
  std::vector<SrvRecord> records;  // addresses empty: filled by A queries
  uint32_t ttl_s = 0;
  std::string error;
};

struct AAnswer {
  DnsStatus status = DnsStatus::failed;
  std::vector<uint32_t> addresses;
  uint32_t ttl_s = 0;
  std::string error;
};

// The DNS transport. Callbacks run later (from the querier's processing),
// never inside the query call.
class DnsQuerier {
 public:
  virtual ~DnsQuerier() = default;
  virtual void query_srv(const std::string& name, std::function<void(SrvAnswer)> done) = 0;
  virtual void query_a(const std::string& name, std::function<void(AAnswer)> done) = 0;
};

// A SIP server given by name.
struct SipName {
  std::string host;                // as configured (a trailing dot is allowed)
  bool tcp = false;                // _sip._tcp instead of _sip._udp
  std::optional<uint16_t> port;    // explicit: A records only
  bool operator==(const SipName&) const = default;
};

// The host without its trailing dot, as queried.
std::string query_host(const SipName& name);
// "_sip._udp.<host>" / "_sip._tcp.<host>".
std::string srv_query_name(const SipName& name);

// One complete lookup.
struct SipLookupResult {
  // ok: `records` holds at least one address (some targets may have failed);
  // no_records: the DNS said there is nothing; failed: a query got no
  // answer and nothing usable was found.
  DnsStatus status = DnsStatus::failed;
  // Records with addresses only, as the server listed them (SRV: to be
  // ordered per use with order_srv; else one record for the name itself).
  std::vector<SrvRecord> records;
  bool from_srv = false;
  uint32_t ttl_s = 0;  // the smallest TTL of the answers used
  std::string error;   // what failed or was missing (logs, warnings)
};

// A lookup in progress. Destroying (or reassigning) the handle stops it: no
// further queries, `done` is not called.
class SipLookupHandle {
 public:
  SipLookupHandle() = default;
  explicit SipLookupHandle(std::shared_ptr<bool> live) : live_(std::move(live)) {}
  SipLookupHandle(SipLookupHandle&&) = default;
  SipLookupHandle& operator=(SipLookupHandle&& o) noexcept {
    stop();
    live_ = std::move(o.live_);
    return *this;
  }
  ~SipLookupHandle() { stop(); }

 private:
  void stop() {
    if (live_) *live_ = false;
  }
  std::shared_ptr<bool> live_;
};

// Runs the lookup; `done` is called once, from the querier's processing,
// while the handle lives.
[[nodiscard]] SipLookupHandle lookup_sip(DnsQuerier& dns, const SipName& name,
                                         std::function<void(SipLookupResult)> done);

}  // namespace msgw::dns
