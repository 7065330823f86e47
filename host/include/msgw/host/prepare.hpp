// SPDX-License-Identifier: GPL-3.0-or-later
// `msgwctl host prepare`: applies what can be applied at run time, and
// nothing else: hugepages per NUMA node, a hugetlbfs mount, the config's
// PCI devices on vfio-pci (driver_override), and the performance cpufreq
// governor on the worker CPUs. Idempotent: planned
// from what the host shows now, so a prepared host plans nothing. It never
// touches a device the config does not name, and refuses one that carries
// the host's default route or an address (how the operator reaches it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "msgw/config/config.hpp"
#include "msgw/host/environment.hpp"

namespace msgw::host {

enum class ActionKind : uint8_t {
  write,  // write `value` to the file `path` (sysfs; never created)
  mkdir,  // create the directory `path`
  run,    // run `argv`
};
enum class ActionState : uint8_t { planned, done, failed, skipped };
std::string_view state_name(ActionState s);  // "planned", "done", "failed", "skipped"

struct Action {
  std::string subject;  // what it is for: "node0", "hugetlbfs", "0000:03:00.0 (port access)"
  std::string why;
  ActionKind kind = ActionKind::write;
  std::filesystem::path path;
  std::string value;
  std::vector<std::string> argv;
  bool verify = false;  // read `path` back: the kernel may grant less (nr_hugepages)
  ActionState state = ActionState::planned;
  std::string error;
  std::string command() const;  // as a shell line: echo VALUE > PATH, mkdir -p PATH, argv
};

struct Refusal {
  std::string subject;
  std::string reason;
};

// Something looked at that needs nothing and that the operator may expect
// an action for (a worker CPU without cpufreq has no governor to set).
struct Note {
  std::string subject;
  std::string text;
};

struct Plan {
  std::vector<Action> actions;
  std::vector<Refusal> refused;
  std::vector<Note> notes;
  bool ok() const;  // nothing refused, no action failed
};

// What would bring the host to what the config needs (nothing when it is there).
Plan plan(const config::Config& config, const HostEnv& env);
// plan(), then, unless dry_run, each action in order; after a failure the
// later actions for the same subject are skipped.
Plan prepare(const config::Config& config, const HostEnv& env, bool dry_run);

}  // namespace msgw::host
