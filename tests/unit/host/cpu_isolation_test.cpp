// SPDX-License-Identifier: GPL-3.0-or-later
// The worker-CPU isolation rule (moved from dataplane/, which logs it at
// start): sysfs text in, a verdict out. The CPU list parser: common_unit.
#include "msgw/host/cpu_isolation.hpp"

#include <gtest/gtest.h>

using msgw::host::describe_worker_cpu;
using msgw::host::worker_cpu_isolation;

TEST(WorkerCpu, IsolatedWithNohzFull) {
  EXPECT_EQ(describe_worker_cpu(1, 3, "2-3\n", "2-3\n"), "worker lcore 1 (cpu 3): isolated (isolcpus, nohz_full)");
}

TEST(WorkerCpu, NotIsolatedSaysWhatToBootWith) {
  const std::string s = describe_worker_cpu(1, 1, "", "");
  EXPECT_NE(s.find("not in isolcpus, nohz_full"), std::string::npos) << s;
  EXPECT_NE(s.find("isolcpus=1 nohz_full=1 rcu_nocbs=1"), std::string::npos) << s;
  const std::string only_nohz = describe_worker_cpu(2, 5, "5", "0");
  EXPECT_NE(only_nohz.find("not in nohz_full:"), std::string::npos) << only_nohz;
}

TEST(WorkerCpu, KernelWithoutNohzFull) {
  // This machine's case: /sys/devices/system/cpu/nohz_full does not exist.
  const std::string s = describe_worker_cpu(1, 1, "", std::nullopt);
  EXPECT_NE(s.find("not in isolcpus:"), std::string::npos) << s;
  EXPECT_NE(s.find("isolcpus=1 rcu_nocbs=1"), std::string::npos) << s;
  EXPECT_EQ(s.find("nohz_full="), std::string::npos) << s;
  EXPECT_EQ(describe_worker_cpu(1, 1, "1", std::nullopt),
            "worker lcore 1 (cpu 1): isolated (isolcpus; this kernel has no nohz_full)");
}

TEST(WorkerCpu, UnreadableOrGarbageIsUnknown) {
  EXPECT_NE(describe_worker_cpu(0, 0, std::nullopt, std::nullopt).find("isolation unknown"),
            std::string::npos);
  EXPECT_NE(describe_worker_cpu(0, 0, "garbage", "x-y").find("isolation unknown"),
            std::string::npos);
}

TEST(WorkerCpuIsolation, SysfsFirstThenTheCommandLine) {
  auto w = worker_cpu_isolation(3, "2-3\n", "2-3\n", "ro quiet");
  EXPECT_EQ(w.isolcpus, true);
  EXPECT_EQ(w.nohz_full, true);
  EXPECT_TRUE(w.rcu_nocbs);  // nohz_full implies it
  EXPECT_TRUE(w.shielded());
  // No sysfs isolated file: isolcpus= with flags on the command line answers.
  auto c = worker_cpu_isolation(5, std::nullopt, std::nullopt, "isolcpus=domain,managed_irq,4-7 rcu_nocbs=4-7");
  EXPECT_EQ(c.isolcpus, true);
  EXPECT_EQ(c.nohz_full, std::nullopt);
  EXPECT_TRUE(c.rcu_nocbs);
  EXPECT_TRUE(c.shielded());
}

TEST(WorkerCpuIsolation, WhatIsMissingIsSaid) {
  auto w = worker_cpu_isolation(1, "", "", "isolcpus=2");
  EXPECT_EQ(w.isolcpus, false);
  EXPECT_EQ(w.nohz_full, false);
  EXPECT_FALSE(w.rcu_nocbs);
  EXPECT_FALSE(w.shielded());
  // isolcpus alone, on a kernel with nohz_full, is not enough.
  auto i = worker_cpu_isolation(1, "1", "", "isolcpus=1 rcu_nocbs=1");
  EXPECT_FALSE(i.shielded());
  // After "--" the words are init's, not the kernel's.
  auto after = worker_cpu_isolation(1, std::nullopt, std::nullopt, "quiet -- isolcpus=1 rcu_nocbs=1");
  EXPECT_NE(after.isolcpus, true);
  EXPECT_FALSE(after.rcu_nocbs);
}
