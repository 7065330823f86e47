// SPDX-License-Identifier: GPL-3.0-or-later
#include <gtest/gtest.h>

#include "tool_cpu.hpp"

using namespace msgw::loadtest;

namespace {
// As the kernel writes it: the aggregate line first, then one per CPU
// (user nice system idle iowait irq softirq steal guest guest_nice).
constexpr const char* kBefore =
    "cpu  300 0 100 1700 0 0 0 0 0 0\n"
    "cpu0 100 0 50 850 0 0 0 0 0 0\n"
    "cpu1 200 0 50 850 0 0 0 0 0 0\n"
    "intr 12345 0 0\n"
    "ctxt 999\n";
constexpr const char* kAfter =
    "cpu  1300 0 400 1800 0 0 0 0 0 0\n"
    "cpu0 200 0 100 950 0 0 0 0 0 0\n"      // +150 busy, +100 idle
    "cpu1 1100 0 300 850 0 10 20 5 0 0\n";  // +1185 busy incl. irq/softirq/steal, +0 idle
}  // namespace

TEST(ToolCpu, ParsesPerCpuLinesOnly) {
  const auto m = parse_proc_stat(kBefore);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m.at(0).busy, 150u);
  EXPECT_EQ(m.at(0).total, 1000u);
  EXPECT_EQ(m.at(1).busy, 250u);
  EXPECT_TRUE(parse_proc_stat("cpu0 1 2\ncpuX 1 2 3 4\ngarbage\n").empty());
  // An old kernel's four fields.
  EXPECT_EQ(parse_proc_stat("cpu3 1 2 3 4\n").at(3).total, 10u);
}

TEST(ToolCpu, BusyShareOfTheToolsCpusOnly) {
  const auto b = parse_proc_stat(kBefore), a = parse_proc_stat(kAfter);
  EXPECT_NEAR(*busy_share(b, a, {0}), 150.0 / 250.0, 1e-9);
  EXPECT_NEAR(*busy_share(b, a, {1}), 1.0, 1e-9);  // pinned there and saturated
  EXPECT_NEAR(*busy_share(b, a, {0, 1}), 1335.0 / 1435.0, 1e-9);
  EXPECT_GT(*busy_share(b, a, {1}), kToolCpuBusyLimit);
  EXPECT_LT(*busy_share(b, a, {0}), kToolCpuBusyLimit);
  EXPECT_FALSE(busy_share(b, b, {0, 1}).has_value()) << "no time passed";
  EXPECT_FALSE(busy_share(b, a, {7}).has_value()) << "not a CPU of this host";
  EXPECT_FALSE(busy_share(a, b, {0}).has_value()) << "counters that went back are skipped";
}

TEST(ToolCpu, ThisProcessRunsSomewhereAndProcStatHasIt) {
  const auto cpus = allowed_cpus();
  ASSERT_FALSE(cpus.empty());
  const auto now = read_proc_stat();
  for (int c : cpus) EXPECT_EQ(now.count(c), 1u) << "cpu" << c;
}

TEST(SutCpu, DeltaKeepsNiceAndStealApartFromTheWork) {
  // cpu0: user+5, nice+40, system+3, irq+1, softirq+6, steal+2, idle+43 (100 jiffies passed).
  const auto b = parse_proc_stat("cpu0 100 10 50 850 0 0 0 0 0 0\n");
  const auto a = parse_proc_stat("cpu0 105 50 53 893 0 1 6 2 0 0\n");
  const auto d = cpu_delta(b, a, {0});
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->busy, 57u);
  EXPECT_EQ(d->total, 100u);
  EXPECT_EQ(d->nice, 40u);
  EXPECT_EQ(d->steal, 2u);
  EXPECT_EQ(sut_work_ticks(*d), 15u) << "user + system + irq + softirq";
  EXPECT_NEAR(sut_work_share(*d), 0.15, 1e-9);
  EXPECT_EQ(sut_work_share(CpuTimes{}), 0.0) << "no time passed: no share";
  EXPECT_NEAR(*busy_share(b, a, {0}), 0.57, 1e-9) << "the tool's share still counts everything busy";
  EXPECT_FALSE(cpu_delta(b, b, {0}).has_value());
  EXPECT_FALSE(cpu_delta(a, b, {0}).has_value()) << "counters that went back are skipped";
}

TEST(SutCpu, DeltaSumsTheListedCpusOnly) {
  const auto b = parse_proc_stat(kBefore), a = parse_proc_stat(kAfter);
  EXPECT_EQ(sut_work_ticks(*cpu_delta(b, a, {0})), 150u);
  EXPECT_EQ(sut_work_ticks(*cpu_delta(b, a, {1})), 1180u) << "1185 busy less 5 steal";
  EXPECT_EQ(sut_work_ticks(*cpu_delta(b, a, {0, 1})), 1330u);
}

TEST(SutCpu, MicrosecondsPerCall) {
  // 15 jiffies at USER_HZ 100 = 150 ms of work over 300 calls: 500 µs each.
  EXPECT_NEAR(*cpu_us_per_call(15, 100, 300), 500.0, 1e-9);
  EXPECT_NEAR(*cpu_us_per_call(15, 1000, 300), 50.0, 1e-9) << "the tick rate is the kernel's, not assumed";
  EXPECT_NEAR(*cpu_us_per_call(0, 100, 10), 0.0, 1e-9);
  EXPECT_FALSE(cpu_us_per_call(15, 100, 0).has_value()) << "no call completed: no figure";
  EXPECT_FALSE(cpu_us_per_call(15, 0, 300).has_value()) << "sysconf failed";
  EXPECT_GT(clock_ticks_per_s(), 0);
}

TEST(SutCpu, CpuLists) {
  std::string error;
  EXPECT_EQ(*parse_cpu_list("0", &error), (std::set<int>{0}));
  EXPECT_EQ(*parse_cpu_list("0,2", &error), (std::set<int>{0, 2}));
  EXPECT_EQ(*parse_cpu_list("2,0,2", &error), (std::set<int>{0, 2}));
  EXPECT_EQ(*parse_cpu_list("0-3,6", &error), (std::set<int>{0, 1, 2, 3, 6}));
  EXPECT_EQ(*parse_cpu_list("5-5", &error), (std::set<int>{5}));
  for (const char* bad : {"", ",", "0,", ",0", "0,,1", "a", "0x1", "-1", "1-", "3-1", "1-2-3", " 0", "0 ", "1.5",
                          "99999999999", "100000"}) {
    error.clear();
    EXPECT_FALSE(parse_cpu_list(bad, &error).has_value()) << "'" << bad << "'";
    EXPECT_FALSE(error.empty()) << "'" << bad << "'";
  }
  parse_cpu_list("3-1", &error);
  EXPECT_NE(error.find("backwards"), std::string::npos) << error;
  parse_cpu_list("0,x", &error);
  EXPECT_NE(error.find("'x'"), std::string::npos) << error;
}

// Between the search's steps: wait while the target's cores stay busier than
// before the first step (+ margin), sample by sample, never past max_ms.
TEST(SutCpu, SettleWaitsForTheTargetsCoresToIdle) {
  SettlePolicy p;
  p.idle_share = 0.05;
  p.margin = 0.03;
  p.window_ms = 500;
  p.max_ms = 3000;
  auto feed = [](std::vector<std::optional<double>> shares, int* asked) {
    return [shares, asked](int window_ms) -> std::optional<double> {
      EXPECT_EQ(window_ms, 500);
      const std::size_t i = static_cast<std::size_t>((*asked)++);
      return i < shares.size() ? shares[i] : std::optional<double>(0.9);
    };
  };
  int asked = 0;
  EXPECT_EQ(wait_until_settled(p, feed({0.06}, &asked)), 500) << "idle at once: one window";
  EXPECT_EQ(asked, 1);
  asked = 0;
  EXPECT_EQ(wait_until_settled(p, feed({0.6, 0.3, 0.081, 0.079}, &asked)), 2000) << "0.08 is idle + margin";
  EXPECT_EQ(asked, 4);
  asked = 0;
  EXPECT_EQ(wait_until_settled(p, feed({}, &asked)), 3000) << "never idle: max_ms";
  EXPECT_EQ(asked, 6);
  asked = 0;
  EXPECT_EQ(wait_until_settled(p, feed({0.5, std::nullopt, 0.9}, &asked)), 1000) << "unreadable: no more waiting";
  p.max_ms = 0;
  asked = 0;
  EXPECT_EQ(wait_until_settled(p, feed({0.9}, &asked)), 0) << "no wait configured";
  EXPECT_EQ(asked, 0);
}
