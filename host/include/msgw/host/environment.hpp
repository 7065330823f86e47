// SPDX-License-Identifier: GPL-3.0-or-later
// What `host check` and `host prepare` read and do besides files: the host
// is read through `root` (a fixture tree in tests), and what a tree cannot
// fake (the process's memory-lock limit, the interfaces' addresses, running
// a command) is a value or a function the caller provides.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace msgw::host {

// RLIMIT_MEMLOCK of the process that will run the dataplane (in practice:
// this one, or the service unit's LimitMEMLOCK).
struct Memlock {
  std::optional<uint64_t> limit_bytes;  // nullopt: unlimited
  bool cap_ipc_lock = false;            // CAP_IPC_LOCK lifts the limit
};

struct HostEnv {
  std::filesystem::path root = "/";
  Memlock memlock;
  // IPv4 and IPv6 addresses configured on an interface ("192.0.2.10").
  std::function<std::vector<std::string>(const std::string& ifname)> addresses;
  // Runs argv (mount, modprobe): "" when it succeeded, otherwise what went wrong.
  std::function<std::string(const std::vector<std::string>& argv)> run;

  // This process's limit and capability, getifaddrs(), posix_spawn. With a
  // root other than "/" the tree is not the live host: no interface has an
  // address and commands are refused (never mount or load a module on
  // behalf of a fixture).
  static HostEnv live(std::filesystem::path root = "/");
};

}  // namespace msgw::host
