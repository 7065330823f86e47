// SPDX-License-Identifier: GPL-3.0-or-later
// `msgwctl config check`: do the trunks given by name resolve? The lookup is
// libmsgw_dns's (dns/include/msgw/dns/sip_lookup.hpp), the one msgw-control's
// trunk resolver runs, here on c-ares waited for with a deadline per name.
#include "trunk_name_check.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "msgw/dns/ares_dns.hpp"
#include "msgw/dns/sip_lookup.hpp"

namespace msgw::mgmt {

std::vector<NameWarning> check_trunk_names(const config::Config& cfg, std::chrono::milliseconds timeout) {
  std::vector<NameWarning> out;
  std::vector<size_t> named;
  for (size_t i = 0; i < cfg.trunks.size(); ++i)
    if (!config::parse_ipv4(cfg.trunks[i].address.host)) named.push_back(i);
  if (named.empty()) return out;
  auto warn = [&](size_t i, const std::string& m) {
    out.push_back({"trunk[" + std::to_string(i) + "].address", m});
  };
  std::unique_ptr<dns::AresDns> ares;
  try {
    ares = std::make_unique<dns::AresDns>(cfg.sip.dns_servers,
                                          std::chrono::milliseconds(std::max<long>(100, timeout.count() / 2)), 1);
  } catch (const std::exception& e) {
    for (size_t i : named) warn(i, std::string("not checked: ") + e.what());
    return out;
  }
  for (size_t i : named) {
    const auto& t = cfg.trunks[i];
    dns::SipName name;
    name.host = t.address.host;
    name.tcp = t.transport == "tcp";
    if (t.address.port_given) name.port = t.address.port;
    bool done = false;
    dns::SipLookupResult result;
    const dns::SipLookupHandle lookup = dns::lookup_sip(*ares, name, [&](dns::SipLookupResult r) {
      result = std::move(r);
      done = true;
    });
    if (!ares->run_until(done, std::chrono::steady_clock::now() + timeout)) {
      result.status = dns::DnsStatus::failed;
      result.error = "no answer within " + std::to_string(timeout.count()) + " ms";
    }
    if (result.status != dns::DnsStatus::ok)
      warn(i, "'" + t.address.host + "' does not resolve (" + result.error + "); calls skip trunk '" + t.name +
                  "' until it does");
  }
  return out;
}

}  // namespace msgw::mgmt
