// SPDX-License-Identifier: GPL-3.0-or-later
// Arbitrary bytes as a management request line (what msgw-control's socket
// reads) through the verb table's dispatch, and as msgwctl words through
// its command-line parser: every answer is a JSON object with "ok", errors
// carry a message, and nothing throws or crashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "msgw/mgmt/verbs.hpp"

namespace {

struct Fake : msgw::mgmt::Service {
  nlohmann::json rows() { return nlohmann::json::array({{{"k", 1}}}); }
  nlohmann::json show_calls() override { return rows(); }
  nlohmann::json show_registrations() override { return rows(); }
  nlohmann::json show_flows() override { return rows(); }
  nlohmann::json show_stats() override { return {{"k", 1}}; }
  nlohmann::json rotate_nonce_key() override { return {{"k", 1}}; }
  nlohmann::json show_cdrs(int limit, int64_t) override {
    if (limit < 1 || limit > 1000) std::abort();  // the table's range held
    return rows();
  }
  nlohmann::json show_trunks() override { return rows(); }
  const msgw::config::Config& running_config() override { return config; }
  msgw::config::Config config;
  bool hangup(const std::string& call) override { return call.size() % 2 == 0; }
  bool reload_from_file(std::string* error, nlohmann::json* /*report*/) override {
    *error = "no";
    return false;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fake service;
  const std::string text(reinterpret_cast<const char*>(data), size);
  nlohmann::json req = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!req.is_discarded() && req.is_object() && req.contains("cmd") && req["cmd"].is_string()) {
    nlohmann::json reply = msgw::mgmt::dispatch(service, req);
    if (!reply.is_object() || !reply.contains("ok") || !reply["ok"].is_boolean()) std::abort();
    if (!reply["ok"].get<bool>() && (!reply.contains("error") || !reply["error"].is_string())) std::abort();
  }
  // The same bytes as words split on spaces (argv).
  std::vector<std::string> words;
  std::string w;
  for (char c : text) {
    if (c == ' ') {
      words.push_back(w);
      w.clear();
    } else {
      w.push_back(c);
    }
  }
  words.push_back(w);
  auto parsed = msgw::mgmt::parse_command_line(words);
  if (auto* inv = std::get_if<msgw::mgmt::Invocation>(&parsed); inv != nullptr && !inv->help) {
    if (inv->verb == nullptr) std::abort();
    if (inv->verb->serve != nullptr) {
      // What msgwctl would send is a request the server accepts.
      nlohmann::json reply = msgw::mgmt::dispatch(service, inv->request);
      const std::string error = reply.value("error", std::string());
      if (error.rfind("unknown", 0) == 0 || error.find("must be") != std::string::npos) std::abort();
    }
  }
  return 0;
}
