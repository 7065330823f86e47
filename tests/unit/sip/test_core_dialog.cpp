// SPDX-License-Identifier: GPL-3.0-or-later
// Dialogs: creation from 1xx/2xx with To-tag, route sets, CSeq rules and
// in-dialog requests through the stack.
#include <gtest/gtest.h>

#include "test_core_util.hpp"

namespace msgw::sip {
namespace {

MessagePtr parse(const std::string& s) {
  auto p = parse_message(s, false, Limits{});
  EXPECT_EQ(p.scan.verdict, Verdict::Ok) << p.scan.reason << "\n" << s;
  return std::move(p.msg);
}

const std::string kInvite =
    "INVITE sip:100@192.0.2.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-d1;rport\r\n"
    "Record-Route: <sip:p1.example.net;lr>, <sip:p2.example.net;lr>\r\n"
    "From: \"A\" <sip:spa1@192.0.2.1>;tag=remote1\r\nTo: <sip:100@192.0.2.1>\r\n"
    "Call-ID: dlg1@198.51.100.7\r\nCSeq: 10 INVITE\r\nContact: <sip:spa1@198.51.100.7:5062>\r\n"
    "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

TEST(CoreDialog, UasDialogRouteSetAndRequests) {
  auto inv = parse(kInvite);
  MessagePtr ok = make_response(inv.get(), 200, {}, "local1");
  osip_list_special_free(&ok->record_routes, reinterpret_cast<void (*)(void*)>(&osip_record_route_free));
  osip_list_clone(&inv->record_routes, &ok->record_routes,
                  reinterpret_cast<int (*)(void*, void**)>(&osip_record_route_clone));
  auto d = Dialog::as_uas(inv.get(), ok.get());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->role(), Dialog::Role::Uas);
  EXPECT_EQ(d->state(), Dialog::State::Confirmed);
  EXPECT_STREQ(d->local_tag(), "local1");
  EXPECT_STREQ(d->remote_tag(), "remote1");
  EXPECT_EQ(d->remote_target(), "sip:spa1@198.51.100.7:5062");
  // UAS keeps Record-Route order.
  ASSERT_EQ(d->route_count(), 2u);
  EXPECT_NE(d->route(0).find("p1.example.net"), std::string::npos);
  EXPECT_EQ(d->remote_cseq(), 10u);

  auto bye = d->make_request("BYE");
  ASSERT_TRUE(bye);
  std::string s = serialize(bye.get());
  EXPECT_EQ(s.rfind("BYE sip:spa1@198.51.100.7:5062 SIP/2.0\r\n", 0), 0u) << s;
  EXPECT_LT(s.find("p1.example.net"), s.find("p2.example.net"));
  EXPECT_NE(s.find("Route: <sip:p1.example.net;lr>"), std::string::npos) << s;
  EXPECT_EQ(from_tag(bye.get()), "local1");
  EXPECT_EQ(to_tag(bye.get()), "remote1");
  auto info = d->make_request("INFO");
  EXPECT_EQ(cseq_number(info.get()), cseq_number(bye.get()) + 1);

  // CSeq rule: lower or equal remote CSeq is refused, higher accepted.
  auto later = parse(std::string(kInvite).replace(kInvite.find("10 INVITE"), 9, "11 INVITE"));
  auto older = parse(std::string(kInvite).replace(kInvite.find("10 INVITE"), 9, "9 INVITE"));
  EXPECT_FALSE(d->accept_remote_cseq(older.get()));
  EXPECT_TRUE(d->accept_remote_cseq(later.get()));
  EXPECT_FALSE(d->accept_remote_cseq(later.get()));
}

TEST(CoreDialog, UacDialogReversesRouteSetAndHandlesStrictRouter) {
  const std::string ok =
      "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-u1\r\n"
      "Record-Route: <sip:p2.example.net;lr>, <sip:p1.example.net;lr>\r\n"
      "From: <sip:gw@192.0.2.1>;tag=ours\r\nTo: <sip:carrier@192.0.2.50>;tag=theirs\r\n"
      "Call-ID: dlg2@192.0.2.1\r\nCSeq: 1 INVITE\r\nContact: <sip:carrier@192.0.2.50:5070>\r\nContent-Length: 0\r\n\r\n";
  auto resp = parse(ok);
  auto d = Dialog::as_uac(resp.get());
  ASSERT_TRUE(d);
  EXPECT_EQ(d->role(), Dialog::Role::Uac);
  ASSERT_EQ(d->route_count(), 2u);
  EXPECT_NE(d->route(0).find("p1.example.net"), std::string::npos);  // reversed for the UAC
  auto bye = d->make_request("BYE");
  EXPECT_EQ(cseq_number(bye.get()), 2u);
  EXPECT_EQ(from_tag(bye.get()), "ours");
  EXPECT_EQ(to_tag(bye.get()), "theirs");

  // Strict router (no ;lr): its URI becomes the Request-URI, the remote
  // target goes last in Route (RFC 3261 §12.2.1.1).
  std::string strict = ok;
  strict.replace(strict.find("<sip:p2.example.net;lr>, <sip:p1.example.net;lr>"), 48, "<sip:strict.example.net>");
  auto d2 = Dialog::as_uac(parse(strict).get());
  ASSERT_TRUE(d2);
  std::string s = serialize(d2->make_request("BYE").get());
  EXPECT_EQ(s.rfind("BYE sip:strict.example.net SIP/2.0", 0), 0u) << s;
  EXPECT_NE(s.find("Route: <sip:carrier@192.0.2.50:5070>"), std::string::npos) << s;

  // No To-tag: no dialog.
  std::string untagged = ok;
  untagged.replace(untagged.find(";tag=theirs"), 11, "");
  EXPECT_FALSE(Dialog::as_uac(parse(untagged).get()));
}

// In-dialog requests through the stack.
class DialogApp : public Handler {
 public:
  void on_request(Stack& st, const ServerRequest& r) override {
    std::string m = r.msg->sip_method;
    seen.push_back(m + (r.dialog ? "/dialog" : ""));
    if (m == "INVITE" && !r.dialog) st.respond(r.txn, 180);
    if (m == "INVITE" && hold_invite && !r.dialog) {
      pending = r.txn;
      return;
    }
    st.respond(r.txn, 200, {}, {}, m == "INVITE" ? "application/sdp" : "", m == "INVITE" ? "v=0\r\n" : "");
  }
  void on_cancel(Stack&, TxnId t) override { cancelled = t; }
  std::vector<std::string> seen;
  bool hold_invite = false;
  TxnId pending = kNoTxn, cancelled = kNoTxn;
};

std::string req(const std::string& method, int cseq, const std::string& branch, const std::string& to_tag,
                const std::string& call_id = "dlg3@198.51.100.7", const std::string& from_tag = "r3") {
  return method + " sip:100@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-" + branch +
         "\r\nFrom: <sip:spa1@192.0.2.1>;tag=" + from_tag + "\r\nTo: <sip:100@192.0.2.1>" +
         (to_tag.empty() ? "" : ";tag=" + to_tag) + "\r\nCall-ID: " + call_id + "\r\nCSeq: " + std::to_string(cseq) +
         " " + method + "\r\nContact: <sip:spa1@198.51.100.7:5062>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
}

TEST(CoreDialog, InDialogRequestsThroughTheStack) {
  test::CaptureTransport tp;
  DialogApp app;
  StackConfig cfg;
  Stack st(cfg, &app, &tp);
  auto in = test::udp_from();
  st.receive(in, req("INVITE", 1, "i1", ""));
  ASSERT_EQ(tp.response_codes(), (std::vector<int>{100, 180, 200}));
  // Early dialog from the 180 (To-tag), confirmed by the 200 with the same tag.
  auto r180 = parse(tp.sent[1].bytes), r200 = parse(tp.sent[2].bytes);
  std::string tag = to_tag(r180.get());
  ASSERT_FALSE(tag.empty());
  EXPECT_EQ(to_tag(r200.get()), tag);
  EXPECT_NE(tp.sent[2].bytes.find("Contact: <sip:192.0.2.1:5060>"), std::string::npos);
  ASSERT_EQ(st.dialog_count(), 1u);
  st.receive(in, req("ACK", 1, "a1", tag));

  for (auto [m, n] : std::vector<std::pair<std::string, int>>{{"INFO", 2}, {"OPTIONS", 3}, {"NOTIFY", 4},
                                                             {"UPDATE", 5}, {"INVITE", 6}}) {
    tp.sent.clear();
    st.receive(in, req(m, n, "x" + std::to_string(n), tag));
    EXPECT_EQ(tp.response_codes().back(), 200) << m;
  }
  st.receive(in, req("ACK", 6, "a6", tag));
  // Unknown method inside the dialog.
  tp.sent.clear();
  st.receive(in, req("FROBNICATE", 7, "x7", tag));
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{501}));
  // Out-of-order CSeq.
  tp.sent.clear();
  st.receive(in, req("INFO", 3, "x3b", tag));
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{500}));
  // Unknown dialog.
  tp.sent.clear();
  st.receive(in, req("BYE", 9, "x9", "nosuchtag"));
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{481}));
  // BYE ends the dialog; a second BYE finds nothing.
  tp.sent.clear();
  st.receive(in, req("BYE", 10, "x10", tag));
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{200}));
  EXPECT_EQ(st.dialog_count(), 0u);
  tp.sent.clear();
  st.receive(in, req("BYE", 11, "x11", tag));
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{481}));

  EXPECT_EQ(app.seen, (std::vector<std::string>{"INVITE", "INFO/dialog", "OPTIONS/dialog", "NOTIFY/dialog",
                                                "UPDATE/dialog", "INVITE/dialog", "BYE/dialog"}));
}

TEST(CoreDialog, CancelMergedAndUnmatched) {
  test::CaptureTransport tp;
  DialogApp app;
  app.hold_invite = true;
  Stack st(StackConfig{}, &app, &tp);
  auto in = test::udp_from();
  st.receive(in, req("INVITE", 1, "c1", "", "cx@h"));
  ASSERT_NE(app.pending, kNoTxn);
  // Same From-tag/Call-ID/CSeq through another branch: merged request.
  tp.sent.clear();
  st.receive(in, req("INVITE", 1, "c1-fork", "", "cx@h"));
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{482}));
  // CANCEL with the INVITE's branch: 200 for the CANCEL, 487 for the INVITE.
  tp.sent.clear();
  st.receive(in, req("CANCEL", 1, "c1", "", "cx@h"));
  auto codes = tp.response_codes();
  ASSERT_EQ(codes.size(), 2u);
  EXPECT_EQ(codes[0], 200);
  EXPECT_EQ(codes[1], 487);
  EXPECT_EQ(app.cancelled, app.pending);
  EXPECT_FALSE(st.respond(app.pending, 200)) << "final response after 487";
  EXPECT_EQ(st.dialog_count(), 0u) << "early dialog removed by the 487";
  // CANCEL that matches nothing.
  tp.sent.clear();
  st.receive(in, req("CANCEL", 1, "nomatch", "", "cy@h"));
  EXPECT_EQ(tp.response_codes(), (std::vector<int>{481}));
}

}  // namespace
}  // namespace msgw::sip
