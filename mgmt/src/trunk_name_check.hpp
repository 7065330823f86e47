// SPDX-License-Identifier: GPL-3.0-or-later
// `msgwctl config check`: do the trunks given by name resolve? A blocking
// lookup with a short timeout (this is a CLI, not the daemon's loop) by the
// rule msgw-control resolves them with (libmsgw_dns's `lookup_sip`, RFC
// 3263): SRV `_sip._udp|_tcp.<name>` and its targets' A records, or the
// name's A records (always so with an explicit port). Against `[sip]
// dns_servers`, else /etc/resolv.conf.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "msgw/config/config.hpp"

namespace msgw::mgmt {

struct NameWarning {
  std::string key;      // "trunk[0].address"
  std::string message;  // what did not resolve and why
};

std::vector<NameWarning> check_trunk_names(const config::Config& cfg,
                                           std::chrono::milliseconds timeout = std::chrono::milliseconds(1500));

}  // namespace msgw::mgmt
