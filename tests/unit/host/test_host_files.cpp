// SPDX-License-Identifier: GPL-3.0-or-later
// The parsers of /proc files host check reads.
#include <gtest/gtest.h>

#include "msgw/host/host_files.hpp"

using namespace msgw::host;

TEST(HostFiles, Mounts) {
  const auto m = parse_mounts(
      "sysfs /sys sysfs rw,nosuid 0 0\n"
      "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n"
      "none /mnt/huge\\0401G hugetlbfs rw,pagesize=1024M 0 0\n"
      "short line\n");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[1].target, "/dev/hugepages");
  EXPECT_EQ(m[1].fstype, "hugetlbfs");
  EXPECT_EQ(mount_pagesize_kb(m[1].options), 2048u);
  EXPECT_EQ(m[2].target, "/mnt/huge 1G");
  EXPECT_EQ(mount_pagesize_kb(m[2].options), 1048576u);
  EXPECT_EQ(mount_pagesize_kb("rw,relatime"), 0u);
  EXPECT_EQ(mount_pagesize_kb("pagesize=xM"), 0u);
}

TEST(HostFiles, Cmdline) {
  const auto c = parse_cmdline("BOOT_IMAGE=/vmlinuz ro quiet isolcpus=2-3 dyndbg=\"file a.c +p\" nohz_full=1 nohz_full=2,3 -- isolcpus=9\n");
  EXPECT_EQ(c.value("isolcpus"), "2-3");
  EXPECT_EQ(c.value("nohz_full"), "2,3");  // the last one counts
  EXPECT_EQ(c.value("quiet"), "");
  EXPECT_EQ(c.value("dyndbg"), "file a.c +p");
  EXPECT_EQ(c.value("rcu_nocbs"), std::nullopt);
}

TEST(HostFiles, CmdlineOnlyABareDoubleDashEndsTheKernelsWords) {
  // As the kernel's parse_args: "--=x" is a parameter named "--"; only a bare
  // "--" (quoted or not) hands the rest to init.
  const auto c = parse_cmdline("a=1 --=x isolcpus=3 \"--\" isolcpus=9");
  EXPECT_EQ(c.value("--"), "x");
  EXPECT_EQ(c.value("isolcpus"), "3");
}

TEST(HostFiles, CmdlineCpuLists) {
  EXPECT_EQ(cmdline_cpu_list_has("2-5", 3), true);
  EXPECT_EQ(cmdline_cpu_list_has("domain,managed_irq,2-5", 5), true);
  EXPECT_EQ(cmdline_cpu_list_has("nohz,2-5", 1), false);
  EXPECT_EQ(cmdline_cpu_list_has("all", 63), true);
  EXPECT_EQ(cmdline_cpu_list_has("domain", 1), false);
  EXPECT_EQ(cmdline_cpu_list_has("bogus,1", 1), std::nullopt);
  EXPECT_EQ(cmdline_cpu_list_has("1-", 1), std::nullopt);
}

TEST(HostFiles, DefaultRouteInterfaces) {
  const char* v4 =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
      "eth1\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "eth2\t00000000\t00000000\t0000\t0\t0\t0\t00000000\t0\t0\t0\n";  // not up
  const char* v6 =
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 "
      "00000400 00000001 00000000 00000003 eth3\n"
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 "
      "ffffffff 00000001 00000000 00200200 lo\n";
  EXPECT_EQ(default_route_interfaces(v4, v6), (std::vector<std::string>{"eth0", "eth3"}));
  EXPECT_TRUE(default_route_interfaces("garbage\n", "x y z").empty());
}

TEST(HostFiles, Meminfo) {
  EXPECT_EQ(meminfo_hugepage_kb("MemTotal: 1 kB\nHugepagesize:       2048 kB\n"), 2048u);
  EXPECT_EQ(meminfo_hugepage_kb("MemTotal: 1 kB\n"), std::nullopt);
}
