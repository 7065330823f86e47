// SPDX-License-Identifier: GPL-3.0-or-later
// Who may call what, besides the digest check itself (gateway_intake.cpp): the
// algorithms each user is challenged with, the Request-URI hosts that are
// ours, the nonce key's rotation, and the CDR of an INVITE refused before a
// call existed (issue 21).
#include <algorithm>

#include "msgw/common/ascii.hpp"
#include "msgw/common/log.hpp"
#include "msgw/common/wall_clock.hpp"
#include "msgw/control/gateway.hpp"

namespace msgw::control {

using common::wall_s;
using common::wall_ms;

void Gateway::record_refusal(const sip::ServerRequest& req, int status, std::string_view cause) {
  if (!store_ || req.msg.method() != "INVITE") return;
  CallRecord r;
  r.call_id = req.msg.call_id();
  r.from_uri = req.msg.from_uri();
  r.to_uri = req.msg.request_uri();
  r.direction = trunk_by_source(req.source.peer) ? "inbound" : "outbound";
  r.start_ms = r.end_ms = wall_ms();
  r.result_code = status;
  r.end_reason = cause;
  try {
    store_->write_cdr(r);
  } catch (const std::exception& e) {
    MSGW_LOG(error, "CDR not written", {"call", r.call_id}, {"why", e.what()});
  }
}

const std::vector<sip::DigestAlgorithm>& Gateway::algorithms_for(std::string_view user) const {
  auto it = subscriber_algorithms_.find(std::string(user));
  return it == subscriber_algorithms_.end() ? default_algorithms_ : it->second;
}

bool Gateway::is_local_host(std::string_view host) const {
  std::string h = common::ascii_lowered(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  return std::find(local_hosts_.begin(), local_hosts_.end(), h) != local_hosts_.end();
}

nlohmann::json Gateway::rotate_nonce_key() {
  const int64_t grace_until = wall_s() + cfg_.sip.nonce_ttl_s;
  NonceKeys next = nonce_keys_.rotated(grace_until);
  if (store_) store_->put_nonce_keys(next);
  nonce_keys_ = next;
  apply_config();
  MSGW_LOG(info, "nonce key rotated", {"previous_valid_until", std::to_string(grace_until)});
  return {{"previous_key_valid_until", grace_until}, {"grace_s", cfg_.sip.nonce_ttl_s}};
}

}  // namespace msgw::control
