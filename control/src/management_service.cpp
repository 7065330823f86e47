#include "msgw/control/management_service.hpp"

#include "msgw/common/log.hpp"

namespace msgw::control {

bool GatewayService::reload_from_file(std::string* error) {
  if (!gw_.reload_from_file(error)) {
    MSGW_LOG(warn, "reload refused", {"file", gw_.config().file}, {"why", error ? *error : std::string()});
    return false;
  }
  const auto level = log::parse_level(gw_.config().instance.log_level);
  if (level) log::set_level(*level);
  MSGW_LOG(info, "reloaded", {"file", gw_.config().file}, {"log_level", gw_.config().instance.log_level});
  return true;
}

}  // namespace msgw::control
