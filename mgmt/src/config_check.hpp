// SPDX-License-Identifier: GPL-3.0-or-later
// `msgwctl config check FILE`: validates a configuration file locally.
#pragma once

#include <iosfwd>

#include <nlohmann/json.hpp>

namespace msgw::mgmt {

int run_config_check(const nlohmann::json& request, bool json, std::ostream& out, std::ostream& err);

}  // namespace msgw::mgmt
