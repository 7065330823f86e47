// SPDX-License-Identifier: GPL-3.0-or-later
// The logging facade: levels, one-line key=value events, rate limits.
#include <gtest/gtest.h>

#include "msgw/common/log.hpp"

namespace log = msgw::log;
using log::Level;
using Clock = log::RateLimiter::Clock;
using std::chrono::milliseconds;

namespace {

struct LevelGuard {
  Level saved = log::level();
  ~LevelGuard() { log::set_level(saved); }
};

TEST(LogLevel, ParsesTheConfigWords) {
  EXPECT_EQ(log::parse_level("trace"), Level::trace);
  EXPECT_EQ(log::parse_level("debug"), Level::debug);
  EXPECT_EQ(log::parse_level("info"), Level::info);
  EXPECT_EQ(log::parse_level("warn"), Level::warn);
  EXPECT_EQ(log::parse_level("error"), Level::error);
  EXPECT_FALSE(log::parse_level("warning"));
  EXPECT_FALSE(log::parse_level("INFO"));
  EXPECT_FALSE(log::parse_level(""));
  for (Level l : {Level::trace, Level::debug, Level::info, Level::warn, Level::error})
    EXPECT_EQ(log::parse_level(log::level_name(l)), l);
}

TEST(LogLevel, ThresholdFiltersLines) {
  LevelGuard g;
  log::Capture cap;
  log::set_level(Level::warn);
  EXPECT_FALSE(log::enabled(Level::info));
  EXPECT_TRUE(log::enabled(Level::error));
  MSGW_LOG(info, "not shown");
  MSGW_LOG(debug, "not shown either");
  MSGW_LOG(warn, "shown", {"n", 1});
  MSGW_LOG(error, "shown too");
  log::set_level(Level::trace);
  MSGW_LOG(trace, "now shown");
  EXPECT_EQ(cap.lines(), (std::vector<std::string>{"warn shown n=1", "error shown too", "trace now shown"}));
}

TEST(LogLevel, DisabledLinesDoNotEvaluateTheirFields) {
  LevelGuard g;
  log::Capture cap;
  log::set_level(Level::error);
  int evaluated = 0;
  auto costly = [&] { ++evaluated; return std::string("x"); };
  MSGW_LOG(info, "skipped", {"v", costly()});
  EXPECT_EQ(evaluated, 0);
  EXPECT_TRUE(cap.lines().empty());
}

TEST(LogFormat, KeyValueFieldsQuotedWhenNeeded) {
  EXPECT_EQ(log::format_event("call answered", {{"call", "a@h"}, {"leg", "b"}, {"peer", "10.20.0.2:5060"},
                                                {"port", 5060}, {"up", true}}),
            "call answered call=a@h leg=b peer=10.20.0.2:5060 port=5060 up=true");
  EXPECT_EQ(log::format_event("failed", {{"why", "no route"}, {"empty", ""}, {"q", "say \"hi\""}, {"eq", "a=b"}}),
            R"(failed why="no route" empty="" q="say \"hi\"" eq="a=b")");
}

TEST(LogFormat, OneEventIsOneLineWhateverAPeerSent) {
  // A header value with CR LF cannot start a forged line.
  const std::string line = log::format_event("bad request\r\nfake", {{"ua", "x\r\n2026 error forged=1"}});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(line, R"(bad request\r\nfake ua="x\r\n2026 error forged=1")");
  EXPECT_EQ(log::format_event("x", {{"bin", std::string("a\x01" "b", 3)}}), R"(x bin="a\x01b")");
}

TEST(RateLimiter, AdmitsABurstThenRefusesUntilTokensRefill) {
  log::RateLimiter limiter("flood", /*per_second=*/2, /*burst=*/2);
  const Clock::time_point t0{};
  uint64_t before = 99;
  EXPECT_TRUE(limiter.admit(t0, &before));
  EXPECT_EQ(before, 0u);
  EXPECT_TRUE(limiter.admit(t0, &before));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limiter.admit(t0 + milliseconds(100), &before));
  // Half a second later one token is back: the line goes out, reporting the 5.
  EXPECT_FALSE(limiter.admit(t0 + milliseconds(400), &before));
  EXPECT_TRUE(limiter.admit(t0 + milliseconds(600), &before));
  EXPECT_EQ(before, 6u);
  EXPECT_TRUE(limiter.admit(t0 + milliseconds(1200), &before));
  EXPECT_EQ(before, 0u);
  // Tokens do not pile up beyond the burst over a long quiet spell.
  const auto later = t0 + std::chrono::seconds(60);
  EXPECT_TRUE(limiter.admit(later, &before));
  EXPECT_TRUE(limiter.admit(later, &before));
  EXPECT_FALSE(limiter.admit(later, &before));
}

TEST(RateLimiter, SuppressedCountIsTakenOnlyOnceTheFloodIsOver) {
  log::RateLimiter limiter("flood", 1);
  const Clock::time_point t0{};
  uint64_t before = 0;
  EXPECT_TRUE(limiter.admit(t0, &before));
  EXPECT_FALSE(limiter.admit(t0 + milliseconds(10), &before));
  EXPECT_FALSE(limiter.admit(t0 + milliseconds(20), &before));
  EXPECT_EQ(limiter.take_suppressed_if_quiet(t0 + milliseconds(500), std::chrono::seconds(1)), 0u);
  EXPECT_EQ(limiter.take_suppressed_if_quiet(t0 + milliseconds(1020), std::chrono::seconds(1)), 2u);
  EXPECT_EQ(limiter.take_suppressed_if_quiet(t0 + milliseconds(5000), std::chrono::seconds(1)), 0u);
}

TEST(RateLimiter, LimitedSiteWritesASuppressedLine) {
  LevelGuard g;
  log::set_level(Level::info);
  log::Capture cap;
  for (int i = 0; i < 50; ++i) MSGW_LOG_LIMITED(warn, 3, "bad packet", {"n", i});
  auto lines = cap.lines();
  // A burst of 3 (the rest of this tight loop is well inside one second).
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "warn bad packet n=0");
  log::flush_suppressed(Clock::now() + std::chrono::seconds(2));
  lines = cap.lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3], "warn suppressed 47 lines event=\"bad packet\"");
}

}  // namespace
