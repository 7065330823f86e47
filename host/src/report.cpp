// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/host/report.hpp"

#include <algorithm>
#include <ostream>

namespace msgw::host {

nlohmann::json check_json(const std::vector<Item>& items) {
  nlohmann::json o;
  size_t n[3] = {0, 0, 0};
  o["items"] = nlohmann::json::array();
  for (const auto& i : items) {
    ++n[size_t(i.status)];
    o["items"].push_back({{"check", std::string(check_name(i.check))},
                          {"subject", i.subject},
                          {"status", std::string(status_name(i.status))},
                          {"message", i.message},
                          {"fix", i.fix}});
  }
  o["ok"] = worst(items) != Status::fail;
  o["summary"] = {{"ok", n[0]}, {"warn", n[1]}, {"fail", n[2]}};
  return o;
}

void print_check(const std::vector<Item>& items, std::ostream& out) {
  size_t width = 0;
  for (const auto& i : items) width = std::max(width, check_name(i.check).size());
  size_t n[3] = {0, 0, 0};
  for (const auto& i : items) {
    ++n[size_t(i.status)];
    const std::string_view s = i.status == Status::fail ? "FAIL" : status_name(i.status);
    const std::string_view name = check_name(i.check);
    out << s << std::string(6 - s.size(), ' ') << name << std::string(width + 2 - name.size(), ' ') << i.subject
        << ": " << i.message << "\n";
    if (!i.fix.empty()) out << std::string(8 + width, ' ') << "fix: " << i.fix << "\n";
  }
  out << n[0] << " ok, " << n[1] << " warn, " << n[2] << " fail\n";
}

nlohmann::json plan_json(const Plan& plan, bool dry_run) {
  nlohmann::json o;
  o["ok"] = plan.ok();
  o["dry_run"] = dry_run;
  o["actions"] = nlohmann::json::array();
  for (const auto& a : plan.actions)
    o["actions"].push_back({{"subject", a.subject},
                            {"why", a.why},
                            {"command", a.command()},
                            {"state", std::string(state_name(a.state))},
                            {"error", a.error}});
  o["refused"] = nlohmann::json::array();
  for (const auto& r : plan.refused) o["refused"].push_back({{"subject", r.subject}, {"reason", r.reason}});
  o["notes"] = nlohmann::json::array();
  for (const auto& n : plan.notes) o["notes"].push_back({{"subject", n.subject}, {"text", n.text}});
  return o;
}

void print_plan(const Plan& plan, bool dry_run, std::ostream& out) {
  for (const auto& a : plan.actions) {
    if (dry_run) {
      out << "# " << a.subject << ": " << a.why << "\n" << a.command() << "\n";
    } else {
      out << state_name(a.state) << ": " << a.command();
      if (!a.error.empty()) out << ": " << a.error;
      out << "\n";
    }
  }
  for (const auto& r : plan.refused) out << "# refused: " << r.subject << ": " << r.reason << "\n";
  for (const auto& n : plan.notes) out << "# " << n.subject << ": " << n.text << "\n";
  if (plan.actions.empty() && plan.refused.empty()) out << "# nothing to do: the host already has what the config needs\n";
}

}  // namespace msgw::host
