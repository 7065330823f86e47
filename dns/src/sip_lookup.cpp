// SPDX-License-Identifier: GPL-3.0-or-later
// RFC 3263 server location and RFC 2782 SRV order (sip_lookup.hpp says what
// and why).
#include "msgw/dns/sip_lookup.hpp"

#include <algorithm>
#include <memory>

namespace msgw::dns {

namespace {

constexpr uint16_t kSipPort = 5060;

// One lookup in progress, shared by the callbacks of its queries.
struct Lookup {
  DnsQuerier* dns = nullptr;
  SipName name;
  std::function<void(SipLookupResult)> done;
  std::shared_ptr<bool> live = std::make_shared<bool>(true);  // false: the handle is gone
  std::vector<SrvRecord> records;
  size_t waiting = 0;  // SRV targets whose A answer is outstanding
  uint32_t ttl = 0;
  bool failed = false;
  std::string error;
};

void finish(Lookup& l, bool from_srv, const std::string& missing) {
  if (!*l.live) return;
  SipLookupResult r;
  std::erase_if(l.records, [](const SrvRecord& x) { return x.addresses.empty(); });
  r.records = std::move(l.records);
  r.from_srv = from_srv;
  r.ttl_s = l.ttl;
  if (!r.records.empty()) {
    r.status = DnsStatus::ok;
    r.error = l.error;  // a target that failed beside ones that answered
  } else {
    r.status = l.failed ? DnsStatus::failed : DnsStatus::no_records;
    r.error = l.failed ? l.error : missing;
  }
  l.done(std::move(r));
}

void query_own_a(const std::shared_ptr<Lookup>& l, std::string srv_said) {
  if (!*l->live) return;
  const std::string host = query_host(l->name);
  l->dns->query_a(host, [l, host, srv_said](AAnswer a) {
    if (a.status == DnsStatus::ok && !a.addresses.empty()) {
      SrvRecord r;
      r.port = l->name.port.value_or(kSipPort);
      r.target = l->name.host;
      r.addresses = std::move(a.addresses);
      l->records = {std::move(r)};
      l->ttl = a.ttl_s;
    } else if (a.status == DnsStatus::failed) {
      l->failed = true;
      l->error = "A: " + a.error;
    }
    finish(*l, false, srv_said + "no A records for " + host);
  });
}

void on_srv(const std::shared_ptr<Lookup>& l, SrvAnswer answer) {
  if (!*l->live) return;
  if (answer.status == DnsStatus::failed) {
    l->failed = true;
    l->error = "SRV: " + answer.error;
    return finish(*l, true, {});
  }
  // RFC 2782: a single SRV record with target "." says the service is not
  // offered at this domain.
  std::erase_if(answer.records, [](const SrvRecord& r) { return r.target.empty() || r.target == "."; });
  if (answer.status == DnsStatus::no_records || answer.records.empty())
    return query_own_a(l, "no SRV records at " + srv_query_name(l->name) + ", ");
  l->records = std::move(answer.records);
  l->ttl = answer.ttl_s;
  l->waiting = l->records.size();
  std::vector<std::string> targets;
  for (const auto& r : l->records) targets.push_back(r.target);
  for (size_t i = 0; i < targets.size(); ++i)
    l->dns->query_a(targets[i], [l, i](AAnswer a) {
      if (i >= l->records.size() || l->waiting == 0) return;
      if (a.status == DnsStatus::ok) {
        l->records[i].addresses = std::move(a.addresses);
        l->ttl = std::min(l->ttl, a.ttl_s);
      } else if (a.status == DnsStatus::failed) {
        l->failed = true;
        l->error = "A " + l->records[i].target + ": " + a.error;
      }
      if (--l->waiting == 0) finish(*l, true, "SRV " + srv_query_name(l->name) + " names targets without A records");
    });
}

}  // namespace

std::string query_host(const SipName& name) {
  std::string host = name.host;
  if (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

std::string srv_query_name(const SipName& name) {
  return std::string(name.tcp ? "_sip._tcp." : "_sip._udp.") + query_host(name);
}

SipLookupHandle lookup_sip(DnsQuerier& dns, const SipName& name, std::function<void(SipLookupResult)> done) {
  auto l = std::make_shared<Lookup>();
  l->dns = &dns;
  l->name = name;
  l->done = std::move(done);
  SipLookupHandle handle(l->live);
  if (name.port) query_own_a(l, {});
  else dns.query_srv(srv_query_name(name), [l](SrvAnswer a) { on_srv(l, std::move(a)); });
  return handle;
}

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

}  // namespace msgw::dns
