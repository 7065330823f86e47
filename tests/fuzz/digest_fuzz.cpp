// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer: digest credentials / challenge parsing and the verifier, both
// from a bare header value and through oSIP2's parsed Proxy-Authorization.
#include <osipparser2/osip_parser.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "msgw/sip/digest.hpp"
#include "osip_message.hpp"

using namespace msgw::sip;

namespace {
struct Env {
  InMemoryCredentialStore store;
  std::unique_ptr<DigestAuthenticator> auth;
  Env() {
    parser_init();
    store.add_password("spa1", "msgw", "s3cret");
    AuthConfig cfg;
    cfg.realm = "msgw";
    cfg.nc_table_capacity = 64;  // exercise eviction
    std::array<std::uint8_t, 32> key{};
    cfg.nonce_key = key;
    auth = std::make_unique<DigestAuthenticator>(cfg, store);
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Env env;
  if (size < 1) return 0;
  const char* methods[] = {"INVITE", "REGISTER", "ACK", "BYE"};
  const char* method = methods[data[0] & 3];
  std::string_view value(reinterpret_cast<const char*>(data + 1), size - 1);

  DigestCredentials c;
  AuthVerdict v = parse_digest_credentials(value, c);
  if (v == AuthVerdict::ok && (c.username.data() == nullptr || c.response.empty())) std::abort();
  AuthResult r = env.auth->verify_header(value, method, "sip:18005551212@gw", challenge_kind_for(method),
                                         1'800'000'000);
  if (r.verdict == AuthVerdict::ok && v != AuthVerdict::ok) std::abort();
  if (r.verdict != AuthVerdict::ok && r.status == 0) std::abort();

  DigestChallenge ch;
  if (parse_digest_challenge(value, ch)) {
    std::string a = build_digest_authorization(ch, "spa1", "s3cret", method, "sip:x@y", "c", 1);
    DigestCredentials back;
    if (parse_digest_credentials(a, back) != AuthVerdict::ok) std::abort();
  }

  // Through oSIP2, as the request handler sees it.
  if (value.find_first_of("\r\n") == std::string_view::npos) {
    std::string msg = std::string(method) +
                      " sip:18005551212@gw SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP 192.168.0.2:5062;branch=z9hG4bK-1;rport\r\n"
                      "From: <sip:spa1@gw>;tag=1\r\nTo: <sip:18005551212@gw>\r\n"
                      "Call-ID: f@z\r\nCSeq: 1 " + method + "\r\n" +
                      (challenge_kind_for(method) == ChallengeKind::www ? "Authorization: "
                                                                        : "Proxy-Authorization: ") +
                      std::string(value) + "\r\nContent-Length: 0\r\n\r\n";
    osip_message_t* m = nullptr;
    if (osip_message_init(&m) == 0) {
      if (osip_message_parse(m, msg.data(), msg.size()) == 0) {
        AuthResult r2 = env.auth->verify(m, 1'800'000'000);
        if (r2.verdict != AuthVerdict::ok && r2.status == 0) std::abort();
      }
      osip_message_free(m);
    }
  }
  return 0;
}
