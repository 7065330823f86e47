// SPDX-License-Identifier: GPL-3.0-or-later
// msgwctl: the operator's command line. Its verbs, arguments and help come
// from the verb table (verbs.hpp); `config check` runs here, the others are
// one request to msgw-control's management socket (protocol.hpp).
//
// Exit status: 0 done, 1 failed (daemon unreachable, verb refused, bad
// file), 2 the command line was not understood. Errors are one line on
// stderr, or with --json one JSON object {"ok":false,"error":...} on stdout.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "msgw/config/config.hpp"
#include "msgw/mgmt/client.hpp"
#include "msgw/mgmt/protocol.hpp"
#include "msgw/mgmt/verbs.hpp"

namespace {

int fail(bool json, const std::string& message, int status) {
  if (json) std::cout << msgw::mgmt::error_reply(message).dump() << "\n";
  else std::cerr << "msgwctl: " << message << "\n";
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace msgw::mgmt;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = parse_command_line(args);
  if (auto* e = std::get_if<ParseError>(&parsed)) return fail(e->json, e->json ? e->message : e->message + " (try --help)", 2);
  const Invocation& inv = std::get<Invocation>(parsed);
  if (inv.help) {
    std::cout << help_text(inv.help_prefix);
    return 0;
  }
  const Verb& verb = *inv.verb;
  if (verb.run_local != nullptr) {
    // Local verbs that edit or read the file, or ask the daemon, get -c and --socket.
    nlohmann::json request = inv.request;
    if (!inv.config_file.empty()) request["config_file"] = inv.config_file;
    if (!inv.socket.empty()) request["socket"] = inv.socket;
    return verb.run_local(request, inv.json, std::cout, std::cerr);
  }

  std::string socket_path = "/run/msgw/control.sock";
  if (const char* env = std::getenv("MSGW_SOCKET"); env != nullptr && *env != '\0') socket_path = env;
  if (!inv.socket.empty()) socket_path = inv.socket;
  if (!inv.config_file.empty()) {
    auto r = msgw::config::load_file(inv.config_file);
    if (!r.ok()) return fail(inv.json, r.errors.front().to_string(), 1);
    socket_path = r.config->sip.management_socket;
  }
  Answer a = ask(socket_path, inv.request);
  if (!a.delivered) return fail(inv.json, a.error, 1);
  if (!a.reply.value("ok", false)) {
    const auto& err = a.reply.contains("error") && a.reply["error"].is_string() ? a.reply["error"].get<std::string>()
                                                                                 : std::string("request failed");
    return fail(inv.json, err, 1);
  }
  print_answer(verb, a.reply, inv.json, std::cout);
  return 0;
}
