// SPDX-License-Identifier: GPL-3.0-or-later
// Configs the host tests check fixture hosts against.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "msgw/config/config.hpp"

namespace msgw::host::testing {

// One NIC by PCI address, main lcore 0, workers on CPUs `workers`.
inline config::Config nic_config(const std::string& workers = "[2, 3]", const std::string& hugepages = "on",
                                 const std::string& extra_port = "") {
  auto r = config::load_string(
      "[dataplane]\nmain_lcore = 0\nworker_lcores = " + workers + "\nmemory_mb = 512\nhugepages = \"" + hugepages +
          "\"\n"
          "[[port]]\nname = \"access\"\npci = \"0000:03:00.0\"\naddress = \"10.10.0.1/24\"\nrx_queues = 2\n" +
          extra_port,
      "host-test.toml", config::Scope::dataplane);
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors.front().to_string());
  return r.ok() ? *r.config : config::Config{};
}

}  // namespace msgw::host::testing
