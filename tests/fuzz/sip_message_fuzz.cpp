// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer harness: SIP message parser + request handler. Each input goes
// through the pre-scan and oSIP2 parse (and the body readers: SDP part, RFC
// 5621 acceptance; the RFC 4028 session-timer headers, RFC 3323 privacy), the TCP framer (in chunks), and a
// full stack with an answering handler (dialogs included); the stack must
// answer or drop, never crash or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "msgw/sip/privacy.hpp"
#include "msgw/sip/session_timer.hpp"
#include "msgw/sip/stack.hpp"
#include "osip_message.hpp"
#include "stack_impl.hpp"

namespace {

using namespace msgw::sip;

class NullTransport : public Transport {
 public:
  bool send(Proto, const Endpoint&, uint64_t, std::string_view bytes) override {
    // Whatever the stack sends must itself be a parsable message.
    auto p = parse_message(bytes, false, Limits{});
    if (p.scan.verdict == Verdict::Ok && !p.msg) __builtin_trap();
    ++sent;
    return true;
  }
  std::optional<Endpoint> local_for(Proto, const Endpoint&) const override { return Endpoint::from("192.0.2.1", 5060); }
  bool supports(Proto) const override { return true; }
  int sent = 0;
};

class Answerer : public Handler {
 public:
  explicit Answerer(uint8_t mode) : mode_(mode) {}
  void on_request(Stack& st, const ServerRequest& r) override {
    static constexpr int codes[] = {200, 180, 401, 407, 486, 500, 183, 202};
    int code = codes[mode_ % 8];
    if (code < 200) {
      st.respond(r.txn, code);
      code = 200;
    }
    st.respond(r.txn, code, {}, {{"X-Fuzz", "1"}}, "application/sdp", "v=0\r\n");
    if (r.dialog && (mode_ & 0x10)) {
      if (auto bye = r.dialog->make_request("BYE")) st.send_request(std::move(bye), *Endpoint::from("192.0.2.9", 5060));
    }
  }
 private:
  uint8_t mode_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const uint8_t mode = size ? data[size - 1] : 0;
  Limits lim;

  ParseResult p = parse_message(bytes, false, lim);
  if (p.msg) {
    // Re-serialising what oSIP2 parsed must not fault either.
    osip_message_force_update(p.msg.get());
    (void)serialize(p.msg.get());
    // The body readers: the SDP of a (multipart) body, the RFC 5621 check.
    (void)sdp_of(p.msg.get());
    (void)offer_body_acceptable(p.msg.get());
    // RFC 4028's headers (Session-Expires, Min-SE, the timer option tag).
    (void)session_timer_of(p.msg.get());
    (void)caller_withheld(p.msg.get());
  }

  StreamFramer framer(lim);
  std::size_t chunk = 1 + (mode % 97);
  std::string out, why;
  for (std::size_t off = 0; off < size; off += chunk) {
    if (!framer.append(bytes.data() + off, std::min(chunk, size - off))) break;
    while (framer.next(out, why) == StreamFramer::Status::Message) (void)scan_message(out, true, lim);
  }
  (void)scanned_server_key(p.scan);

  NullTransport tp;
  Answerer app(mode);
  StackConfig cfg;
  cfg.timers.t1 = std::chrono::milliseconds(1);
  if (mode & 0x80) {
    cfg.admission.source_invite_rate = 1;
    cfg.admission.source_register_rate = 1;
    cfg.admission.source_burst = 1;
  }
  Stack st(cfg, &app, &tp);
  Inbound in;
  in.proto = (mode & 0x20) ? Proto::Tcp : Proto::Udp;
  in.peer = *Endpoint::from((mode & 0x40) ? "2001:db8::7" : "198.51.100.7", 5062);
  in.local = *Endpoint::from("192.0.2.1", 5060);
  in.socket = 1;
  if (mode & 0x80) in.queue_age_us = 1'000'000;
  st.receive(in, bytes);
  // Same bytes again: the retransmission path.
  st.receive(in, bytes);
  st.run_timers();
  return 0;
}
