// SPDX-License-Identifier: GPL-3.0-or-later
// Shared helpers for the SIP core tests: a transport that records (and can
// drop) what the stack sends, and file loading.
#pragma once

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "msgw/sip/stack.hpp"
#include "osip_message.hpp"

namespace msgw::sip::test {

struct Sent {
  Proto proto;
  Endpoint dst;
  std::string bytes;
  std::chrono::steady_clock::time_point at;
  bool dropped;
};

class CaptureTransport : public Transport {
 public:
  explicit CaptureTransport(std::string local_ip = "192.0.2.1", uint16_t port = 5060)
      : local_(*Endpoint::from(local_ip, port)) {}
  bool send(Proto proto, const Endpoint& dst, uint64_t, std::string_view bytes) override {
    Sent s{proto, dst, std::string(bytes), std::chrono::steady_clock::now(), false};
    if (drop && drop(s)) s.dropped = true;
    sent.push_back(std::move(s));
    return true;
  }
  std::optional<Endpoint> local_for(Proto, const Endpoint&) const override { return local_; }
  bool supports(Proto p) const override { return p == Proto::Udp || tcp; }

  // Status code of the i-th sent packet that is a response, -1 if none.
  std::vector<int> response_codes() const {
    std::vector<int> out;
    for (auto& s : sent)
      if (s.bytes.rfind("SIP/2.0 ", 0) == 0) out.push_back(std::atoi(s.bytes.c_str() + 8));
    return out;
  }
  std::size_t count_starting(std::string_view prefix) const {
    std::size_t n = 0;
    for (auto& s : sent) n += s.bytes.rfind(prefix, 0) == 0;
    return n;
  }

  std::vector<Sent> sent;
  std::function<bool(const Sent&)> drop;
  bool tcp = false;
  Endpoint local_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline Inbound udp_from(const char* ip = "198.51.100.7", uint16_t port = 5062) {
  Inbound in;
  in.proto = Proto::Udp;
  in.peer = *Endpoint::from(ip, port);
  in.local = *Endpoint::from("192.0.2.1", 5060);
  in.socket = 1;
  return in;
}

// A request as the TU would hand it to send_request (the stack adds Via,
// Max-Forwards, Contact): fresh From-tag and Call-ID, CSeq 1.
inline MessagePtr new_request(const char* method, const char* ruri = "sip:carrier@192.0.2.50") {
  osip_message_t* m = nullptr;
  osip_message_init(&m);
  osip_message_set_method(m, osip_strdup(method));
  osip_message_set_version(m, osip_strdup("SIP/2.0"));
  osip_uri_t* u = nullptr;
  osip_uri_init(&u);
  osip_uri_parse(u, ruri);
  osip_message_set_uri(m, u);
  osip_message_set_from(m, ("<sip:gw@192.0.2.1>;tag=" + random_token(8)).c_str());
  osip_message_set_to(m, ruri);
  osip_message_set_call_id(m, (random_token(12) + "@192.0.2.1").c_str());
  osip_message_set_cseq(m, (std::string("1 ") + method).c_str());
  return MessagePtr(m);
}

// The peer's response to a request the stack sent, with its To-tag (and a
// Contact for a 2xx).
inline std::string build_response(const std::string& request_bytes, int code, const char* tag) {
  auto p = parse_message(request_bytes, false, Limits{});
  EXPECT_TRUE(p.msg);
  MessagePtr r = make_response(p.msg.get(), code, {}, tag);
  osip_message_set_content_length(r.get(), "0");
  if (code >= 200 && code < 300) osip_message_set_contact(r.get(), "<sip:carrier@192.0.2.50:5060>");
  return serialize(r.get());
}

// Runs the stack's timers until `done` or the deadline.
inline void pump(Stack& st, std::chrono::milliseconds for_how_long, const std::function<bool()>& done = {}) {
  auto end = std::chrono::steady_clock::now() + for_how_long;
  while (std::chrono::steady_clock::now() < end) {
    if (done && done()) return;
    int t = st.next_timeout_ms();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
    if (t < 0 || t > left) t = static_cast<int>(std::max<long>(0, left));
    if (t > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(t, 5)));
    st.run_timers();
  }
}

}  // namespace msgw::sip::test
