// SPDX-License-Identifier: GPL-3.0-or-later
// RFC 4475 / RFC 5118 torture messages through the request handler: every
// file listed in the EXPECTED.tsv files gets the outcome decided for it here
// (a response code, or a silent drop for responses no one asked for), and the
// test fails if a listed file has no decision or a decision has no file.
#include <gtest/gtest.h>

#include <dirent.h>

#include <map>
#include <set>

#include "msgw/sip/digest.hpp"
#include "osip_message.hpp"
#include "test_core_util.hpp"

namespace msgw::sip {
namespace {

// The gateway's own policy, as a UAS: REGISTER and INVITE are challenged,
// OPTIONS answered, MESSAGE is not a method the gateway handles (405).
class GatewayLikeApp : public Handler {
 public:
  GatewayLikeApp() : auth_(AuthConfig{}, creds_) { creds_.add_password("spa1", "msgw", "secret"); }
  void on_request(Stack& st, const ServerRequest& r) override {
    std::string m = r.msg->sip_method;
    if (m == "REGISTER" || m == "INVITE") {
      AuthResult a = auth_.verify(r.msg);
      if (a.status == 400) {
        st.respond(r.txn, 400, a.reason);
        return;
      }
      if (a.status != 0) {
        Headers h;
        // Challenge values from the digest module.
        const char* name = a.status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
        for (auto alg : auth_.config().algorithms) h.emplace_back(name, auth_.challenge_value(alg, a.stale));
        st.respond(r.txn, a.status, {}, h);
        return;
      }
      st.respond(r.txn, 200);
      return;
    }
    st.respond(r.txn, 200);
  }
  InMemoryCredentialStore creds_;
  DigestAuthenticator auth_;
};

struct Expect {
  int status;  // 0 = silent drop
  const char* why;
};

// Outcome per message. RFC 4475 leaves some choices to the receiver; the
// choice made is the strict one (reject) unless noted.
const std::map<std::string, Expect> kExpected = {
    // RFC 4475 3.1.1 valid messages.
    {"wsinv", {481, "valid re-INVITE (To carries a tag): parsed, no such dialog"}},
    {"intmeth", {501, "unknown method"}},
    {"esc01", {407, "valid INVITE with escapes"}},
    {"escnull", {401, "REGISTER with %00: challenged"}},
    {"esc02", {501, "RE%47IST%45R is an unknown method"}},
    {"lwsdisp", {200, "OPTIONS"}},
    {"longreq", {407, "long INVITE"}},
    {"dblreq", {401, "only the REGISTER is processed"}},
    {"semiuri", {200, "OPTIONS"}},
    {"transports", {200, "OPTIONS"}},
    {"mpart01", {405, "MESSAGE parsed, method not handled by the gateway"}},
    {"unreason", {0, "response without a transaction"}},
    {"noreason", {0, "response without a transaction"}},
    // RFC 4475 3.1.2 invalid messages.
    {"badinv01", {400, ""}},
    {"clerr", {400, ""}},
    {"ncl", {400, ""}},
    {"scalar02", {400, ""}},
    {"scalarlg", {0, "broken response dropped"}},
    {"quotbal", {400, ""}},
    {"ltgtruri", {400, ""}},
    {"lwsruri", {400, ""}},
    {"lwsstart", {400, ""}},
    {"trws", {400, ""}},
    {"escruri", {400, "rejected rather than ignored"}},
    {"baddate", {400, ""}},
    {"regbadct", {400, ""}},
    {"badaspec", {400, ""}},
    {"baddn", {400, ""}},
    {"badvers", {505, ""}},
    {"mismatch01", {400, ""}},
    {"mismatch02", {501, ""}},
    {"bigcode", {0, "dropped"}},
    // RFC 4475 3.2-3.4.
    {"badbranch", {400, "rejected statelessly"}},
    {"insuf", {400, ""}},
    {"unkscm", {416, ""}},
    {"novelsc", {416, ""}},
    {"unksm2", {400, "To of a REGISTER must be a SIP AOR"}},
    {"bext01", {420, ""}},
    {"invut", {415, ""}},
    {"regaut01", {401, "unknown auth scheme: challenged"}},
    {"multi01", {400, ""}},
    {"mcl01", {400, ""}},
    {"bcast", {0, "response dropped, never forwarded"}},
    {"zeromf", {200, "endpoint processes OPTIONS with Max-Forwards 0"}},
    {"cparam01", {401, "REGISTER challenged"}},
    {"cparam02", {401, "REGISTER challenged"}},
    {"regescrt", {401, "REGISTER challenged"}},
    {"sdp01", {406, ""}},
    {"inv2543", {407, "RFC 2543 INVITE accepted and challenged"}},
    // RFC 5118.
    {"ipv6-good", {401, "REGISTER challenged"}},
    {"ipv6-bad", {400, "R-URI IPv6 without brackets"}},
    {"port-ambiguous", {401, "REGISTER challenged"}},
    {"port-unambiguous", {401, "REGISTER challenged"}},
    {"via-received-param-with-delim", {481, "BYE parsed despite received=[..]; no such dialog"}},
    {"via-received-param-no-delim", {200, "OPTIONS"}},
    {"ipv6-in-sdp", {400, "Content-Length larger than the datagram (see -fixedcl)"}},
    {"ipv6-in-sdp-fixedcl", {407, "INVITE challenged"}},
    {"mult-ip-in-header", {481, "BYE parsed; no such dialog"}},
    {"mult-ip-in-sdp", {407, "Content-Length shorter than body: rest ignored"}},
    {"mult-ip-in-sdp-fixedcl", {407, "INVITE challenged"}},
    {"ipv4-mapped-ipv6", {407, "Content-Length shorter than body: rest ignored"}},
    {"ipv4-mapped-ipv6-fixedcl", {407, "INVITE challenged"}},
    {"ipv6-bug-abnf-3-colons", {400, "strict: invalid IPv6 reference rejected"}},
    {"ipv6-correct-abnf-2-colons", {200, "OPTIONS"}},
};

std::vector<std::string> listed_in(const std::string& tsv) {
  std::vector<std::string> names;
  std::istringstream in(test::read_file(tsv));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    names.push_back(line.substr(0, line.find('\t')));
  }
  return names;
}

struct Outcome {
  std::vector<int> codes;
  std::string first;
};

Outcome run_one(const std::string& bytes) {
  test::CaptureTransport tp;
  GatewayLikeApp app;
  StackConfig cfg;
  cfg.send_100_trying = false;
  Stack st(cfg, &app, &tp);
  st.receive(test::udp_from(), bytes);
  Outcome o;
  o.codes = tp.response_codes();
  if (!tp.sent.empty()) o.first = tp.sent.front().bytes;
  return o;
}

TEST(CoreConformance, EveryTortureMessageGetsItsOutcome) {
  std::set<std::string> seen;
  int checked = 0;
  for (const char* dir : {"rfc4475", "rfc5118"}) {
    const std::string base = std::string(MSGW_CONFORMANCE_DIR) + "/" + dir + "/";
    auto names = listed_in(base + "EXPECTED.tsv");
    ASSERT_FALSE(names.empty()) << base;
    // The -fixedcl variants are described in the same TSV line as their base.
    std::vector<std::string> files = names;
    for (auto& n : names)
      if (std::ifstream(base + n + "-fixedcl.dat").good()) files.push_back(n + "-fixedcl");
    for (auto& n : files) {
      SCOPED_TRACE(n);
      auto it = kExpected.find(n);
      ASSERT_NE(it, kExpected.end()) << "no decided outcome for " << n;
      std::string bytes = test::read_file(base + n + ".dat");
      ASSERT_FALSE(bytes.empty()) << "missing file " << n;
      Outcome o = run_one(bytes);
      seen.insert(n);
      ++checked;
      if (it->second.status == 0) {
        EXPECT_TRUE(o.codes.empty()) << n << " should be dropped, got " << o.first;
      } else {
        ASSERT_EQ(o.codes.size(), 1u) << n << ": expected exactly one response";
        EXPECT_EQ(o.codes[0], it->second.status) << n << " (" << it->second.why << ")\n" << o.first;
      }
    }
  }
  for (auto& [n, e] : kExpected) EXPECT_TRUE(seen.count(n)) << "decision without a file: " << n;
  EXPECT_EQ(checked, static_cast<int>(kExpected.size()));
}

// A 400 must name the problem in its reason phrase.
TEST(CoreConformance, BadRequestReasonNamesTheProblem) {
  const std::string base = std::string(MSGW_CONFORMANCE_DIR) + "/rfc4475/";
  struct { const char* file; const char* words; } cases[] = {
      {"mcl01", "Content-Length"}, {"badvers", "Version"},      {"multi01", "Multiple"},
      {"scalar02", "CSeq"},        {"ltgtruri", "Angle"},       {"baddate", "Date"},
      {"quotbal", "Quoted"},       {"mismatch01", "CSeq"},      {"insuf", "Missing"},
      {"clerr", "Content-Length"}, {"badbranch", "Branch"},     {"lwsstart", "Request-Line"},
  };
  for (auto& c : cases) {
    Outcome o = run_one(test::read_file(base + c.file + ".dat"));
    std::string status_line = o.first.substr(0, o.first.find("\r\n"));
    EXPECT_NE(status_line.find(c.words), std::string::npos) << c.file << ": " << status_line;
  }
}

// Parsed content checks the RFC calls out.
TEST(CoreConformance, ParsedValuesMatchTheRfc) {
  const std::string base = std::string(MSGW_CONFORMANCE_DIR) + "/rfc4475/";
  Limits lim;
  {
    auto p = parse_message(test::read_file(base + "wsinv.dat"), false, lim);
    ASSERT_TRUE(p.msg);
    EXPECT_EQ(std::atoi(header_value(p.msg.get(), "max-forwards").c_str()), 68);
    EXPECT_STREQ(p.msg->sip_method, "INVITE");
    EXPECT_EQ(osip_list_size(&p.msg->vias), 3);
    EXPECT_EQ(cseq_number(p.msg.get()), 9u);
  }
  {
    auto p = parse_message(test::read_file(base + "mpart01.dat"), false, lim);
    ASSERT_TRUE(p.msg);
    EXPECT_EQ(p.scan.body_len, 553u);
  }
  {
    auto p = parse_message(test::read_file(base + "longreq.dat"), false, lim);
    ASSERT_TRUE(p.msg);
    EXPECT_EQ(osip_list_size(&p.msg->vias), static_cast<int>(p.scan.via_count));
    EXPECT_GE(p.scan.via_count, 30u);
  }
  {
    auto p = parse_message(test::read_file(base + "dblreq.dat"), false, lim);
    ASSERT_TRUE(p.msg);
    EXPECT_STREQ(p.msg->sip_method, "REGISTER");
    EXPECT_EQ(p.scan.body_len, 0u);
  }
  {
    const std::string b6 = std::string(MSGW_CONFORMANCE_DIR) + "/rfc5118/";
    auto p = parse_message(test::read_file(b6 + "port-ambiguous.dat"), false, lim);
    ASSERT_TRUE(p.msg);
    EXPECT_STREQ(p.msg->req_uri->host, "2001:db8::10:5070");
    EXPECT_EQ(p.msg->req_uri->port, nullptr);
    auto q = parse_message(test::read_file(b6 + "port-unambiguous.dat"), false, lim);
    ASSERT_TRUE(q.msg);
    EXPECT_STREQ(q.msg->req_uri->host, "2001:db8::10");
    EXPECT_STREQ(q.msg->req_uri->port, "5070");
  }
}

}  // namespace
}  // namespace msgw::sip
