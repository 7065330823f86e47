// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/common/cpu_list.hpp"

#include <gtest/gtest.h>

using msgw::common::kMaxCpu;
using msgw::common::parse_cpu_list;
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
