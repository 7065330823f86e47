// SPDX-License-Identifier: GPL-3.0-or-later
// DPDK's EAL for a test, fuzz harness or benchmark process: no hugepages, no
// PCI, no shared configuration, one lcore, its runtime directory removed at
// exit; the file prefix carries the pid so that parallel runs (meson runs
// suites side by side) never meet. One definition for every dataplane test
// binary; the daemon builds its own (dataplane/src/main.cpp).
#pragma once

#include <unistd.h>

#include <string>
#include <vector>

#include <rte_eal.h>

#include "msgw/dataplane/eal_runtime_dir.hpp"

namespace msgw::testing {

// `prefix`: a few letters naming the binary (the file prefix is prefix+pid);
// `memory_mb`: what its pools need; `lcore`: the CPU the EAL thread takes.
inline bool init_eal_in_memory(const std::string& prefix, unsigned memory_mb, unsigned lcore = 0) {
  std::vector<std::string> args = {prefix,           "--no-huge",
                                   "--no-pci",       "--no-shconf",
                                   "-l",             std::to_string(lcore),
                                   "-m",             std::to_string(memory_mb),
                                   "--no-telemetry", "--log-level=error",
                                   "--file-prefix",  prefix + std::to_string(getpid())};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(int(argv.size()), argv.data()) < 0) return false;
  msgw::dataplane::remove_eal_runtime_dir_at_exit();
  return true;
}

}  // namespace msgw::testing
