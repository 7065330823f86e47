#include "msgw/dataplane/cpu_isolation.hpp"

#include <gtest/gtest.h>

using msgw::dataplane::describe_worker_cpu;
using msgw::dataplane::kMaxCpu;
using msgw::dataplane::parse_cpu_list;
using List = std::vector<unsigned>;

TEST(CpuList, SysfsForms) {
  EXPECT_EQ(parse_cpu_list(""), List{});
  EXPECT_EQ(parse_cpu_list("\n"), List{});
  EXPECT_EQ(parse_cpu_list("3\n"), List{3});
  EXPECT_EQ(parse_cpu_list("0-3,8,10-11\n"), (List{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(parse_cpu_list("5-5"), List{5});
}

TEST(CpuList, OverlapsAndOrderGiveASortedSet) {
  EXPECT_EQ(parse_cpu_list("4,1-3,2-5,0"), (List{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(parse_cpu_list("0-8191,0-8191")->size(), size_t(kMaxCpu) + 1);
}

TEST(CpuList, MalformedIsRejected) {
  for (const char* bad : {",", "1,", ",1", "1,,2", "-", "1-", "-1", "3-1", "1-2-3", "a", "1a",
                          " 1", "+1", "0x1", "8192", "0-8192", "99999999999999999999", "0-7:2/4",
                          "1\n2"}) {
    EXPECT_EQ(parse_cpu_list(bad), std::nullopt) << bad;
  }
}

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
