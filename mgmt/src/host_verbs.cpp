// SPDX-License-Identifier: GPL-3.0-or-later
#include "host_verbs.hpp"

#include <ostream>
#include <string>

#include "msgw/config/config.hpp"
#include "msgw/host/check.hpp"
#include "msgw/host/prepare.hpp"
#include "msgw/host/report.hpp"
#include "msgw/mgmt/protocol.hpp"

namespace msgw::mgmt {

namespace {

constexpr const char* kDefaultConfig = "/etc/msgw/msgw.toml";

// The config a host verb reads, or an error already reported (nullopt).
std::optional<config::Config> load(const nlohmann::json& request, bool json, std::ostream& out, std::ostream& err) {
  const std::string file = request.value("config_file", std::string(kDefaultConfig));
  auto r = config::load_file(file, config::Scope::dataplane);  // the host serves the dataplane
  if (r.ok()) return std::move(*r.config);
  const std::string first = r.errors.front().to_string();
  const std::string msg = r.errors.size() == 1 ? first
                                               : first + " (and " + std::to_string(r.errors.size() - 1) +
                                                     " more: msgwctl config check " + file + ")";
  if (json) out << error_reply(msg).dump() << "\n";
  else err << "msgwctl: " << msg << "\n";
  return std::nullopt;
}

}  // namespace

int run_host_check(const nlohmann::json& request, bool json, std::ostream& out, std::ostream& err) {
  const auto c = load(request, json, out, err);
  if (!c) return 1;
  const auto env = host::HostEnv::live(request.value("root", std::string("/")));
  const auto items = host::check(*c, env);
  if (json) out << host::check_json(items).dump() << "\n";
  else host::print_check(items, out);
  return host::worst(items) == host::Status::fail ? 1 : 0;
}

int run_host_prepare(const nlohmann::json& request, bool json, std::ostream& out, std::ostream& err) {
  const auto c = load(request, json, out, err);
  if (!c) return 1;
  const bool dry_run = request.value("dry-run", false);
  const auto env = host::HostEnv::live(request.value("root", std::string("/")));
  const auto p = host::prepare(*c, env, dry_run);
  if (json) out << host::plan_json(p, dry_run).dump() << "\n";
  else host::print_plan(p, dry_run, out);
  return p.ok() ? 0 : 1;
}

}  // namespace msgw::mgmt
