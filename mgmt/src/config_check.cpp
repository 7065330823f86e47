// SPDX-License-Identifier: GPL-3.0-or-later
#include "config_check.hpp"

#include <ostream>
#include <string>

#include "msgw/config/config.hpp"
#include "trunk_name_check.hpp"

namespace msgw::mgmt {

int run_config_check(const nlohmann::json& request, bool json, std::ostream& out, std::ostream& err) {
  const std::string file = request.value("file", std::string());
  auto r = msgw::config::load_file(file);
  // Warnings do not fail the check: a name may resolve where the daemon runs.
  const auto warnings = r.ok() ? check_trunk_names(*r.config) : std::vector<NameWarning>{};
  if (json) {
    nlohmann::json o;
    o["file"] = file;
    o["ok"] = r.ok();
    o["errors"] = nlohmann::json::array();
    for (const auto& e : r.errors)
      o["errors"].push_back({{"line", e.line}, {"column", e.column}, {"key", e.key}, {"message", e.message}});
    o["warnings"] = nlohmann::json::array();
    for (const auto& w : warnings) o["warnings"].push_back({{"key", w.key}, {"message", w.message}});
    if (r.ok()) {
      const auto& c = *r.config;
      o["summary"] = {{"ports", c.ports.size()},   {"subscribers", c.subscribers.size()},
                      {"trunks", c.trunks.size()}, {"routes", c.routes.size()},
                      {"workers", c.dataplane.worker_lcores.size()}};
    }
    out << o.dump() << "\n";
    return r.ok() ? 0 : 1;
  }
  if (!r.ok()) {
    for (const auto& e : r.errors) err << e.to_string() << "\n";
    err << file << ": " << r.errors.size() << " error(s)\n";
    return 1;
  }
  for (const auto& w : warnings) err << file << ": warning: " << w.key << ": " << w.message << "\n";
  const auto& c = *r.config;
  out << file << ": ok (" << c.ports.size() << " ports, " << c.subscribers.size() << " subscribers, "
      << c.trunks.size() << " trunks, " << c.routes.size() << " routes)\n";
  return 0;
}

}  // namespace msgw::mgmt
