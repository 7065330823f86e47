// SPDX-License-Identifier: GPL-3.0-or-later
// The Gateway's trunks as routing sees them: which trunk a source address
// is (by literal or by any address its name resolved to), the trunk names
// handed to the resolver, a route's trunk turned into B-leg targets (one per
// resolved address, in RFC 2782 order), and the trunk's challenges to the
// requests a call leaves behind when it ends (BYE, CANCEL).
#include "msgw/common/log.hpp"
#include "msgw/control/gateway.hpp"
#include "msgw/control/offer.hpp"

namespace msgw::control {

using sip::kNoTxn;
using sip::TxnId;

namespace {

// A trunk given by name (not an IPv4 literal): what the resolver resolves.
std::optional<TrunkResolver::Name> trunk_dns_name(const config::TrunkSection& t) {
  if (t.address.host.empty() || config::parse_ipv4(t.address.host)) return std::nullopt;
  TrunkResolver::Name n;
  n.host = t.address.host;
  n.tcp = t.transport == "tcp";
  if (t.address.port_given) n.port = t.address.port;
  return n;
}

}  // namespace

const config::TrunkSection* Gateway::trunk_by_name(const std::string& name) const {
  for (const auto& t : cfg_.trunks)
    if (t.name == name) return &t;
  return nullptr;
}

// Trusted by address, any source port; of several trunks on one address
// (a carrier's registrar and its call servers on other ports), the one whose
// port is the source's is the better match.
const config::TrunkSection* Gateway::trunk_by_source(const sip::Endpoint& src) const {
  const std::string src_ip = src.ip();  // formatted once, not once per trunk
  const auto ip = config::parse_ipv4(src_ip);
  const config::TrunkSection* by_address = nullptr;
  for (const auto& t : cfg_.trunks) {
    if (t.address.host == src_ip) {
      if (t.address.port == src.port()) return &t;
      if (!by_address) by_address = &t;
    } else if (auto name = trunk_dns_name(t); !by_address && name && ip && resolver_ && resolver_->has_address(*name, *ip)) {
      by_address = &t;
    }
  }
  return by_address;
}

void Gateway::set_resolver(TrunkResolver* resolver) {
  resolver_ = resolver;
  // A trunk given by name is pinged and registered at its first target.
  trunks_.set_destination_lookup([this](const config::TrunkSection& t) -> std::optional<sip::Endpoint> {
    auto name = trunk_dns_name(t);
    if (!name || !resolver_) return std::nullopt;
    for (const auto& a : resolver_->targets(*name))
      if (auto dst = sip::Endpoint::from(config::format_ipv4(a.ip), a.port)) return dst;
    return std::nullopt;
  });
  track_trunk_names();
}

void Gateway::track_trunk_names() {
  if (!resolver_) return;
  std::vector<TrunkResolver::Name> names;
  for (const auto& t : cfg_.trunks)
    if (auto n = trunk_dns_name(t)) names.push_back(*n);
  resolver_->track(names);
}

int Gateway::port_index_for_trunk(const config::TrunkSection& t) const {
  for (size_t i = 0; i < cfg_.ports.size(); ++i)
    if (cfg_.ports[i].name == t.port) return int(i);
  for (size_t i = 0; i < cfg_.ports.size(); ++i)
    if (cfg_.ports[i].role == config::PortRole::trunk) return int(i);
  return access_port_;
}

void Gateway::add_trunk_targets(const config::TrunkSection& t, const std::string& number,
                                std::vector<CalleeTarget>& out) {
  std::vector<sip::Endpoint> destinations;
  if (auto name = trunk_dns_name(t)) {
    // RFC 3263: the SRV targets' addresses in priority/weight order, each a
    // failover target of its own; the Request-URI keeps the name.
    for (const auto& a : resolver_ ? resolver_->targets(*name) : std::vector<TrunkAddress>{})
      if (auto dst = sip::Endpoint::from(config::format_ipv4(a.ip), a.port)) destinations.push_back(*dst);
    if (destinations.empty()) {
      ++stats_.trunks_unresolved;
      MSGW_LOG_LIMITED(warn, 1, "trunk skipped: its name has no DNS answer yet", {"trunk", t.name},
                       {"name", t.address.host});
      return;
    }
  } else if (auto dst = sip::Endpoint::from(t.address.host, t.address.port)) {
    destinations.push_back(*dst);
  }
  for (const auto& dst : destinations) {
    CalleeTarget target;
    target.trunk = t.name;
    target.destination = dst;
    target.proto = t.transport == "tcp" ? sip::Proto::Tcp : sip::Proto::Udp;
    target.port = port_index_for_trunk(t);
    target.latch = cfg_.ports[static_cast<std::size_t>(target.port)].role == config::PortRole::access;
    target.request_uri = "sip:" + number + "@" +
                         (trunk_dns_name(t) && !t.address.port_given ? t.address.host : t.address.to_string());
    target.codecs = codec_list(t.codecs);
    target.answer_timeout = std::chrono::milliseconds(t.timeout_ms);
    out.push_back(std::move(target));
  }
}

// A BYE ends its call at once (RFC 3261 §15.1.1: the session ends when the
// BYE is sent), so the trunk's challenge to it reaches no call: it is
// answered here, from the transaction's own state, as a late 2xx to an
// abandoned INVITE is. Answered once with the trunk's credentials, in the
// same dialog (CSeq + 1); challenged again, or not answerable: the BYE ends
// there (logged, counted), and the trunk's side of the dialog ends by its own
// timers.
void Gateway::on_bye_challenge(const ClientTxn& t, sip::MessageRef resp, sip::Dialog* dialog) {
  sip::DigestClient* auth = t.trunk.empty() ? nullptr : trunks_.call_auth(t.trunk);
  const bool answered_before = t.auth == TxnAuth::answered;
  const sip::ChallengeOutcome outcome =
      auth ? auth->take_challenge(resp, answered_before) : sip::ChallengeOutcome::no_usable;
  if (auth && outcome == sip::ChallengeOutcome::answer && !answered_before && dialog) {
    sip::Message bye = dialog->make_request("BYE");  // the stack drops the dialog after this answer
    if (bye) {
      if (auto h = auth->authorization("BYE", bye.request_uri())) bye.add_header(h->name, h->value);
      const TxnId txn = stack_->send_request(std::move(bye), t.peer, t.proto);
      if (txn != kNoTxn) {
        ++stats_.trunk_challenges;
        ClientTxn again = t;
        again.auth = TxnAuth::answered;
        index_.bind_client(txn, std::move(again));
        return;
      }
    }
  }
  ++stats_.trunk_auth_failures;
  MSGW_LOG_LIMITED(warn, 10, "BYE to the trunk not authenticated", {"call", t.call},
                   {"trunk", t.trunk.empty() ? std::string("-") : t.trunk}, {"status", resp.status()},
                   {"why", answered_before ? std::string("challenged again")
                           : auth          ? std::string(sip::to_string(outcome))
                                           : std::string("no credentials configured")});
}

// RFC 3261 §9.2 and §22.1: a CANCEL cannot be resubmitted (it must match the
// INVITE's branch and CSeq number), so it cannot be challenged usefully and
// is never answered with credentials. The attempt it cancelled has already
// ended here (the call moved to the next trunk or ended); a late 2xx to that
// INVITE still gets ACK + BYE, and Timer B ends the INVITE otherwise.
void Gateway::on_cancel_challenge(const ClientTxn& t, sip::MessageRef resp) {
  ++stats_.trunk_auth_failures;
  MSGW_LOG_LIMITED(warn, 10, "CANCEL challenged: not answerable (RFC 3261 section 9.2), the attempt ended locally",
                   {"call", t.call}, {"trunk", t.trunk.empty() ? std::string("-") : t.trunk},
                   {"status", resp.status()});
}

}  // namespace msgw::control
