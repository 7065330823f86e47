// SPDX-License-Identifier: GPL-3.0-or-later
// The management verbs (mgmt/include/msgw/mgmt/verbs.hpp) served by a
// Gateway: msgw-control's mgmt::Server dispatches to one of these.
#pragma once

#include "msgw/control/gateway.hpp"
#include "msgw/mgmt/service.hpp"

namespace msgw::control {

class GatewayService final : public mgmt::Service {
 public:
  explicit GatewayService(Gateway& gateway) : gw_(gateway) {}
  nlohmann::json show_calls() override { return gw_.show_calls(); }
  nlohmann::json show_registrations() override { return gw_.show_registrations(); }
  nlohmann::json show_flows() override { return gw_.show_flows(); }
  nlohmann::json show_stats() override { return gw_.show_stats(); }
  nlohmann::json show_cdrs(int limit, int64_t since_ms) override { return gw_.show_cdrs(limit, since_ms); }
  nlohmann::json rotate_nonce_key() override { return gw_.rotate_nonce_key(); }
  nlohmann::json show_trunks() override { return gw_.show_trunks(); }
  const config::Config& running_config() override { return gw_.config(); }
  bool hangup(const std::string& call) override { return gw_.hangup(call); }
  // A reload also applies the new file's [instance] log_level.
  bool reload_from_file(std::string* error, nlohmann::json* report) override;

 private:
  Gateway& gw_;
};

}  // namespace msgw::control
