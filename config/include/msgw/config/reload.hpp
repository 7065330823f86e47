// SPDX-License-Identifier: GPL-3.0-or-later
// What a reload of msgw-control may change: every configuration key
// classified once (reload.cpp, the X-macro lists), per daemon: applied live,
// needs a restart of that daemon, or not read by it. `plan_reload` diffs the
// running configuration against the file's and gives the configuration to
// apply (the file's, with every key that needs a restart of msgw-control, or
// that only msgw-dataplane reads, kept as it runs) and each changed key with
// what it needs. The table in config/README.md is this table (a unit test
// compares them).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "msgw/config/config.hpp"

namespace msgw::config {

enum class Effect : uint8_t {
  unused,   // the daemon does not read the key
  live,     // a reload applies it (to what starts after it: calls, transactions, registrations)
  restart,  // read at the daemon's start only
};

struct KeyClass {
  std::string_view key;     // "sip.t1_ms", "trunk.address": section and key, no index
  Effect control;           // msgw-control
  Effect dataplane;         // msgw-dataplane
  std::string_view note;    // what "live" means for it, or why a restart
};

std::span<const KeyClass> key_classes();
const KeyClass* key_class(std::string_view key);

// Every key the loader reads ("section.key"), from the loader itself: the
// table above must name each exactly once (a unit test checks it).
std::vector<std::string> schema_keys();

struct ConfigChange {
  std::string key;          // "sip.t1_ms", "trunk[carrier].address", "route[tollfree]"
  std::string what;         // "changed", "added", "removed", "reordered"
  bool live = false;        // applied by this reload
  bool restart_control = false;
  bool restart_dataplane = false;
};

struct ReloadPlan {
  Config apply;             // what msgw-control runs with after the reload
  std::vector<ConfigChange> changes;
};

ReloadPlan plan_reload(const Config& running, const Config& file);

// The table as Markdown rows ("| `sip.t1_ms` | live: ... | — |"), as in config/README.md.
std::string key_classes_markdown();

}  // namespace msgw::config
