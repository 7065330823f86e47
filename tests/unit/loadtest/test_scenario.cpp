// SPDX-License-Identifier: GPL-3.0-or-later
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "scenario.hpp"

using namespace msgw::loadtest;

TEST(EveryNth, MatchesExactlyEveryNthCallNumber) {
  for (unsigned n : {1u, 2u, 4u, 5u, 10u, 20u, 25u, 50u, 100u}) {
    const std::regex re(every_nth_regex(n), std::regex::extended);
    for (unsigned call = 1; call <= 1000; ++call)
      EXPECT_EQ(std::regex_search(std::to_string(call), re), call % n == 0) << "n " << n << " call " << call;
  }
  EXPECT_TRUE(every_nth_regex(3).empty());
  EXPECT_TRUE(every_nth_regex(0).empty());
  EXPECT_TRUE(every_nth_regex(200).empty());
}

TEST(Scenario, UacWithDigestAndMedia) {
  CallScenarioParams p;
  p.password = "secret";
  p.media_ip = "10.10.0.2";
  p.media_port = 40000;
  p.media_events = true;
  p.hold_ms = 1500;
  const auto x = uac_call_scenario(p);
  EXPECT_NE(x.find("start_rtd=\"setup\""), std::string::npos);
  EXPECT_NE(x.find("rtd=\"setup\""), std::string::npos);
  EXPECT_NE(x.find("start_rtd=\"disconnect\""), std::string::npos);
  EXPECT_NE(x.find("[authentication username=spa1 password=secret]"), std::string::npos);
  EXPECT_NE(x.find("m=audio 40000 RTP/AVP 0"), std::string::npos);
  EXPECT_NE(x.find("c=IN IP4 10.10.0.2"), std::string::npos);
  EXPECT_NE(x.find("lt start [call_number] [$mip] [$mport]"), std::string::npos);
  EXPECT_NE(x.find("<pause milliseconds=\"1500\"/>"), std::string::npos);
  EXPECT_NE(x.find("CSeq: 3 BYE"), std::string::npos);
  EXPECT_EQ(x.find('@' + std::string("USER@")), std::string::npos);  // every placeholder filled
  // A 503 to either INVITE is taken (ACKed with that INVITE's CSeq) and logged, not an error.
  EXPECT_NE(x.find("<recv response=\"503\" optional=\"true\" next=\"rejected1\">"), std::string::npos);
  EXPECT_NE(x.find("<recv response=\"503\" optional=\"true\" next=\"rejected2\">"), std::string::npos);
  EXPECT_NE(x.find("<label id=\"rejected2\"/>"), std::string::npos);
  EXPECT_NE(x.find("lt reject [call_number] 503 [$ra]"), std::string::npos);
  // A 407 retransmitted for the first INVITE while waiting for the 200 is ACKed, not an error.
  EXPECT_NE(x.find("next=\"rechallenged\""), std::string::npos);
  EXPECT_NE(x.find("<nop next=\"await200\"/>"), std::string::npos);
  p.hold_from_command_line = true;
  EXPECT_NE(uac_call_scenario(p).find("<pause/>"), std::string::npos);
}

TEST(Scenario, UacWithoutDigestHasNoChallengeStep) {
  CallScenarioParams p;
  p.media_ip = "127.0.0.1";
  const auto x = uac_call_scenario(p);
  EXPECT_EQ(x.find("407"), std::string::npos);
  EXPECT_EQ(x.find("lt start"), std::string::npos);
  EXPECT_NE(x.find("CSeq: 2 BYE"), std::string::npos);
}

TEST(Scenario, UasRejectsEveryNth) {
  CallScenarioParams p;
  p.media_ip = "10.20.0.2";
  p.reject_every = 10;
  const auto x = uas_call_scenario(p);
  EXPECT_NE(x.find("503 Service Unavailable"), std::string::npos);
  EXPECT_NE(x.find("int_cmd=\"stop_call\""), std::string::npos);
  EXPECT_NE(x.find(every_nth_regex(10)), std::string::npos);
  p.reject_every = 0;
  EXPECT_EQ(uas_call_scenario(p).find("503"), std::string::npos);
}

TEST(Scenario, Registration) {
  RegisterScenarioParams p{"spa1", "pw", 600, false};
  auto x = register_scenario(p);
  EXPECT_NE(x.find("start_rtd=\"register\""), std::string::npos);
  EXPECT_NE(x.find(";expires=600"), std::string::npos);
  p.reregister = true;
  x = register_scenario(p);
  EXPECT_EQ(x.find("start_rtd=\"register\""), std::string::npos);
  EXPECT_NE(x.find("start_rtd=\"reregister\""), std::string::npos);
  EXPECT_NE(x.find("CSeq: 3 REGISTER"), std::string::npos);
}
