// SPDX-License-Identifier: GPL-3.0-or-later
// RFC 4028's headers read and written: Session-Expires with its refresher,
// Min-SE, the timer option tag in Supported (or its compact k) and Require.
#include <gtest/gtest.h>

#include "msgw/sip/session_timer.hpp"
#include "osip_message.hpp"

namespace msgw::sip {
namespace {

TEST(SessionExpires, ParsesIntervalAndRefresher) {
  auto se = parse_session_expires("1800;refresher=uac");
  ASSERT_TRUE(se);
  EXPECT_EQ(se->interval_s, 1800u);
  EXPECT_EQ(se->refresher, Refresher::uac);
  se = parse_session_expires(" 90 ; x=1 ;Refresher = UAS");
  ASSERT_TRUE(se);
  EXPECT_EQ(se->interval_s, 90u);
  EXPECT_EQ(se->refresher, Refresher::uas);
  se = parse_session_expires("4294967295");
  ASSERT_TRUE(se);
  EXPECT_EQ(se->refresher, Refresher::unspecified);
}

TEST(SessionExpires, RefusesWhatIsNotDeltaSecondsOrARefresher) {
  for (const char* bad : {"", "0", "-5", "1.5", "abc", "4294967296", "99999999999", "90;refresher=me", "90;refresher",
                          "90x"})
    EXPECT_FALSE(parse_session_expires(bad)) << bad;
}

TEST(SessionExpires, FormatsWhatItParses) {
  EXPECT_EQ(format_session_expires({1800, Refresher::uac}), "1800;refresher=uac");
  EXPECT_EQ(format_session_expires({90, Refresher::uas}), "90;refresher=uas");
  EXPECT_EQ(format_session_expires({300, Refresher::unspecified}), "300");
}

MessagePtr parsed(const std::string& headers) {
  const std::string text = "INVITE sip:1@10.10.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.10.0.2:5062;branch=z9hG4bK-1\r\n"
                           "From: <sip:a@10.10.0.1>;tag=1\r\nTo: <sip:1@10.10.0.1>\r\nCall-ID: st@x\r\n"
                           "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n" +
                           headers + "Content-Length: 0\r\n\r\n";
  return parse_message(text, false, Limits{}).msg;
}

TEST(SessionTimerOf, ReadsTheHeadersAndTheOptionTag) {
  auto m = parsed("Supported: replaces, timer\r\nSession-Expires: 1800;refresher=uas\r\nMin-SE: 600\r\n");
  ASSERT_TRUE(m);
  SessionTimerHeaders t = session_timer_of(m.get());
  ASSERT_TRUE(t.session_expires);
  EXPECT_EQ(t.session_expires->interval_s, 1800u);
  EXPECT_EQ(t.session_expires->refresher, Refresher::uas);
  EXPECT_EQ(t.min_se, 600u);
  EXPECT_TRUE(t.timer_supported);
  EXPECT_FALSE(session_interval_too_small(t));
}

TEST(SessionTimerOf, CompactFormsAndRequire) {
  auto m = parsed("k: timer\r\nx: 60\r\n");
  ASSERT_TRUE(m);
  SessionTimerHeaders t = session_timer_of(m.get());
  ASSERT_TRUE(t.session_expires);
  EXPECT_EQ(t.session_expires->interval_s, 60u);
  EXPECT_TRUE(t.timer_supported);
  EXPECT_TRUE(session_interval_too_small(t));  // below 90 s from a UA that can retry
  m = parsed("Require: timer\r\nSession-Expires: 120\r\n");
  ASSERT_TRUE(m);
  EXPECT_TRUE(session_timer_of(m.get()).timer_supported);
}

TEST(SessionTimerOf, WithoutTheTagOrWithAMalformedValue) {
  auto m = parsed("Supported: x-sipura\r\nSession-Expires: 60\r\n");
  ASSERT_TRUE(m);
  SessionTimerHeaders t = session_timer_of(m.get());
  EXPECT_FALSE(t.timer_supported);
  EXPECT_FALSE(session_interval_too_small(t));  // it could not retry: no 422
  m = parsed("Supported: timer\r\nSession-Expires: soon\r\n");
  ASSERT_TRUE(m);
  t = session_timer_of(m.get());
  EXPECT_FALSE(t.session_expires);
  EXPECT_TRUE(t.malformed);
}

}  // namespace
}  // namespace msgw::sip
