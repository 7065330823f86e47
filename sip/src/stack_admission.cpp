// SPDX-License-Identifier: GPL-3.0-or-later
// Admission on the receive path (admission.hpp): per-source blocks and
// overload shedding, decided before the oSIP2 parse.  A shed request is
// answered 503 + Retry-After from the pre-scan's raw header lines, with no
// transaction: its retransmissions are shed again (or admitted once the
// queue is young), which costs the same as the first.
#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "msgw/common/log.hpp"
#include "msgw/common/sip_admission.hpp"
#include "msgw/common/text.hpp"
#include "msgw/common/monotonic_clock.hpp"
#include "stack_impl.hpp"

namespace msgw::sip {

namespace {

SourceAddr source_of(const Endpoint& e) {
  SourceAddr a{};
  if (e.addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&e.addr);
    a = source_addr_v4(ntohl(v4->sin_addr.s_addr));
  } else if (e.addr.ss_family == AF_INET6) {
    std::memcpy(a.data(), &reinterpret_cast<const sockaddr_in6*>(&e.addr)->sin6_addr, 16);
  }
  return a;
}

int64_t monotonic_ns() { return int64_t(common::monotonic_ns()); }

}  // namespace

// The server-transaction key (Stack::Impl::server_key) of a request known
// only by its pre-scan: the top Via's branch and sent-by, the method.
// Written to give what oSIP2's Via parser gives for the same text (host
// without IPv6 brackets, the port as written).
std::string scanned_server_key(const ScanResult& scan) {
  if (scan.via_values.empty()) return {};
  std::string_view v = scan.via_values.front();
  // The first value of the first Via line: up to a top-level comma.
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] == ',') {
      v = v.substr(0, i);
      break;
    } else if (v[i] == '"') {
      break;  // quoted parameter: the scanner already split at commas it saw
    }
  // sent-protocol, LWS, sent-by.
  std::size_t p = 0;
  while (p < v.size() && v[p] != ' ' && v[p] != '\t') ++p;
  while (p < v.size() && (v[p] == ' ' || v[p] == '\t')) ++p;
  std::size_t end = v.find(';', p);
  std::string_view sent_by = common::trim_lws(v.substr(p, end == std::string_view::npos ? v.npos : end - p));
  std::string_view host = sent_by, port;
  if (!sent_by.empty() && sent_by.front() == '[') {
    std::size_t rb = sent_by.find(']');
    if (rb == std::string_view::npos) return {};
    host = sent_by.substr(1, rb - 1);
    std::string_view rest = sent_by.substr(rb + 1);
    if (!rest.empty() && rest.front() == ':') port = common::trim_lws(rest.substr(1));
  } else if (std::size_t c = sent_by.find(':'); c != std::string_view::npos) {
    host = common::trim_lws(sent_by.substr(0, c));
    port = common::trim_lws(sent_by.substr(c + 1));
  }
  std::string_view branch;
  while (end != std::string_view::npos) {
    std::size_t next = v.find(';', end + 1);
    std::string_view param = common::trim_lws(v.substr(end + 1, next == v.npos ? v.npos : next - end - 1));
    std::size_t eq = param.find('=');
    if (eq != std::string_view::npos && common::iequals(common::trim_lws(param.substr(0, eq)), "branch"))
      branch = common::trim_lws(param.substr(eq + 1));
    end = next;
  }
  std::string k(branch);
  k += '|';
  k += host;
  k += ':';
  k += port;
  k += '|';
  k += scan.method;
  return k;
}

bool Stack::Impl::admit(const Inbound& in, std::string_view bytes, LimitedMethod lm) {
  const bool by_source = sources.enabled();
  const bool may_shed = lm != LimitedMethod::none && cfg.admission.shed_queue_age_ms != 0;
  if (!by_source && in.queue_age_us < 0 && !may_shed) return true;
  const int64_t now = monotonic_ns();

  if (by_source) {
    switch (sources.check(source_of(in.peer), lm, now)) {
      case SourceLimiter::Verdict::pass: break;
      case SourceLimiter::Verdict::drop_blocked:
        MSGW_LOG_LIMITED(warn, 10, "SIP source blocked: over its request rate", {"peer", in.peer.ip()},
                         {"method", lm == LimitedMethod::invite ? "INVITE" : "REGISTER"},
                         {"invite_rate", cfg.admission.source_invite_rate},
                         {"register_rate", cfg.admission.source_register_rate},
                         {"block_s", cfg.admission.source_block_s});
        [[fallthrough]];
      case SourceLimiter::Verdict::drop:
        ++stats.source_blocked_drops;
        stats.source_blocks = sources.blocks();
        stats.source_table_evictions = sources.evictions();
        return false;
    }
    stats.source_table_evictions = sources.evictions();
  }

  if (in.queue_age_us >= 0) stats.rx_queue_age_last_us = uint64_t(in.queue_age_us);
  const OverloadState st = overload.observe(in.queue_age_us, now);
  stats.overload_episodes = overload.episodes();
  stats.overloaded = st == OverloadState::shedding;
  stats.rx_queue_age_recent_max_us = static_cast<uint64_t>(overload.recent_max_age_us());
  if (st != OverloadState::shedding || lm == LimitedMethod::none) return true;

  // Shedding: only a new request, out of any dialog, that no transaction
  // knows.  Anything the scan refuses takes the ordinary path (its 400).
  ScanResult scan = scan_message(bytes, in.proto == Proto::Tcp, cfg.limits);
  if (scan.verdict != Verdict::Ok || !scan.is_request) return true;
  if (has_tag_param(scan.to)) return true;
  const std::string key = scanned_server_key(scan);
  if (server_index.count(key) != 0 || accepted.count(key) != 0) return true;
  // A request with credentials completes a call whose challenge was
  // already paid for: shed only when the queue is twice as old again
  // (so credentials made up by a flood buy no more than that).
  if (in.queue_age_us < 2 * int64_t(cfg.admission.shed_queue_age_ms) * 1000 &&
      common::carries_credentials(bytes.substr(0, scan.head_len)))
    return true;
  const std::string extra = "Retry-After: " + std::to_string(cfg.admission.retry_after_s) + "\r\n";
  const std::string resp = build_stateless_response(scan, 503, "Overloaded", stateless_to_tag(), extra);
  if (resp.empty()) return true;
  if (lm == LimitedMethod::invite) ++stats.shed_invites;
  else ++stats.shed_registers;
  stats.count_sent(503);
  transmit(in.proto, in.peer, in.socket, resp);
  return false;
}

void Stack::Impl::admission_idle() {
  if (overload.state() != OverloadState::shedding) return;
  stats.overloaded = overload.idle(monotonic_ns()) == OverloadState::shedding;
}

}  // namespace msgw::sip
