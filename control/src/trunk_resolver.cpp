// RFC 3263 resolution of trunks by name: the cache, its refresh, and the
// RFC 2782 order (trunk_resolver.hpp says what and why).
#include "msgw/control/trunk_resolver.hpp"

#include <algorithm>
#include <limits>

#include "msgw/common/ascii.hpp"
#include "msgw/common/log.hpp"
#include "msgw/config/config.hpp"

namespace msgw::control {

namespace {

constexpr size_t kHostOwnA = std::numeric_limits<size_t>::max();  // on_a for the name itself
constexpr uint16_t kSipPort = 5060;

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

std::vector<SrvRecord> order_srv(std::vector<SrvRecord> records, const RandomDraw& draw) {
  std::stable_sort(records.begin(), records.end(),
                   [](const SrvRecord& a, const SrvRecord& b) { return a.priority < b.priority; });
  std::vector<SrvRecord> out;
  out.reserve(records.size());
  for (size_t i = 0; i < records.size();) {
    size_t j = i;
    while (j < records.size() && records[j].priority == records[i].priority) ++j;
    std::vector<SrvRecord> group(records.begin() + long(i), records.begin() + long(j));
    std::stable_partition(group.begin(), group.end(), [](const SrvRecord& r) { return r.weight == 0; });
    while (!group.empty()) {
      uint32_t sum = 0;
      for (const auto& r : group) sum += r.weight;
      const uint32_t pick = std::min(draw(sum), sum);
      uint32_t running = 0;
      size_t k = 0;
      for (; k < group.size(); ++k) {
        running += group[k].weight;
        if (running >= pick) break;
      }
      if (k == group.size()) k = group.size() - 1;
      out.push_back(std::move(group[k]));
      group.erase(group.begin() + long(k));
    }
    i = j;
  }
  return out;
}

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
  uint64_t generation = 0;
  // The resolution in progress: SRV records waiting for their A records.
  std::vector<SrvRecord> pending;
  size_t pending_a = 0;
  uint32_t pending_ttl = 0;
  bool pending_srv = false;  // the pending records came from SRV (ordered per call)
  bool pending_failed = false;
  std::string pending_error;
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
  e.pending.clear();
  e.pending_a = 0;
  e.pending_srv = false;
  e.pending_failed = false;
  e.pending_error.clear();
  const std::string key = e.key;
  const uint64_t gen = e.generation;
  std::string host = e.name.host;
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (e.name.port) {
    dns_.query_a(host, [this, key, gen](AAnswer a) { on_a(key, gen, kHostOwnA, std::move(a)); });
    return;
  }
  dns_.query_srv(std::string(e.name.tcp ? "_sip._tcp." : "_sip._udp.") + host,
                 [this, key, gen](SrvAnswer a) { on_srv(key, gen, std::move(a)); });
}

void TrunkResolver::on_srv(const std::string& key, uint64_t generation, SrvAnswer answer) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second->generation != generation) return;
  Entry& e = *it->second;
  if (answer.status == DnsStatus::failed) {
    e.pending_failed = true;
    e.pending_error = "SRV: " + answer.error;
    return finish(e);
  }
  // RFC 2782: a single SRV record with target "." says the service is not
  // offered at this domain.
  std::erase_if(answer.records, [](const SrvRecord& r) { return r.target.empty() || r.target == "."; });
  if (answer.status == DnsStatus::no_records || answer.records.empty()) {
    // No SRV: the name's own A records, port 5060 (RFC 3263 §4.2).
    std::string host = e.name.host;
    if (!host.empty() && host.back() == '.') host.pop_back();
    dns_.query_a(host, [this, key, generation](AAnswer a) { on_a(key, generation, kHostOwnA, std::move(a)); });
    return;
  }
  e.pending = std::move(answer.records);
  e.pending_ttl = answer.ttl_s;
  e.pending_a = e.pending.size();
  const size_t n = e.pending.size();
  std::vector<std::string> targets;
  for (const auto& r : e.pending) targets.push_back(r.target);
  for (size_t i = 0; i < n; ++i)
    dns_.query_a(targets[i], [this, key, generation, i](AAnswer a) { on_a(key, generation, i, std::move(a)); });
}

void TrunkResolver::on_a(const std::string& key, uint64_t generation, size_t srv_index, AAnswer answer) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second->generation != generation) return;
  Entry& e = *it->second;
  if (srv_index == kHostOwnA) {
    if (answer.status == DnsStatus::ok && !answer.addresses.empty()) {
      SrvRecord r;
      r.port = e.name.port.value_or(kSipPort);
      r.target = e.name.host;
      r.addresses = std::move(answer.addresses);
      e.pending = {std::move(r)};
      e.pending_ttl = answer.ttl_s;
    } else if (answer.status == DnsStatus::failed) {
      e.pending_failed = true;
      e.pending_error = "A: " + answer.error;
    }
    e.pending_a = 0;
    return finish(e);
  }
  if (srv_index >= e.pending.size() || e.pending_a == 0) return;
  if (answer.status == DnsStatus::ok) {
    e.pending[srv_index].addresses = std::move(answer.addresses);
    e.pending_ttl = std::min(e.pending_ttl, answer.ttl_s);
  } else if (answer.status == DnsStatus::failed) {
    e.pending_failed = true;
    e.pending_error = "A " + e.pending[srv_index].target + ": " + answer.error;
  }
  if (--e.pending_a == 0) {
    e.pending_srv = true;
    finish(e);
  }
}

// One resolution is complete: a usable answer replaces the cached one; a
// failure keeps it; a definite "no such name" drops it.
void TrunkResolver::finish(Entry& e) {
  const auto t = now_();
  e.in_flight = false;
  std::erase_if(e.pending, [](const SrvRecord& r) { return r.addresses.empty(); });
  if (!e.pending.empty()) {
    if (e.outage == Outage::no_answer && e.have_answer)
      MSGW_LOG(info, "trunk name: DNS answers again", {"name", e.name.host});
    e.outage = Outage::none;
    auto ttl = std::clamp<std::chrono::seconds>(std::chrono::seconds(e.pending_ttl), kMinTtl, kMaxTtl);
    const bool changed = !e.have_answer || describe(e.answer) != describe(e.pending);
    e.from_srv = e.pending_srv;
    e.answer = std::move(e.pending);
    e.have_answer = true;
    e.expires = t + ttl;
    e.refresh_at = t + std::chrono::duration_cast<Clock::duration>(ttl * kRefreshAt);
    if (changed)
      MSGW_LOG(info, "trunk name resolved", {"name", e.name.host}, {"addresses", describe(e.answer)},
               {"srv", e.from_srv}, {"ttl_s", int64_t(ttl.count())});
    e.pending.clear();
    return;
  }
  // One warning per outage (the retries would repeat it every kRetry).
  const Outage outage = e.pending_failed ? Outage::no_answer : Outage::no_records;
  const bool first = e.outage != outage;
  e.outage = outage;
  if (e.pending_failed) {
    e.refresh_at = t + kRetry;
    if (first && e.have_answer)
      MSGW_LOG(warn, "trunk name: no DNS answer, keeping the last good one", {"name", e.name.host},
               {"addresses", describe(e.answer)}, {"error", e.pending_error}, {"retry_s", int64_t(kRetry.count())});
    else if (first)
      MSGW_LOG(warn, "trunk name: no DNS answer yet", {"name", e.name.host}, {"error", e.pending_error},
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
