// SPDX-License-Identifier: GPL-3.0-or-later
// What the Gateway's request intake (gateway_intake.cpp) and its event side
// (gateway_events.cpp) both need: where a SIP URI sends a request. Private to
// control/src: not a seam.
#pragma once

#include <optional>
#include <string>

#include "msgw/sip/message.hpp"
#include "msgw/sip/transport.hpp"

namespace msgw::control::gateway_detail {

inline std::optional<sip::Endpoint> endpoint_from_uri(const std::string& uri_text) {
  auto u = sip::parse_uri(uri_text);
  if (!u || u->host.empty()) return std::nullopt;
  return sip::Endpoint::from(u->host, u->port ? u->port : 5060);
}

}  // namespace msgw::control::gateway_detail
