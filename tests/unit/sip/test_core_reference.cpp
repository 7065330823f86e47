// SPDX-License-Identifier: GPL-3.0-or-later
// The reference SPA3000 call flow (tests/unit/sip/data, addresses restored):
// every message parses and every header reads back with the right value.
#include <gtest/gtest.h>

#include "msgw/sip/digest.hpp"
#include "osip_message.hpp"
#include "osip_digest.hpp"
#include "test_core_util.hpp"

namespace msgw::sip {
namespace {

const std::string kData = MSGW_SIP_TEST_DATA;
constexpr const char* kProxy = "sip.voip-info.org";
constexpr const char* kCallId = "b1ea7d2c-5e9f3a60@192.168.0.2";

MessagePtr load(const char* name) {
  std::string bytes = test::read_file(kData + "/" + name);
  EXPECT_FALSE(bytes.empty()) << name;
  ParseResult p = parse_message(bytes, false, Limits{});
  EXPECT_EQ(p.scan.verdict, Verdict::Ok) << name << ": " << p.scan.reason;
  return std::move(p.msg);
}

std::string uri_str(const osip_uri_t* u) {
  char* s = nullptr;
  osip_uri_to_str(u, &s);
  std::string out(s ? s : "");
  osip_free(s);
  return out;
}

void expect_common(const osip_message_t* m, bool to_tagged) {
  ASSERT_NE(m->from, nullptr);
  EXPECT_STREQ(m->from->displayname, "Good Body");
  EXPECT_EQ(uri_str(m->from->url), std::string("sip:spa1@") + kProxy);
  EXPECT_EQ(from_tag(m), "fc33ce88945ddadao0");
  ASSERT_NE(m->to, nullptr);
  EXPECT_EQ(uri_str(m->to->url), std::string("sip:18005551212@") + kProxy);
  EXPECT_EQ(to_tag(m), to_tagged ? "as103549cc" : "");
  char* cid = nullptr;
  osip_call_id_to_str(m->call_id, &cid);
  EXPECT_STREQ(cid, kCallId);
  osip_free(cid);
  osip_via_t* via = static_cast<osip_via_t*>(osip_list_get(&m->vias, 0));
  ASSERT_NE(via, nullptr);
  EXPECT_STREQ(via->protocol, "UDP");
  EXPECT_STREQ(via->host, "192.168.0.2");
  EXPECT_STREQ(via->port, "5062");
  EXPECT_EQ(osip_list_size(&m->vias), 1);
}

void expect_proxy_auth(const osip_message_t* m, const char* response) {
  osip_proxy_authorization_t* pa = nullptr;
  ASSERT_GE(osip_message_get_proxy_authorization(m, 0, &pa), 0);
  ASSERT_NE(pa, nullptr);
  EXPECT_STREQ(pa->auth_type, "Digest");
  EXPECT_STREQ(pa->username, "\"spa1\"");
  EXPECT_STREQ(pa->realm, "\"asterisk\"");
  EXPECT_STREQ(pa->nonce, "\"0a0d37c4\"");
  EXPECT_EQ(std::string(pa->uri), std::string("\"sip:18005551212@") + kProxy + "\"");
  EXPECT_STREQ(pa->algorithm, "MD5");
  EXPECT_EQ(std::string(pa->response), std::string("\"") + response + "\"");
  EXPECT_EQ(pa->message_qop, nullptr);  // no qop: RFC 2069 style
  // The digest module reads the same header the same way.
  DigestCredentials c;
  ASSERT_EQ(digest_credentials_from_osip(*pa, c), AuthVerdict::ok);
  EXPECT_EQ(c.username, "spa1");
  EXPECT_EQ(c.nonce, "0a0d37c4");
  EXPECT_FALSE(c.has_qop);
}

TEST(CoreReference, Invite) {
  auto m = load("spa-invite.sip");
  ASSERT_TRUE(m);
  EXPECT_STREQ(m->sip_method, "INVITE");
  EXPECT_EQ(uri_str(m->req_uri), std::string("sip:18005551212@") + kProxy);
  expect_common(m.get(), false);
  EXPECT_EQ(via_branch(m.get()), "z9hG4bK-f78286de");
  osip_generic_param_t* rport = nullptr;
  osip_via_param_get_byname(static_cast<osip_via_t*>(osip_list_get(&m->vias, 0)), const_cast<char*>("rport"), &rport);
  ASSERT_NE(rport, nullptr);
  EXPECT_EQ(rport->gvalue, nullptr);  // empty rport: asks for RFC 3581 treatment
  EXPECT_EQ(cseq_number(m.get()), 102u);
  EXPECT_EQ(cseq_method(m.get()), "INVITE");
  EXPECT_EQ(header_value(m.get(), "max-forwards"), "70");
  expect_proxy_auth(m.get(), "ac9f0159568db093b6921c62d695d62a");
  osip_contact_t* ct = nullptr;
  osip_message_get_contact(m.get(), 0, &ct);
  ASSERT_NE(ct, nullptr);
  EXPECT_STREQ(ct->displayname, "Good Body");
  EXPECT_EQ(uri_str(ct->url), "sip:spa1@192.168.0.2:5062");
  EXPECT_EQ(header_value(m.get(), "expires"), "240");
  EXPECT_EQ(header_value(m.get(), "user-agent"), "Sipura/SPA3000-2.0.13(GWg)");
  ASSERT_NE(m->content_length, nullptr);
  EXPECT_STREQ(m->content_length->value, "426");
  std::string allow;
  for (int i = 0; i < osip_list_size(&m->allows); ++i) {
    auto* a = static_cast<osip_allow_t*>(osip_list_get(&m->allows, i));
    allow += (i ? "," : "") + std::string(a->value);
  }
  EXPECT_EQ(allow, "ACK,BYE,CANCEL,INFO,INVITE,NOTIFY,OPTIONS,REFER");
  EXPECT_EQ(header_value(m.get(), "supported"), "x-sipura");
  ASSERT_NE(m->content_type, nullptr);
  EXPECT_STREQ(m->content_type->type, "application");
  EXPECT_STREQ(m->content_type->subtype, "sdp");
  std::string sdp = body_of(m.get());
  EXPECT_EQ(sdp.size(), 426u);
  EXPECT_NE(sdp.find("m=audio 16388 RTP/AVP 2 0 4 8 18 96 97 98 100 101\r\n"), std::string::npos);
  // Nothing unread: every header of the message is accounted for above.
  EXPECT_EQ(osip_list_size(&m->headers), 4);  // Max-Forwards, Expires, User-Agent, Supported
}

TEST(CoreReference, Trying) {
  auto m = load("spa-100-trying.sip");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status_code, 100);
  EXPECT_STREQ(m->reason_phrase, "Trying");
  expect_common(m.get(), true);
  EXPECT_EQ(cseq_method(m.get()), "INVITE");
  EXPECT_EQ(header_value(m.get(), "user-agent"), "Asterisk PBX");
  EXPECT_EQ(osip_list_size(&m->allows), 6);
  osip_contact_t* ct = nullptr;
  osip_message_get_contact(m.get(), 0, &ct);
  ASSERT_NE(ct, nullptr);
  EXPECT_EQ(uri_str(ct->url), std::string("sip:18005551212@") + kProxy);
}

TEST(CoreReference, OkWithAnswer) {
  auto m = load("spa-200-ok.sip");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status_code, 200);
  expect_common(m.get(), true);
  std::string sdp = body_of(m.get());
  EXPECT_EQ(sdp.size(), 274u);
  EXPECT_NE(sdp.find("a=fmtp:101 0-16"), std::string::npos);
}

TEST(CoreReference, Ack) {
  auto m = load("spa-ack.sip");
  ASSERT_TRUE(m);
  EXPECT_STREQ(m->sip_method, "ACK");
  expect_common(m.get(), true);
  EXPECT_EQ(via_branch(m.get()), "z9hG4bK-b2438ee1");
  EXPECT_EQ(cseq_number(m.get()), 102u);
  expect_proxy_auth(m.get(), "0d5d9e694d9ddbcdea44e00038b3790a");
}

TEST(CoreReference, ByeAndOk) {
  auto m = load("spa-bye.sip");
  ASSERT_TRUE(m);
  EXPECT_STREQ(m->sip_method, "BYE");
  expect_common(m.get(), true);
  EXPECT_EQ(cseq_number(m.get()), 103u);
  expect_proxy_auth(m.get(), "f2ab76f5360ac47ab77e7d5aee3aabf5");
  auto ok = load("spa-bye-200-ok.sip");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status_code, 200);
  EXPECT_EQ(cseq_method(ok.get()), "BYE");
}

// Serialising a parsed message and parsing it again keeps every header.
TEST(CoreReference, RoundTrip) {
  for (const char* f : {"spa-invite.sip", "spa-100-trying.sip", "spa-200-ok.sip", "spa-ack.sip", "spa-bye.sip",
                        "spa-bye-200-ok.sip"}) {
    auto m = load(f);
    ASSERT_TRUE(m);
    osip_message_force_update(m.get());
    std::string again = serialize(m.get());
    auto p = parse_message(again, false, Limits{});
    ASSERT_EQ(p.scan.verdict, Verdict::Ok) << f << ": " << p.scan.reason << "\n" << again;
    EXPECT_EQ(serialize(p.msg.get()), again) << f;
  }
}

// The whole flow against the stack as the SPA's UAS: the INVITE with its
// cached nonce is answered at the rport/received address, the dialog
// forms on 200, the ACK (new branch) is matched to it, and the BYE ends it.
class FlowApp : public Handler {
 public:
  void on_request(Stack& st, const ServerRequest& r) override {
    requests.push_back(r.msg->sip_method);
    if (MSG_IS_INVITE(r.msg)) st.respond(r.txn, 200, {}, {}, "application/sdp", "v=0\r\n");
    else st.respond(r.txn, 200);
    if (r.dialog) in_dialog++;
  }
  void on_ack(Stack&, MessageRef, Dialog* d) override { acked = d != nullptr; }
  std::vector<std::string> requests;
  int in_dialog = 0;
  bool acked = false;
};

TEST(CoreReference, FlowThroughTheStack) {
  test::CaptureTransport tp;
  FlowApp app;
  Stack st(StackConfig{}, &app, &tp);
  // NAT in front of the SPA: the packet arrives from another address.
  Inbound in = test::udp_from("203.0.113.9", 40000);
  st.receive(in, test::read_file(kData + "/spa-invite.sip"));
  ASSERT_EQ(tp.response_codes(), (std::vector<int>{100, 200}));
  EXPECT_EQ(tp.sent[1].dst.str(), "203.0.113.9:40000");  // RFC 3581: rport + received
  EXPECT_NE(tp.sent[1].bytes.find("received=203.0.113.9"), std::string::npos);
  EXPECT_NE(tp.sent[1].bytes.find("rport=40000"), std::string::npos);
  ASSERT_EQ(st.dialog_count(), 1u);
  // The flow's To-tag was chosen by Asterisk; ours differs, so the flow's
  // ACK/BYE are rewritten with the tag the stack gave.
  auto resp = parse_message(tp.sent[1].bytes, false, Limits{});
  std::string tag = to_tag(resp.msg.get());
  ASSERT_FALSE(tag.empty());
  for (const char* f : {"spa-ack.sip", "spa-bye.sip"}) {
    std::string b = test::read_file(kData + "/" + f);
    auto pos = b.find("tag=as103549cc");
    ASSERT_NE(pos, std::string::npos);
    b.replace(pos + 4, 10, tag);
    st.receive(in, b);
  }
  EXPECT_TRUE(app.acked);
  EXPECT_EQ(app.requests, (std::vector<std::string>{"INVITE", "BYE"}));
  EXPECT_EQ(app.in_dialog, 1);
  EXPECT_EQ(tp.response_codes().back(), 200);
  EXPECT_EQ(st.dialog_count(), 0u);
}

}  // namespace
}  // namespace msgw::sip
