// SPDX-License-Identifier: GPL-3.0-or-later
#include <gtest/gtest.h>

#include <string>

#include "sipp_output.hpp"

using namespace msgw::loadtest;

namespace {
// The header SIPp 3.6 writes with -trace_stat (abridged to the columns in a
// real file's order; the parser finds columns by name).
const std::string kHeader =
    "StartTime;LastResetTime;CurrentTime;ElapsedTime(P);ElapsedTime(C);TargetRate;CallRate(P);CallRate(C);"
    "IncomingCall(P);IncomingCall(C);OutgoingCall(P);OutgoingCall(C);TotalCallCreated;CurrentCall;"
    "SuccessfulCall(P);SuccessfulCall(C);FailedCall(P);FailedCall(C);FailedCannotSendMessage(P);"
    "FailedCannotSendMessage(C);FailedMaxUDPRetrans(P);FailedMaxUDPRetrans(C);FailedUnexpectedMessage(P);"
    "FailedUnexpectedMessage(C);FailedTimeoutOnRecv(P);FailedTimeoutOnRecv(C);Retransmissions(P);"
    "Retransmissions(C);\n";
std::string row(const char* elapsed_c, const char* rate, int total, int cur, int ok, int failed, int retrans) {
  return "2026-12-06\t05:54:59.102258\t1796536499.102258;2026-12-06\t05:55:01.5\t1796536501.5;"
         "2026-12-06\t05:55:01.5\t1796536501.5;00:00:01;" + std::string(elapsed_c) + ";10;0;" + rate +
         ";0;0;0;" + std::to_string(total) + ";" + std::to_string(total) + ";" + std::to_string(cur) + ";0;" +
         std::to_string(ok) + ";0;" + std::to_string(failed) + ";0;0;0;1;0;" + std::to_string(failed - 1) +
         ";0;0;0;" + std::to_string(retrans) + ";\n";
}
}  // namespace

TEST(StatCsv, ParsesRowsByColumnName) {
  auto csv = parse_stat_csv(kHeader + row("00:00:01", "9.5", 10, 4, 5, 1, 0) +
                            row("00:00:02:500000", "8.22707", 20, 0, 16, 4, 3));
  ASSERT_TRUE(csv.error.empty()) << csv.error;
  ASSERT_EQ(csv.rows.size(), 2u);
  EXPECT_EQ(csv.bad_rows, 0u);
  const auto& r = csv.rows[1];
  EXPECT_DOUBLE_EQ(r.elapsed_s, 2.5);
  EXPECT_NEAR(r.call_rate, 8.22707, 1e-9);
  EXPECT_EQ(r.total_created, 20u);
  EXPECT_EQ(r.current, 0u);
  EXPECT_EQ(r.successful, 16u);
  EXPECT_EQ(r.failed, 4u);
  EXPECT_EQ(r.failed_max_udp_retrans, 1u);
  EXPECT_EQ(r.failed_unexpected, 3u);
  EXPECT_EQ(r.retransmissions, 3u);
  EXPECT_EQ(csv.rows[0].current, 4u);
}

TEST(StatCsv, CreationRateInterpolatesWithinTheRowReachingTheCount) {
  std::vector<StatRow> rows(3);
  rows[0].elapsed_s = 1, rows[0].total_created = 200;
  rows[1].elapsed_s = 2, rows[1].total_created = 200;  // nothing more: the count was reached at 1 s
  rows[2].elapsed_s = 3, rows[2].total_created = 200;
  EXPECT_DOUBLE_EQ(creation_rate(rows, 200), 200.0);
  // 150 by 1 s, all by 2 s: the last 50 at the first second's pace took a third of a second.
  rows[0].total_created = 150;
  EXPECT_DOUBLE_EQ(creation_rate(rows, 200), 150.0);
  // 200 of 250 created by 1 s, the step's 250 by 2 s: 1.25 s at 200/s, not 125/s.
  rows[0].total_created = 200, rows[1].total_created = 250, rows[2].total_created = 250;
  EXPECT_DOUBLE_EQ(creation_rate(rows, 250), 200.0);
  rows[1].total_created = 200, rows[2].total_created = 200;
  // 100 by 1 s, 200 by 2 s: done at 2 s, 100/s.
  rows[0].total_created = 100;
  EXPECT_DOUBLE_EQ(creation_rate(rows, 200), 100.0);
  // Never reached, or nothing asked.
  EXPECT_EQ(creation_rate(rows, 201), 0.0);
  EXPECT_EQ(creation_rate(rows, 0), 0.0);
}

TEST(StatCsv, BadRowsAreSkippedAndCounted) {
  auto csv = parse_stat_csv(kHeader + "garbage;;;\n" + row("00:00:01", "x", 1, 1, 1, 1, 0) +
                            row("00:00:03", "3", 3, 0, 3, 1, 0) + "truncated;row");
  ASSERT_TRUE(csv.error.empty());
  EXPECT_EQ(csv.rows.size(), 1u);
  EXPECT_EQ(csv.bad_rows, 2u);  // the unfinished last line is not read
}

TEST(StatCsv, MissingHeaderOrColumn) {
  EXPECT_FALSE(parse_stat_csv("").error.empty());
  EXPECT_FALSE(parse_stat_csv("1;2;3\n").error.empty());
  EXPECT_NE(parse_stat_csv("TotalCallCreated;CurrentCall\n1;2\n").error.find("ElapsedTime"), std::string::npos);
}

TEST(SippDuration, Formats) {
  EXPECT_EQ(parse_sipp_duration("00:00:02"), 2.0);
  EXPECT_EQ(parse_sipp_duration("01:02:03"), 3723.0);
  EXPECT_DOUBLE_EQ(*parse_sipp_duration("00:00:00:250000"), 0.25);
  EXPECT_FALSE(parse_sipp_duration("00:61:00"));
  EXPECT_FALSE(parse_sipp_duration("12"));
  EXPECT_FALSE(parse_sipp_duration("a:b:c"));
  EXPECT_FALSE(parse_sipp_duration("99999999999:00:00"));
}

TEST(RttCsv, SamplesAndPartialLines) {
  const std::string text =
      "Date_ms;response_time_ms;rtd_no\n104.001;3;setup\n204.5;0.5;disconnect\nbad;line\n-1;-2;setup\n305;7;se";
  std::size_t used = 0;
  auto rtt = parse_rtt_csv(text, &used);
  ASSERT_EQ(rtt.samples.size(), 2u);
  EXPECT_DOUBLE_EQ(rtt.samples[0].at_ms, 104.001);
  EXPECT_DOUBLE_EQ(rtt.samples[0].value_ms, 3);
  EXPECT_EQ(rtt.samples[0].rtd, "setup");
  EXPECT_EQ(rtt.samples[1].rtd, "disconnect");
  EXPECT_EQ(rtt.bad_rows, 2u);
  EXPECT_EQ(text.substr(used), "305;7;se");  // kept for the next read
}

TEST(ErrorLog, FinalResponsesByCode) {
  const std::string abort = "2026-12-06\t05:54:49.956361\t1796536489.956361: Aborting call on unexpected message for "
                            "Call-Id '1-4142@127.0.0.1': while expecting '200' (index 6), received 'SIP/2.0 ";
  const std::string log = "The following events occurred:\n" + abort + "503 Service Unavailable\nVia: x\n'" +
                          "2026-12-06\t05:54:49.96\t1: Dead call 1-4142@127.0.0.1 (aborted at index 6), received "
                          "'SIP/2.0 481 Call/Transaction Does Not Exist\n'" + abort + "503 Service Unavailable\n'" +
                          abort + "486 Busy Here\n" + abort + "5\n" + abort + "999 x\n" +
                          "x: Aborting call on unexpected message\nreceived 'SIP/2.0 404 on the next line\n";
  auto codes = parse_error_log_codes(log);
  EXPECT_EQ(codes.size(), 2u);
  EXPECT_EQ(codes[503], 2u);
  EXPECT_EQ(codes[486], 1u);
}

TEST(MediaEvent, StartAndStop) {
  auto start = parse_media_event("lt start 12 10.20.0.1 16390\n");
  ASSERT_TRUE(start);
  EXPECT_EQ(start->kind, MediaEvent::Kind::start);
  EXPECT_EQ(start->call, 12u);
  EXPECT_EQ(start->ip, 0x0a140001u);
  EXPECT_EQ(start->port, 16390);
  auto stop = parse_media_event("lt stop 12");
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->kind, MediaEvent::Kind::stop);
  EXPECT_EQ(stop->call, 12u);
  for (const char* bad : {"", "lt", "lt start 1 10.0.0.1", "lt start 1 10.0.0.1 0", "lt start 1 10.0.0.1 70000",
                          "lt start x 10.0.0.1 5", "lt start 1 999.0.0.1 5", "lt stop", "lt stop 1 2",
                          "xx start 1 10.0.0.1 5", "lt start 1 10.0.0.1.1.1.1.1.1.1 5"})
    EXPECT_FALSE(parse_media_event(bad)) << bad;
}
