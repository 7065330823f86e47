// msgwctl: the operator's command line. `config check` validates a file
// offline; the runtime commands (reload, show, hangup) talk to msgw-control's
// management socket and arrive with the control plane.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "msgw/config/config.hpp"

namespace {

int config_check(const std::string& file, bool json) {
  auto r = msgw::config::load_file(file);
  if (json) {
    nlohmann::json out;
    out["file"] = file;
    out["ok"] = r.ok();
    out["errors"] = nlohmann::json::array();
    for (const auto& e : r.errors)
      out["errors"].push_back({{"line", e.line}, {"column", e.column}, {"key", e.key},
                               {"message", e.message}});
    if (r.ok()) {
      const auto& c = *r.config;
      out["summary"] = {{"ports", c.ports.size()},       {"subscribers", c.subscribers.size()},
                        {"trunks", c.trunks.size()},     {"routes", c.routes.size()},
                        {"workers", c.dataplane.worker_lcores.size()}};
    }
    std::cout << out.dump() << "\n";
    return r.ok() ? 0 : 1;
  }
  if (!r.ok()) {
    for (const auto& e : r.errors) std::cerr << e.to_string() << "\n";
    std::cerr << file << ": " << r.errors.size() << " error(s)\n";
    return 1;
  }
  const auto& c = *r.config;
  std::cout << file << ": ok (" << c.ports.size() << " ports, " << c.subscribers.size()
            << " subscribers, " << c.trunks.size() << " trunks, " << c.routes.size()
            << " routes)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"msgwctl: provision and query the msgw gateway"};
  app.require_subcommand(1);
  bool json = false;

  auto* config = app.add_subcommand("config", "work on configuration files");
  config->require_subcommand(1);
  auto* check = config->add_subcommand("check", "validate a configuration file");
  std::string file;
  check->add_option("FILE", file, "TOML configuration file")->required();
  check->add_flag("--json", json, "print the result as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One clear line and a non-zero exit, as for every msgwctl error.
    std::cerr << "msgwctl: " << e.what() << " (try --help)\n";
    return 2;
  }
  if (check->parsed()) return config_check(file, json);
  return 2;
}
