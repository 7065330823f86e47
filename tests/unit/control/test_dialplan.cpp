// SPDX-License-Identifier: GPL-3.0-or-later
#include <gtest/gtest.h>

#include "msgw/config/config.hpp"
#include "msgw/control/dialplan.hpp"

using msgw::control::DialPlan;
using msgw::control::normalize_number;

namespace {

TEST(DialPlan, TheThreeFormsOfTheReferenceNumberAreOne) {
  EXPECT_EQ(normalize_number("1-800-555-1212"), "18005551212");
  EXPECT_EQ(normalize_number("18005551212"), "18005551212");
  EXPECT_EQ(normalize_number("+18005551212"), "18005551212");
  EXPECT_EQ(normalize_number("+1 (800) 555.1212"), "18005551212");
}

TEST(DialPlan, NonNumbersAreRefused) {
  EXPECT_FALSE(normalize_number(""));
  EXPECT_FALSE(normalize_number("+"));
  EXPECT_FALSE(normalize_number("spa1"));
  EXPECT_FALSE(normalize_number("1800*55"));
  EXPECT_FALSE(normalize_number("1+800"));
  EXPECT_FALSE(normalize_number(std::string(33, '1')));
}

TEST(DialPlan, FirstMatchingRuleInOrderWithTrunkFailoverList) {
  std::vector<msgw::config::RouteSection> routes = {
      {"tollfree", "1800", "", {"carrier", "backup"}},
      {"intl", "", "^011[0-9]{6,}$", {"intl-carrier"}},
      {"nanp", "1", "", {"backup"}},
  };
  DialPlan plan(routes);
  auto r = plan.route("18005551212");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->route, "tollfree");
  EXPECT_EQ(r->trunks, (std::vector<std::string>{"carrier", "backup"}));
  EXPECT_EQ(plan.route("0114930123456")->route, "intl");
  EXPECT_EQ(plan.route("12125551212")->route, "nanp");
  EXPECT_FALSE(plan.route("011"));        // regex is over the whole number
  EXPECT_FALSE(plan.route("4930123456"));
}

TEST(DialPlan, ExampleConfigRoutesTollFreeToCarrier) {
  auto r = msgw::config::load_file(MSGW_SOURCE_ROOT "/config/examples/spa-to-carrier.toml");
  ASSERT_TRUE(r.ok());
  DialPlan plan(r.config->routes);
  for (const char* dialled : {"1-800-555-1212", "18005551212", "+18005551212"}) {
    auto n = normalize_number(dialled);
    ASSERT_TRUE(n) << dialled;
    auto choice = plan.route(*n);
    ASSERT_TRUE(choice) << dialled;
    EXPECT_EQ(choice->trunks, std::vector<std::string>{"carrier"});
  }
}

}  // namespace
