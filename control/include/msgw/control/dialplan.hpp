// SPDX-License-Identifier: GPL-3.0-or-later
// Dial plan: number normalisation and route choice for outbound calls.
//
// SPA-class ATAs send whatever the subscriber dialled: "1-800-555-1212",
// "18005551212" or "+18005551212" must all reach the same route, so numbers
// are reduced to digits before any rule looks at them.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "msgw/config/config.hpp"

namespace msgw::control {

// Digits only: a leading '+' and visual separators (- . space ( )) are
// dropped; anything else (letters, '*', '#', '%') means the request URI is not
// a telephone number and yields nullopt. At most 32 digits (E.164 allows 15;
// carriers' internal prefixes add some).
std::optional<std::string> normalize_number(std::string_view dialled);

struct RouteChoice {
  std::string route;                  // the matching rule's name
  std::vector<std::string> trunks;    // try in this order (failover)
};

class DialPlan {
 public:
  explicit DialPlan(const std::vector<config::RouteSection>& routes);
  // First rule that matches the normalised number, in configuration order.
  std::optional<RouteChoice> route(std::string_view normalized) const;

 private:
  struct Rule {
    std::string name;
    std::string prefix;
    std::optional<std::regex> regex;
    std::vector<std::string> trunks;
  };
  std::vector<Rule> rules_;
};

}  // namespace msgw::control
