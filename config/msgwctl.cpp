// msgwctl: the operator's command line. `config check` validates a file
// offline; reload, show and hangup talk to msgw-control's management socket
// (one JSON request line, one JSON answer line; see
// control/include/msgw/control/management.hpp).
#include <CLI/CLI.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

// One request, one answer. Any failure is one line on stderr and exit 1.
int ask(const std::string& socket_path, const nlohmann::json& request, nlohmann::json& reply) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    std::cerr << "msgwctl: " << socket_path << ": socket path too long\n";
    return 1;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::cerr << "msgwctl: cannot reach msgw-control at " << socket_path << ": "
              << std::strerror(errno) << " (is it running? see --socket)\n";
    if (fd >= 0) close(fd);
    return 1;
  }
  timeval tv{10, 0};  // a control plane that does not answer in 10 s is stuck
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out = request.dump() + "\n";
  if (send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
    std::cerr << "msgwctl: " << socket_path << ": send: " << std::strerror(errno) << "\n";
    close(fd);
    return 1;
  }
  std::string in;
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    if (in.find('\n') != std::string::npos) break;
  }
  close(fd);
  auto nl = in.find('\n');
  if (nl == std::string::npos) {
    std::cerr << "msgwctl: " << socket_path << ": no answer from msgw-control\n";
    return 1;
  }
  reply = nlohmann::json::parse(in.substr(0, nl), nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    std::cerr << "msgwctl: " << socket_path << ": unreadable answer from msgw-control\n";
    return 1;
  }
  if (!reply.value("ok", false)) {
    std::cerr << "msgwctl: " << reply.value("error", std::string("request failed")) << "\n";
    return 1;
  }
  return 0;
}

// Rows of objects as an aligned table, columns in the order of the first row.
void print_table(const nlohmann::json& rows) {
  if (!rows.is_array() || rows.empty()) {
    if (rows.is_object()) {
      for (const auto& [k, v] : rows.items())
        std::cout << k << ": " << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
    } else {
      std::cout << "(none)\n";
    }
    return;
  }
  std::vector<std::string> cols;
  for (const auto& [k, v] : rows[0].items()) cols.push_back(k);
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> width(cols.size());
  for (size_t c = 0; c < cols.size(); ++c) width[c] = cols[c].size();
  for (const auto& r : rows) {
    std::vector<std::string> line;
    for (size_t c = 0; c < cols.size(); ++c) {
      const auto& v = r.contains(cols[c]) ? r[cols[c]] : nlohmann::json();
      line.push_back(v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump());
      width[c] = std::max(width[c], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  for (size_t c = 0; c < cols.size(); ++c)
    std::cout << (c ? "  " : "") << cols[c] << std::string(width[c] - cols[c].size(), ' ');
  std::cout << "\n";
  for (const auto& line : cells) {
    for (size_t c = 0; c < cols.size(); ++c)
      std::cout << (c ? "  " : "") << line[c] << std::string(width[c] - line[c].size(), ' ');
    std::cout << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"msgwctl: provision and query the msgw gateway"};
  app.require_subcommand(1);
  app.fallthrough();  // global options (--socket, -c) may follow the subcommand
  bool json = false;

  auto* config = app.add_subcommand("config", "work on configuration files");
  config->require_subcommand(1);
  auto* check = config->add_subcommand("check", "validate a configuration file");
  std::string file;
  check->add_option("FILE", file, "TOML configuration file")->required();
  check->add_flag("--json", json, "print the result as JSON");

  std::string socket_path = "/run/msgw/control.sock";
  std::string config_file;
  app.add_option("--socket", socket_path, "msgw-control's management socket")
      ->envname("MSGW_SOCKET");
  app.add_option("-c,--config", config_file,
                 "take the management socket from this config file's [sip] section");

  auto* reload = app.add_subcommand("reload", "re-read the config file; a bad file changes nothing");
  auto* show = app.add_subcommand("show", "show live state");
  std::string what;
  show->add_option("WHAT", what, "calls | registrations | flows | stats | cdrs")
      ->required()
      ->check(CLI::IsMember({"calls", "registrations", "flows", "stats", "cdrs"}));
  show->add_flag("--json", json, "print the answer as JSON");
  auto* hangup = app.add_subcommand("hangup", "end a call with BYE on both legs");
  std::string call;
  hangup->add_option("CALL", call, "call id (from show calls)")->required();
  hangup->add_flag("--json", json, "print the answer as JSON");
  reload->add_flag("--json", json, "print the answer as JSON");

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

  if (!config_file.empty()) {
    auto r = msgw::config::load_file(config_file);
    if (!r.ok()) {
      std::cerr << r.errors.front().to_string() << "\n";
      return 1;
    }
    socket_path = r.config->sip.management_socket;
  }
  nlohmann::json request, reply;
  if (reload->parsed()) request = {{"cmd", "reload"}};
  if (show->parsed()) request = {{"cmd", "show"}, {"what", what}};
  if (hangup->parsed()) request = {{"cmd", "hangup"}, {"call", call}};
  if (int rc = ask(socket_path, request, reply); rc != 0) return rc;
  if (json) {
    std::cout << reply.value("data", nlohmann::json::object()).dump() << "\n";
  } else if (reply.contains("data")) {
    print_table(reply["data"]);
  } else {
    std::cout << "ok\n";
  }
  return 0;
}
