// SPDX-License-Identifier: GPL-3.0-or-later
// EAL keeps a runtime directory per file prefix (/var/run/dpdk/PREFIX: the
// shared config, memseg lists, the multi-process and telemetry sockets) and
// leaves it behind after rte_eal_cleanup(), one more for every run of every
// process with a prefix of its own.  These remove it on the way out.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include <rte_eal.h>

namespace msgw::dataplane {

inline void remove_eal_runtime_dir(const std::string& dir) {
  std::error_code ec;  // already gone, or never made: nothing to do
  if (!dir.empty()) std::filesystem::remove_all(dir, ec);
}

// For processes that never call rte_eal_cleanup() themselves (test
// binaries whose EAL lives as long as they do): at exit.  Once per process.
inline void remove_eal_runtime_dir_at_exit() {
  static const std::string dir = rte_eal_get_runtime_dir();
  std::atexit([] { remove_eal_runtime_dir(dir); });
}

// rte_eal_cleanup(), then the runtime directory.
inline void eal_cleanup_and_remove_runtime_dir() {
  const std::string dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  remove_eal_runtime_dir(dir);
}

}  // namespace msgw::dataplane
