// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/control/management_service.hpp"

#include "msgw/common/log.hpp"

namespace msgw::control {

bool GatewayService::reload_from_file(std::string* error, nlohmann::json* report) {
  std::vector<config::ConfigChange> changes;
  if (!gw_.reload_from_file(error, &changes)) {
    MSGW_LOG(warn, "reload refused", {"file", gw_.config().file}, {"why", error ? *error : std::string()});
    return false;
  }
  const auto level = log::parse_level(gw_.config().instance.log_level);
  if (level) log::set_level(*level);
  nlohmann::json applied = nlohmann::json::array(), control = nlohmann::json::array(),
                 dataplane = nlohmann::json::array();
  for (const auto& c : changes) {
    const std::string key = c.what == "changed" ? c.key : c.key + " (" + c.what + ")";
    if (c.live) applied.push_back(key);
    if (c.restart_control) control.push_back(key);
    if (c.restart_dataplane) dataplane.push_back(key);
  }
  if (report)
    *report = {{"applied", applied}, {"restart_msgw_control", control}, {"restart_msgw_dataplane", dataplane}};
  MSGW_LOG(info, "reloaded", {"file", gw_.config().file}, {"log_level", gw_.config().instance.log_level},
           {"applied", applied.size()}, {"need_restart", control.size() + dataplane.size()});
  return true;
}

}  // namespace msgw::control
