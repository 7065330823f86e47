// SPDX-License-Identifier: GPL-3.0-or-later
// Trunks by name: the cache of libmsgw_dns's lookups, its refresh and
// outages (trunk_resolver.hpp says what and why).
#include "msgw/control/trunk_resolver.hpp"

#include <algorithm>
#include <limits>

#include "msgw/common/ascii.hpp"
#include "msgw/common/log.hpp"
#include "msgw/config/config.hpp"

namespace msgw::control {

namespace {

std::string key_of(const TrunkResolver::Name& n) {
  std::string host = common::ascii_lowered(n.host);
  if (!host.empty() && host.back() == '.') host.pop_back();
  return (n.tcp ? "tcp:" : "udp:") + host + (n.port ? ":" + std::to_string(*n.port) : "");
}

// The addresses by SRV priority (within one, as the server listed them).
std::string describe(std::vector<SrvRecord> records) {
  std::stable_sort(records.begin(), records.end(),
                   [](const SrvRecord& a, const SrvRecord& b) { return a.priority < b.priority; });
  std::string out;
  for (const auto& r : records)
    for (uint32_t a : r.addresses)
      out += (out.empty() ? "" : ",") + config::format_ipv4(a) + ":" + std::to_string(r.port);
  return out;
}

}  // namespace

namespace {
enum class Outage : uint8_t { none, no_answer, no_records };
}  // namespace

struct TrunkResolver::Entry {
  Name name;
  Outage outage = Outage::none;  // what the last resolution lacked (warned once)
  std::string key;
  // The last good answer: SRV records in the order the server gave them
  // (ordered per call), or one record for the name's own A records.
  std::vector<SrvRecord> answer;
  bool from_srv = false;
  bool have_answer = false;
  Clock::time_point refresh_at{};  // the next query is due then
  Clock::time_point expires{};
  bool in_flight = false;
  uint64_t generation = 0;  // of the lookup in flight
  dns::SipLookupHandle lookup;  // dropping the entry stops its lookup
};

TrunkResolver::TrunkResolver(DnsQuerier& dns, std::function<Clock::time_point()> now, RandomDraw draw)
    : dns_(dns), now_(std::move(now)), draw_(std::move(draw)) {}

TrunkResolver::~TrunkResolver() = default;

TrunkResolver::Entry* TrunkResolver::find(const Name& name) {
  auto it = entries_.find(key_of(name));
  return it == entries_.end() ? nullptr : it->second.get();
}

const TrunkResolver::Entry* TrunkResolver::find(const Name& name) const {
  auto it = entries_.find(key_of(name));
  return it == entries_.end() ? nullptr : it->second.get();
}

void TrunkResolver::track(const std::vector<Name>& names) {
  std::map<std::string, std::unique_ptr<Entry>> kept;
  for (const auto& n : names) {
    const std::string key = key_of(n);
    if (kept.count(key)) continue;
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      kept[key] = std::move(it->second);
      continue;
    }
    auto e = std::make_unique<Entry>();
    e->name = n;
    e->key = key;
    kept[key] = std::move(e);  // refresh_at is the epoch: due at the next tick
  }
  // Dropped entries' answers in flight find no entry and are ignored.
  entries_ = std::move(kept);
}

void TrunkResolver::tick() {
  const auto t = now_();
  for (auto& [key, e] : entries_)
    if (!e->in_flight && e->refresh_at <= t) start(*e);
}

int TrunkResolver::next_timeout_ms() const {
  const auto t = now_();
  long best = -1;
  for (const auto& [key, e] : entries_) {
    if (e->in_flight) continue;
    long ms = std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(e->refresh_at - t).count());
    if (best < 0 || ms < best) best = ms;
  }
  return best > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max() : int(best);
}

void TrunkResolver::start(Entry& e) {
  e.in_flight = true;
  e.generation = next_generation_++;
  e.lookup = dns::lookup_sip(dns_, e.name, [this, key = e.key, gen = e.generation](dns::SipLookupResult r) {
    finish(key, gen, std::move(r));
  });
}

// One resolution is complete: a usable answer replaces the cached one; a
// failure keeps it; a definite "no such name" drops it.
void TrunkResolver::finish(const std::string& key, uint64_t generation, dns::SipLookupResult result) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second->generation != generation) return;
  Entry& e = *it->second;
  const auto t = now_();
  e.in_flight = false;
  if (result.status == DnsStatus::ok) {
    if (e.outage == Outage::no_answer && e.have_answer)
      MSGW_LOG(info, "trunk name: DNS answers again", {"name", e.name.host});
    e.outage = Outage::none;
    auto ttl = std::clamp<std::chrono::seconds>(std::chrono::seconds(result.ttl_s), kMinTtl, kMaxTtl);
    const bool changed = !e.have_answer || describe(e.answer) != describe(result.records);
    e.from_srv = result.from_srv;
    e.answer = std::move(result.records);
    e.have_answer = true;
    e.expires = t + ttl;
    e.refresh_at = t + std::chrono::duration_cast<Clock::duration>(ttl * kRefreshAt);
    if (changed)
      MSGW_LOG(info, "trunk name resolved", {"name", e.name.host}, {"addresses", describe(e.answer)},
               {"srv", e.from_srv}, {"ttl_s", int64_t(ttl.count())});
    return;
  }
  // One warning per outage (the retries would repeat it every kRetry).
  const bool failed = result.status == DnsStatus::failed;
  const Outage outage = failed ? Outage::no_answer : Outage::no_records;
  const bool first = e.outage != outage;
  e.outage = outage;
  if (failed) {
    e.refresh_at = t + kRetry;
    if (first && e.have_answer)
      MSGW_LOG(warn, "trunk name: no DNS answer, keeping the last good one", {"name", e.name.host},
               {"addresses", describe(e.answer)}, {"error", result.error}, {"retry_s", int64_t(kRetry.count())});
    else if (first)
      MSGW_LOG(warn, "trunk name: no DNS answer yet", {"name", e.name.host}, {"error", result.error},
               {"retry_s", int64_t(kRetry.count())});
    return;
  }
  e.refresh_at = t + kNegativeRetry;
  if (first)
    MSGW_LOG(warn, "trunk name has no SRV or A records", {"name", e.name.host},
             {"retry_s", int64_t(kNegativeRetry.count())});
  e.answer.clear();
  e.have_answer = false;
}

std::vector<TrunkAddress> TrunkResolver::targets(const Name& name) {
  std::vector<TrunkAddress> out;
  const Entry* e = find(name);
  if (!e || !e->have_answer) return out;
  auto order = e->from_srv ? order_srv(e->answer, draw_) : e->answer;
  for (const auto& r : order)
    for (uint32_t a : r.addresses) out.push_back({a, r.port});
  return out;
}

bool TrunkResolver::has_address(const Name& name, uint32_t ip) const {
  const Entry* e = find(name);
  if (!e || !e->have_answer) return false;
  for (const auto& r : e->answer)
    if (std::find(r.addresses.begin(), r.addresses.end(), ip) != r.addresses.end()) return true;
  return false;
}

}  // namespace msgw::control
