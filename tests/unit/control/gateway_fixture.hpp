// SPDX-License-Identifier: GPL-3.0-or-later
// Test support for driving the B2BUA end to end without sockets: the SIP
// stack's external transport captures what the gateway sends, a fake
// dataplane records the flows it programs and injects events, builders make
// the phone's and the carrier's SIP messages. Shared by test_gateway.cpp and
// test_call_transitions.cpp.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "msgw/config/config.hpp"
#include "msgw/control/gateway.hpp"
#include "msgw/control/management_service.hpp"
#include "msgw/control/media.hpp"
#include "msgw/control/state_store.hpp"
#include "msgw/sip/digest.hpp"
#include "msgw/sip/message.hpp"
#include "msgw/sip/stack.hpp"
#include "msgw/mgmt/verbs.hpp"
#include "osip_message.hpp"  // white-box: the test reads raw headers

namespace msgw_test {

using namespace msgw;
using control::Gateway;

// A management request as msgw-control's socket serves it: through the verb
// table (which also checks each answer's shape) to the Gateway.
inline nlohmann::json manage(Gateway& gw, const nlohmann::json& request) {
  control::GatewayService service(gw);
  return mgmt::dispatch(service, request);
}

inline constexpr const char* kConfig = R"(
[[port]]
name = "access"
device = "net_null0"
address = "10.10.0.1/24"
role = "access"
[[port]]
name = "trunk"
device = "net_null1"
address = "10.20.0.1/24"
role = "trunk"
[sip]
realm = "msgw"
listen = ["10.10.0.1:5060", "10.20.0.1:5060"]
max_auth_failures = 3
digest_algorithms = ["MD5"]
[media]
port_min = 16384
port_max = 16483
[[subscriber]]
user = "spa1"
password = "spa1-secret"
display_name = "Good Body"
codecs = ["PCMU", "PCMA", "G726-32", "G729"]
dids = ["15550001000"]
[[trunk]]
name = "carrier"
address = "10.20.0.2:5060"
codecs = ["G729"]
port = "trunk"
timeout_ms = 2000
[[trunk]]
name = "backup"
address = "10.20.0.3:5060"
codecs = ["G729", "PCMU"]
port = "trunk"
[[route]]
name = "tollfree"
prefix = "1800"
trunks = ["carrier", "backup"]
)";

class FakeMedia final : public control::MediaBackend {
 public:
  struct Op {
    std::string what;
    uint32_t flow;
    dataplane::LegSpec a{}, b{};
  };
  // Queued like the dataplane's: the ack (accepted, or refused when
  // `fail`) comes with the next poll() unless `hold_acks`; `refuse_queue`:
  // the command cannot even be queued (ring full, no dataplane).
  bool add(uint32_t f, const dataplane::LegSpec& a, const dataplane::LegSpec& b, std::string* e) override {
    if (refuse_queue) {
      *e = "dataplane command ring full or dataplane down";
      return false;
    }
    ops.push_back({fail ? "add-refused" : "add", f, a, b});
    if (!fail) flows[f] = {"add", f, a, b};
    control::MediaEvent ack{};
    ack.kind = fail ? control::MediaEvent::Kind::flow_add_failed : control::MediaEvent::Kind::flow_added;
    ack.flow_id = f;
    if (fail) ack.detail = "dataplane refused: table_full";
    acks.push_back(std::move(ack));
    return true;
  }
  // The acks held back (hold_acks) arrive at the next poll().
  void release_acks() { hold_acks = false; }
  std::size_t adds_pending() const override { return acks.size(); }
  bool modify(uint32_t f, const dataplane::LegSpec& a, const dataplane::LegSpec& b, std::string* e) override {
    if (fail_modify || !flows.count(f)) {  // the latter as the dataplane's FlowTable::modify answers
      *e = fail_modify ? "dataplane refused: table_full" : "dataplane refused: no_such_flow";
      ops.push_back({"modify-refused", f, a, b});
      return false;
    }
    ops.push_back({"modify", f, a, b});
    flows[f] = {"modify", f, a, b};
    return true;
  }
  bool remove(uint32_t f, std::string*) override {
    ops.push_back({"del", f, {}, {}});
    flows.erase(f);
    return true;
  }
  std::vector<control::MediaEvent> poll(bool* restarted) override {
    *restarted = restart;
    if (restart) {
      flows.clear();
      acks.clear();  // the old dataplane answers nothing any more
    }
    restart = false;
    std::vector<control::MediaEvent> out;
    if (!hold_acks) {
      out.assign(acks.begin(), acks.end());
      acks.clear();
    }
    out.insert(out.end(), events.begin(), events.end());
    events.clear();
    return out;
  }
  control::MediaLegStats stats(uint32_t, uint8_t leg) const override {
    control::MediaLegStats s;
    s.packets = leg == 0 ? 500 : 498;
    s.lost = leg == 0 ? 0 : 2;
    s.jitter = 16;
    return s;
  }
  bool up() const override { return true; }
  uint32_t max_flows() const override { return 1024; }

  // What DataplaneMedia::poll() reports when a modify it queued was refused
  // (or never acknowledged); superseded: a later command for the flow exists.
  static control::MediaEvent update_failed(uint32_t flow, bool superseded = false) {
    control::MediaEvent e{.kind = control::MediaEvent::Kind::flow_update_failed, .flow_id = flow};
    e.superseded = superseded;
    e.detail = "dataplane refused: bad local address";
    return e;
  }

  // fail: the dataplane refuses adds; fail_modify: modify() cannot be
  // queued (ring full); hold_acks: adds stay unanswered until released.
  bool fail = false, fail_modify = false, restart = false, hold_acks = false, refuse_queue = false;
  std::vector<Op> ops;
  std::map<uint32_t, Op> flows;
  std::deque<control::MediaEvent> acks;    // adds' outcomes, in posting order
  std::deque<control::MediaEvent> events;
};

class Capture final : public sip::Transport {
 public:
  struct Sent {
    sip::Endpoint dst;
    std::string bytes;
  };
  bool send(sip::Proto, const sip::Endpoint& dst, uint64_t, std::string_view b) override {
    sent.push_back({dst, std::string(b)});
    return true;
  }
  std::optional<sip::Endpoint> local_for(sip::Proto, const sip::Endpoint& dst) const override {
    return sip::Endpoint::from(dst.ip().rfind("10.20.", 0) == 0 ? "10.20.0.1" : "10.10.0.1", 5060);
  }
  bool supports(sip::Proto p) const override { return p == sip::Proto::Udp; }
  std::vector<Sent> sent;
};

struct Msg {
  sip::MessagePtr m;
  std::string raw;
  sip::Endpoint dst;
  int status() const { return m->status_code; }
  std::string method() const { return m->sip_method ? m->sip_method : ""; }
  std::string body() const { return sip::body_of(m.get()); }
  std::string header(const char* n) const { return sip::header_value(m.get(), n); }
};

inline std::string sdp_offer(const std::string& ip, int port, const std::string& pts,
                      const std::vector<std::string>& extra, const std::string& dir = "") {
  std::string s = "v=0\r\no=- 91459 91459 IN IP4 " + ip + "\r\ns=-\r\nc=IN IP4 " + ip + "\r\nt=0 0\r\nm=audio " +
                  std::to_string(port) + " RTP/AVP " + pts + "\r\n";
  for (const auto& e : extra) s += "a=" + e + "\r\n";
  if (!dir.empty()) s += "a=" + dir + "\r\n";
  return s;
}

// A header line's value from a raw message ("" when absent).
inline std::string raw_header(const std::string& raw, const std::string& name) {
  auto p = raw.find("\r\n" + name + ": ");
  if (p == std::string::npos) return {};
  p += name.size() + 4;
  return raw.substr(p, raw.find("\r\n", p) - p);
}

// The reference SPA offer (payload types 2 0 4 8 18 96 97 98 100 101).
inline std::string spa_offer(bool with_g729 = true) {
  return sdp_offer("10.10.0.2", 16388,
                   with_g729 ? "2 0 4 8 18 96 97 98 100 101" : "2 0 4 8 96 97 98 100 101",
                   {"rtpmap:2 G726-32/8000", "rtpmap:0 PCMU/8000", "rtpmap:4 G723/8000", "rtpmap:8 PCMA/8000",
                    "rtpmap:18 G729a/8000", "rtpmap:96 G726-40/8000", "rtpmap:97 G726-24/8000",
                    "rtpmap:98 G726-16/8000", "rtpmap:100 NSE/8000", "fmtp:100 192-193",
                    "rtpmap:101 telephone-event/8000", "fmtp:101 0-15", "ptime:30", "sendrecv"});
}

// Base: ::testing::Test or ::testing::TestWithParam<...>.
template <class Base>
class GatewayFixture : public Base {
 protected:
  static std::string safe_name() {
    std::string n = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& ch : n)
      if (ch == '/') ch = '_';
    return n;
  }
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / ("msgw-gw-test-" + std::to_string(getpid()) + "-" +
                                                    safe_name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::filesystem::path cfile = dir / "gw.toml";
    {
      FILE* f = std::fopen(cfile.c_str(), "w");
      std::string full = config_text;
      full.insert(full.find("[media]"), "state_db = \"" + (dir / "state.db").string() + "\"\n");
      std::fputs(full.c_str(), f);
      std::fclose(f);
    }
    auto r = config::load_file(cfile.string());
    ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
    cfg = *r.config;
    start();
  }
  void start() {
    store = std::make_unique<control::StateStore>((dir / "state.db").string());
    gw = std::make_unique<Gateway>(cfg, media, store.get());
    sip::StackConfig sc;
    // Default: the RFC's T1. Tests that do not wait for a SIP timer must not
    // see retransmissions or Timer B on a loaded machine; tests that do wait
    // shorten it. (Timers run only when a test calls stack->run_timers().)
    sc.timers.t1 = t1;
    stack = std::make_unique<sip::Stack>(sc, gw.get(), &tp);
    gw->set_stack(stack.get());
  }
  void restart() {
    stack.reset();
    gw.reset();
    store.reset();
    tp.sent.clear();
    start();
    gw->restore();
  }
  void TearDown() override {
    stack.reset();
    gw.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }

  void inject(const std::string& ip, uint16_t port, std::string text) {
    sip::Inbound in;
    in.proto = sip::Proto::Udp;
    in.peer = *sip::Endpoint::from(ip, port);
    in.local = *sip::Endpoint::from(ip.rfind("10.20.", 0) == 0 ? "10.20.0.1" : "10.10.0.1", 5060);
    in.socket = 1;
    stack->receive(in, text);
    // The rest of msgw-control's loop pass: what the dataplane answered.
    gw->poll_media();
  }
  // Messages sent since the last call.
  std::vector<Msg> take() {
    std::vector<Msg> out;
    for (; seen < tp.sent.size(); ++seen) {
      auto pr = sip::parse_message(tp.sent[seen].bytes, false, sip::Limits{});
      EXPECT_TRUE(pr.msg) << tp.sent[seen].bytes;
      if (pr.msg) out.push_back({std::move(pr.msg), tp.sent[seen].bytes, tp.sent[seen].dst});
    }
    return out;
  }
  static const Msg* find(const std::vector<Msg>& v, const std::string& method_or_status) {
    for (const auto& m : v) {
      if (!m.method().empty() && m.method() == method_or_status) return &m;
      if (m.method().empty() && std::to_string(m.status()) == method_or_status) return &m;
    }
    return nullptr;
  }

  // spa1 registered at 10.10.0.2:5062, straight into the registrar (the
  // digest part of REGISTER has tests of its own): inbound calls reach it.
  void register_spa1() {
    sip::RegisterRequest rr;
    rr.aor = "sip:spa1@10.10.0.1";
    rr.call_id = "r";
    rr.cseq = 1;
    rr.contacts.push_back({"sip:spa1@10.10.0.2:5062", 3600, std::nullopt});
    rr.source = "udp:10.10.0.2:5062";
    ASSERT_EQ(gw->registrar().handle(rr, time(nullptr)).status, 200);
  }
  // More header lines for the phone's INVITEs ("Name: value\r\n"), e.g. a session timer.
  std::string invite_extra;
  std::string invite(const std::string& call_id, const std::string& auth, const std::string& sdp,
                     const std::string& number = "1-800-555-1212", int cseq = 102) {
    std::string s = "INVITE sip:" + number + "@10.10.0.1 SIP/2.0\r\n"
                    "Via: SIP/2.0/UDP 10.10.0.2:5062;branch=z9hG4bK-" + sip::random_token(8) + ";rport\r\n"
                    "From: Good Body <sip:spa1@10.10.0.1>;tag=fc33ce88945ddadao0\r\n"
                    "To: <sip:" + number + "@10.10.0.1>\r\n"
                    "Call-ID: " + call_id + "\r\n"
                    "CSeq: " + std::to_string(cseq) + " INVITE\r\n"
                    "Max-Forwards: 70\r\n";
    if (!auth.empty()) s += "Proxy-Authorization: " + auth + "\r\n";
    s += invite_extra;
    s += "Contact: Good Body <sip:spa1@10.10.0.2:5062>\r\n"
         "Expires: 240\r\n"
         "User-Agent: Sipura/SPA3000-2.0.13(GWg)\r\n"
         "Allow: ACK, BYE, CANCEL, INFO, INVITE, NOTIFY, OPTIONS, REFER\r\n"
         "Supported: x-sipura\r\n"
         "Content-Type: application/sdp\r\n"
         "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
    return s;
  }

  // Answers a 401/407 the way the SPA does (RFC 2069 form when no qop).
  static std::string answer_challenge(const Msg& chal, const std::string& method, const std::string& uri,
                                      const std::string& password = "spa1-secret") {
    const char* hn = chal.status() == 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
    for (int i = 0; i < 4; ++i) {
      std::string v = sip::header_value(chal.m.get(), hn, i);
      if (v.empty()) {
        // oSIP2 keeps these in typed lists, not the generic header list.
        osip_www_authenticate_t* w = nullptr;
        if (chal.status() == 407) osip_message_get_proxy_authenticate(chal.m.get(), i, &w);
        else osip_message_get_www_authenticate(chal.m.get(), i, &w);
        if (!w) break;
        char* str = nullptr;
        osip_www_authenticate_to_str(w, &str);
        v = str;
        osip_free(str);
      }
      sip::DigestChallenge ch;
      if (sip::parse_digest_challenge(v, ch) && ch.algorithm == sip::DigestAlgorithm::md5)
        return sip::build_digest_authorization(ch, "spa1", password, method, uri, "0a4f113b", 1);
    }
    ADD_FAILURE() << "no MD5 challenge in\n" << chal.raw;
    return {};
  }

  // Places the reference call up to the carrier's INVITE; returns it.
  Msg place_call(const std::string& cid, const std::string& sdp, const std::string& number = "1-800-555-1212") {
    inject("10.10.0.2", 5062, invite(cid, "", sdp, number));
    auto out = take();
    const Msg* c = find(out, "407");
    EXPECT_TRUE(c);
    EXPECT_FALSE(find(out, "INVITE"));  // never routed unauthenticated
    if (!c) return {};
    std::string auth = answer_challenge(*c, "INVITE", "sip:" + number + "@10.10.0.1");
    last_invite = invite(cid, auth, sdp, number, 103);
    inject("10.10.0.2", 5062, last_invite);
    out = take();
    EXPECT_TRUE(find(out, "100"));
    for (auto& m : out)
      if (m.method() == "INVITE") return std::move(m);
    ADD_FAILURE() << "no INVITE to the trunk";
    return {};
  }

  // `extra`: more header lines ("Name: value\r\n"), e.g. a challenge.
  std::string carrier_response(const Msg& inv, int code, const std::string& reason, const std::string& sdp,
                               const std::string& totag = "as103549cc", const std::string& extra = "") {
    std::string s;
    if (!inv.m) {
      ADD_FAILURE() << "no INVITE to answer";
      return s;
    }
    osip_via_t* via = static_cast<osip_via_t*>(osip_list_get(&inv.m->vias, 0));
    char* vs = nullptr;
    osip_via_to_str(via, &vs);
    s = "SIP/2.0 " + std::to_string(code) + " " + reason + "\r\nVia: " + std::string(vs) + "\r\n";
    osip_free(vs);
    char* f = nullptr;
    osip_from_to_str(inv.m->from, &f);
    char* t = nullptr;
    osip_to_to_str(inv.m->to, &t);
    s += "From: " + std::string(f) + "\r\nTo: " + std::string(t) + (code > 100 ? ";tag=" + totag : "") + "\r\n";
    osip_free(f);
    osip_free(t);
    s += "Call-ID: " + std::string(inv.m->call_id->number) +
         (inv.m->call_id->host ? "@" + std::string(inv.m->call_id->host) : "") + "\r\n";
    s += "CSeq: " + std::string(inv.m->cseq->number) + " " + inv.m->cseq->method + "\r\n";
    s += "Contact: <sip:carrier@" + inv.dst.ip() + ":5060>\r\n";
    s += extra;
    if (!sdp.empty()) s += "Content-Type: application/sdp\r\n";
    s += "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
    return s;
  }

  // A trunk's digest challenge to `inv` (401 or 407), MD5 with qop=auth.
  std::string carrier_challenge(const Msg& inv, int code, const std::string& nonce, bool stale = false,
                                const std::string& realm = "carrier.example") {
    const std::string h = code == 401 ? "WWW-Authenticate" : "Proxy-Authenticate";
    return carrier_response(inv, code, code == 401 ? "Unauthorized" : "Proxy Authentication Required", "",
                            "ch" + nonce.substr(0, 6),
                            h + ": Digest realm=\"" + realm + "\", nonce=\"" + nonce +
                                "\", algorithm=MD5, qop=\"auth\"" + (stale ? ", stale=true" : "") + "\r\n");
  }

  std::string g729_answer(const std::string& dir = "") {
    return sdp_offer("10.20.0.2", 6000, "18 101", {"rtpmap:18 G729/8000", "fmtp:18 annexb=no",
                                                   "rtpmap:101 telephone-event/8000", "fmtp:101 0-15"}, dir);
  }

  // In-dialog request from the phone, using the To-tag of `ok`.
  std::string phone_request(const std::string& method, const std::string& cid, const Msg& ok, int cseq,
                            const std::string& sdp = "") {
    std::string s = method + " sip:carrier@10.10.0.1:5060 SIP/2.0\r\n"
                    "Via: SIP/2.0/UDP 10.10.0.2:5062;branch=z9hG4bK-" + sip::random_token(8) + ";rport\r\n"
                    "From: Good Body <sip:spa1@10.10.0.1>;tag=fc33ce88945ddadao0\r\n"
                    "To: <sip:1-800-555-1212@10.10.0.1>;tag=" + sip::to_tag(ok.m.get()) + "\r\n"
                    "Call-ID: " + cid + "\r\n"
                    "CSeq: " + std::to_string(cseq) + " " + method + "\r\n"
                    "Max-Forwards: 70\r\n"
                    "Contact: <sip:spa1@10.10.0.2:5062>\r\n";
    if (!sdp.empty()) s += "Content-Type: application/sdp\r\n";
    s += "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
    return s;
  }

  // `msg` (built without a body) with `body` of `type` and any `extra`
  // header lines ("Name: value\r\n").
  static std::string with_body(std::string msg, const std::string& type, const std::string& body,
                               const std::string& extra = "") {
    const std::string tail = "Content-Length: 0\r\n\r\n";
    const auto at = msg.rfind(tail);
    if (at == std::string::npos || at + tail.size() != msg.size()) {
      ADD_FAILURE() << "with_body: not a message without a body";
      return msg;
    }
    msg.resize(at);
    return msg + extra + "Content-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  // SIP INFO DTMF as SPA-class ATAs and many SBCs send it.
  static constexpr const char* kDtmfRelay = "Signal=5\r\nDuration=160\r\n";

  // Request from the carrier inside the B dialog (its To/From swapped).
  std::string carrier_request(const std::string& method, const Msg& inv, int cseq, const std::string& sdp = "",
                              const std::string& contact = "<sip:carrier@10.20.0.2:5060>") {
    char* f = nullptr;
    osip_from_to_str(inv.m->from, &f);
    char* t = nullptr;
    osip_to_to_str(inv.m->to, &t);
    std::string s = method + " " + sip::header_value(inv.m.get(), "Contact") + " SIP/2.0\r\n";
    osip_contact_t* ct = static_cast<osip_contact_t*>(osip_list_get(&inv.m->contacts, 0));
    char* cu = nullptr;
    osip_uri_to_str(ct->url, &cu);
    s = method + " " + std::string(cu) + " SIP/2.0\r\n";
    osip_free(cu);
    s += "Via: SIP/2.0/UDP 10.20.0.2:5060;branch=z9hG4bK-" + sip::random_token(8) + "\r\n";
    s += "From: " + std::string(t) + ";tag=as103549cc\r\nTo: " + std::string(f) + "\r\n";
    osip_free(f);
    osip_free(t);
    s += "Call-ID: " + std::string(inv.m->call_id->number) +
         (inv.m->call_id->host ? "@" + std::string(inv.m->call_id->host) : "") + "\r\n";
    s += "CSeq: " + std::to_string(cseq) + " " + method + "\r\nMax-Forwards: 70\r\n";
    s += "Contact: " + contact + "\r\n";
    if (!sdp.empty()) s += "Content-Type: application/sdp\r\n";
    s += "Content-Length: " + std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
    return s;
  }

  // Whole answered call: returns (carrier INVITE, 200 to phone).
  std::pair<Msg, Msg> answered_call(const std::string& cid, const std::string& offer) {
    Msg inv = place_call(cid, offer);
    if (!inv.m) return {};
    inject("10.20.0.2", 5060, carrier_response(inv, 200, "OK", g729_answer()));
    auto out = take();
    EXPECT_TRUE(find(out, "ACK"));
    for (auto& m : out)
      if (m.method().empty() && m.status() == 200) {
        Msg ok = std::move(m);
        inject("10.10.0.2", 5062, phone_request("ACK", cid, ok, 103));
        return {std::move(inv), std::move(ok)};
      }
    ADD_FAILURE() << "no 200 to the phone";
    return {};
  }

  // Set before SetUp() (in the derived fixture's constructor) to change them.
  std::string config_text = kConfig;
  std::chrono::milliseconds t1{500};

  std::string last_invite;  // the phone's authenticated INVITE of place_call()
  std::filesystem::path dir;
  config::Config cfg;
  FakeMedia media;
  Capture tp;
  size_t seen = 0;
  std::unique_ptr<control::StateStore> store;
  std::unique_ptr<Gateway> gw;
  std::unique_ptr<sip::Stack> stack;
};

}  // namespace msgw_test
