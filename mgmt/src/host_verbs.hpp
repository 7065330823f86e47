// SPDX-License-Identifier: GPL-3.0-or-later
// `msgwctl host check` and `host prepare`: run here (no daemon) on the
// config of -c FILE (default /etc/msgw/msgw.toml), against the host under
// --root DIR (default /; tests pass a fixture tree). Exit 0 when nothing
// failed (warnings allowed), 1 otherwise.
#pragma once

#include <iosfwd>

#include <nlohmann/json.hpp>

namespace msgw::mgmt {

int run_host_check(const nlohmann::json& request, bool json, std::ostream& out, std::ostream& err);
int run_host_prepare(const nlohmann::json& request, bool json, std::ostream& out, std::ostream& err);

}  // namespace msgw::mgmt
