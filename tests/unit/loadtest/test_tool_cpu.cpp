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
