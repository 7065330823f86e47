// Trunks given by name: RFC 3263 resolution of `[[trunk]] address =
// "sip.carrier.example"` into the ordered list of addresses a call tries.
//
// For a name without a port: SRV `_sip._udp.<name>` (`_sip._tcp` for a TCP
// trunk), each SRV target's A records; no SRV records: the name's own A
// records on port 5060. A name with an explicit port: A records only (RFC
// 3263 §4.2). NAPTR is not queried: the trunk's transport is configured, so
// NAPTR could only confirm it. A records only, no AAAA: msgw's signalling and
// media are IPv4-only.
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

namespace msgw::control {

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

// One address a call may try.
struct TrunkAddress {
  uint32_t ip = 0;  // host byte order
  uint16_t port = 0;
  bool operator==(const TrunkAddress&) const = default;
};

class TrunkResolver {
 public:
  using Clock = std::chrono::steady_clock;

  struct Name {
    std::string host;                // as configured (a trailing dot is allowed)
    bool tcp = false;                // _sip._tcp instead of _sip._udp
    std::optional<uint16_t> port;    // explicit: A records only
    bool operator==(const Name&) const = default;
  };

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
  void on_srv(const std::string& key, uint64_t generation, SrvAnswer answer);
  void on_a(const std::string& key, uint64_t generation, size_t srv_index, AAnswer answer);
  void finish(Entry& e);

  DnsQuerier& dns_;
  std::function<Clock::time_point()> now_;
  RandomDraw draw_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // by key(name)
  uint64_t next_generation_ = 1;
};

}  // namespace msgw::control
