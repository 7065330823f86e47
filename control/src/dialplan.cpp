// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/control/dialplan.hpp"

namespace msgw::control {

std::optional<std::string> normalize_number(std::string_view dialled) {
  std::string digits;
  for (size_t i = 0; i < dialled.size(); ++i) {
    char c = dialled[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
    } else if (c == '+' && i == 0) {
      continue;
    } else if (c == '-' || c == '.' || c == ' ' || c == '(' || c == ')') {
      continue;
    } else {
      return std::nullopt;
    }
  }
  if (digits.empty() || digits.size() > 32) return std::nullopt;
  return digits;
}

DialPlan::DialPlan(const std::vector<config::RouteSection>& routes) {
  for (const auto& r : routes) {
    Rule rule{r.name, r.prefix, std::nullopt, r.trunks};
    // The config loader has already rejected invalid expressions.
    if (!r.regex.empty()) rule.regex.emplace(r.regex, std::regex::ECMAScript);
    rules_.push_back(std::move(rule));
  }
}

std::optional<RouteChoice> DialPlan::route(std::string_view normalized) const {
  for (const auto& r : rules_) {
    bool match = r.regex ? std::regex_match(normalized.begin(), normalized.end(), *r.regex)
                         : normalized.substr(0, r.prefix.size()) == r.prefix;
    if (match) return RouteChoice{r.name, r.trunks};
  }
  return std::nullopt;
}

}  // namespace msgw::control
