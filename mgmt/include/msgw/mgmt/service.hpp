// SPDX-License-Identifier: GPL-3.0-or-later
// What the management verbs drive: msgw-control implements it over its
// Gateway (control/include/msgw/control/management_service.hpp), tests with
// fakes. The JSON each show_* returns is the "data" of the answer, in the
// shape the verb table declares (rows: an array of objects; object: one
// object).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "msgw/config/config.hpp"

namespace msgw::mgmt {

class Service {
 public:
  virtual ~Service() = default;
  virtual nlohmann::json show_calls() = 0;
  virtual nlohmann::json show_registrations() = 0;
  virtual nlohmann::json show_flows() = 0;
  virtual nlohmann::json show_stats() = 0;
  // Newest first: at most `limit`, started at or after since_ms (0: all).
  virtual nlohmann::json show_cdrs(int limit, int64_t since_ms) = 0;
  virtual nlohmann::json show_trunks() = 0;
  // Ends the call as the operator's hangup (BYE on both legs when answered,
  // 480 to the caller before); false: no such call.
  virtual bool hangup(const std::string& call) = 0;
  // Re-reads the configuration file; false (and why, without a prefix) when
  // the file cannot be used and nothing changed. *report (an object): the
  // changed keys applied live ("applied") and those that need a restart of
  // each daemon ("restart_msgw_control", "restart_msgw_dataplane"), as
  // config/include/msgw/config/reload.hpp classifies them.
  virtual bool reload_from_file(std::string* error, nlohmann::json* report) = 0;
  // A new digest nonce key; the previous one verifies during a grace period.
  // The answer (an object) says until when.
  virtual nlohmann::json rotate_nonce_key() = 0;
  // The configuration the gateway runs with (as last started or reloaded):
  // `show running` lists its subscribers, trunks, routes and DIDs the way
  // the provisioning list verbs list the file's, which mark what differs.
  virtual const config::Config& running_config() = 0;
};

}  // namespace msgw::mgmt
