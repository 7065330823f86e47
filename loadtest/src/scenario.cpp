// SPDX-License-Identifier: GPL-3.0-or-later
#include "scenario.hpp"

#include <cstdio>
#include <string_view>

namespace msgw::loadtest {
namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
}

std::string sdp(const CallScenarioParams& p, std::string_view origin) {
  std::string pt = std::to_string(p.codec.payload_type);
  std::string s = "      v=0\n      o=" + std::string(origin) + " 1 1 IN IP4 " + p.media_ip +
                  "\n      s=-\n      c=IN IP4 " + p.media_ip + "\n      t=0 0\n      m=audio " +
                  std::to_string(p.media_port) + " RTP/AVP " + pt + "\n      a=rtpmap:" + pt + " " +
                  p.codec.name + "/8000\n";
  if (!p.codec.fmtp.empty()) s += "      a=fmtp:" + pt + " " + p.codec.fmtp + "\n";
  s += "      a=ptime:20\n      a=sendrecv\n";
  return s;
}

// Remembers the peer's media address from the SDP of the message received.
constexpr std::string_view kSdpCapture = R"X(    <action>
      <ereg regexp="c=IN IP4 ([0-9.]+)" search_in="body" check_it="true" assign_to="mip,mip"/>
      <ereg regexp="m=audio ([0-9]+)" search_in="body" check_it="true" assign_to="mport,mport"/>
    </action>
)X";

constexpr std::string_view kHeader = R"(<?xml version="1.0" encoding="ISO-8859-1" ?>
<!-- Written by msgw-loadtest. -->
)";

std::string invite(bool with_auth, const CallScenarioParams& p, int cseq, bool start_rtd) {
  std::string s = std::string("  <send retrans=\"500\"") + (start_rtd ? " start_rtd=\"setup\"" : "") +
                  R"(>
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:@USER@@[remote_ip]>;tag=lt[pid]x[call_number]
      To: <sip:[service]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: @CSEQ@ INVITE
      Max-Forwards: 70
)";
  if (with_auth) s += "      [authentication username=@USER@ password=@PASSWORD@]\n";
  s += R"(      Contact: <sip:@USER@@[local_ip]:[local_port]>
      User-Agent: msgw-loadtest
      Content-Type: application/sdp
      Content-Length: [len]

)" + sdp(p, "lt") + R"(    ]]>
  </send>
)";
  replace_all(s, "@CSEQ@", std::to_string(cseq));
  return s;
}

// The ACK of the 200 goes to its Contact (through any Record-Route); the ACK
// of a challenge is part of the INVITE transaction: same Request-URI and Via.
std::string ack(int cseq, bool of_200, bool log_start) {
  std::string s = std::string(R"(  <send>
    <![CDATA[
)") + (of_200 ? "      ACK [next_url] SIP/2.0\n"
                "      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport\n"
              : "      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0\n      [last_Via:]\n") +
                  R"(      From: <sip:@USER@@[remote_ip]>;tag=lt[pid]x[call_number]
      [last_To:]
      Call-ID: [call_id]
)" + (of_200 ? "      [routes]\n" : "") + R"(      CSeq: @CSEQ@ ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
)";
  if (log_start) s += "    <action><log message=\"lt start [call_number] [$mip] [$mport]\"/></action>\n";
  s += "  </send>\n";
  replace_all(s, "@CSEQ@", std::to_string(cseq));
  return s;
}

// A response of the UAS side to the request it received last: the status
// line, the request's Via/From/To/Call-ID/CSeq, an optional To tag and extra
// header lines, no body.
std::string response(std::string_view status, std::string_view to_tag = {}, std::string_view extra = {}) {
  std::string s = "  <send>\n    <![CDATA[\n      SIP/2.0 " + std::string(status) +
                  "\n      [last_Via:]\n      [last_From:]\n      [last_To:]";
  if (!to_tag.empty()) s += ";tag=" + std::string(to_tag);
  s += "\n      [last_Call-ID:]\n      [last_CSeq:]\n" + std::string(extra) +
       "      Content-Length: 0\n\n    ]]>\n  </send>\n";
  return s;
}

// The phone side's end of a call the target refused with 503 (RFC 3261
// 21.5.4; an overloaded target sheds load this way): ACK it and log it for
// the tool ("lt reject CALL 503 RETRY_AFTER", the Retry-After value empty
// when absent), then end the scenario. SIPp counts that as a completed call
// (no action of a <nop> makes it count a failure); the tool moves every
// logged rejection from successful to failed, so a rejection is a counted
// failed attempt with its code, not a tool error. One label per INVITE (CSeq 1, 2).
std::string rejection_tail(bool auth) {
  std::string s;
  if (auth) s += "  <label id=\"rechallenged\"/>\n" + ack(1, false, false) + "  <nop next=\"await200\"/>\n";
  for (int cseq = 1; cseq <= (auth ? 2 : 1); ++cseq) {
    s += "  <label id=\"rejected" + std::to_string(cseq) + "\"/>\n" + ack(cseq, false, false);
    if (cseq == 1 && auth) s += "  <nop next=\"rejected\"/>\n";
  }
  s += "  <label id=\"rejected\"/>\n  <nop>\n    <action>\n"
       "      <log message=\"lt reject [call_number] 503 [$ra]\"/>\n    </action>\n  </nop>\n";
  return s;
}

std::string recv_503(int cseq) {
  return "  <recv response=\"503\" optional=\"true\" next=\"rejected" + std::to_string(cseq) +
         "\">\n    <action>\n      <ereg regexp=\"[Rr]etry-[Aa]fter: *([0-9]+)\" search_in=\"msg\" "
         "check_it=\"false\" assign_to=\"ra,ra\"/>\n    </action>\n  </recv>\n";
}

}  // namespace

std::string every_nth_regex(std::uint32_t n) {
  if (n == 0 || n > 100 || 100 % n != 0) return {};
  if (n == 1) return "[0-9]$";
  // Residues 0, n, 2n ... of the last two digits.
  std::string alt;
  for (std::uint32_t r = 0; r < 100; r += n) {
    if (!alt.empty()) alt += "|";
    char buf[8];
    // Two digits: a one-digit number 5 is "05" in this view, so also match "^5$".
    std::snprintf(buf, sizeof buf, "%02u", r);
    alt += std::string(buf) + "$";
    if (r < 10) alt += "|^" + std::to_string(r) + "$";
  }
  return "(" + alt + ")";
}

std::string uac_call_scenario(const CallScenarioParams& p) {
  const bool auth = !p.password.empty();
  const int answered_cseq = auth ? 2 : 1;
  std::string s = std::string(kHeader) + "<scenario name=\"msgw-loadtest phone\">\n";
  s += invite(false, p, 1, true);
  s += "  <recv response=\"100\" optional=\"true\"/>\n";
  if (auth) {
    s += "  <recv response=\"407\" auth=\"true\" optional=\"true\" next=\"challenged\"/>\n" + recv_503(1) +
         "  <recv response=\"401\" auth=\"true\"/>\n  <label id=\"challenged\"/>\n";
    s += ack(1, false, false);
    s += invite(true, p, 2, false);
    s += "  <label id=\"await200\"/>\n  <recv response=\"100\" optional=\"true\"/>\n";
  }
  s += "  <recv response=\"180\" optional=\"true\"/>\n  <recv response=\"183\" optional=\"true\"/>\n";
  s += recv_503(answered_cseq);
  if (auth) {
    // The 407 again for the first INVITE (a retransmission of it crossed the
    // challenge, setups past 500 ms): ACK it and wait on. A 407 to the second
    // INVITE fails the regexp, and so the call.
    s += "  <recv response=\"407\" optional=\"true\" next=\"rechallenged\">\n    <action>\n"
         "      <ereg regexp=\"CSeq: *1 INVITE\" search_in=\"msg\" check_it=\"true\" assign_to=\"c1,c1\"/>\n"
         "    </action>\n  </recv>\n";
  }
  s += "  <recv response=\"200\" rtd=\"setup\" rrs=\"true\"";
  if (p.media_events) {
    s += ">\n" + std::string(kSdpCapture) + "  </recv>\n";
  } else {
    s += "/>\n";
  }
  s += ack(answered_cseq, true, p.media_events);
  // Without milliseconds SIPp pauses for its -d duration: set per run.
  s += p.hold_from_command_line ? std::string("  <pause/>\n")
                                : "  <pause milliseconds=\"" + std::to_string(p.hold_ms) + "\"/>\n";
  s += R"(  <send retrans="500" start_rtd="disconnect">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:@USER@@[remote_ip]>;tag=lt[pid]x[call_number]
      [last_To:]
      Call-ID: [call_id]
      [routes]
      CSeq: @BYECSEQ@ BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
)";
  if (p.media_events) s += "    <action><log message=\"lt stop [call_number]\"/></action>\n";
  s += "  </send>\n  <recv response=\"200\" rtd=\"disconnect\" crlf=\"true\" next=\"done\"/>\n";
  s += rejection_tail(auth) + "  <label id=\"done\"/>\n</scenario>\n";
  replace_all(s, "@BYECSEQ@", std::to_string(answered_cseq + 1));
  replace_all(s, "@USER@", p.user);
  replace_all(s, "@PASSWORD@", p.password);
  return s;
}

std::string uas_call_scenario(const CallScenarioParams& p) {
  const std::string reject = every_nth_regex(p.reject_every);
  std::string s = std::string(kHeader) + "<scenario name=\"msgw-loadtest carrier\">\n";
  s += "  <recv request=\"INVITE\" crlf=\"true\">\n    <action>\n";
  if (p.media_events) {
    s += "      <ereg regexp=\"c=IN IP4 ([0-9.]+)\" search_in=\"body\" check_it=\"true\" assign_to=\"mip,mip\"/>\n"
         "      <ereg regexp=\"m=audio ([0-9]+)\" search_in=\"body\" check_it=\"true\" assign_to=\"mport,mport\"/>\n";
  }
  if (!reject.empty()) {
    s += "      <assignstr assign_to=\"cn\" value=\"[call_number]\"/>\n"
         "      <ereg regexp=\"" + reject + "\" search_in=\"var\" variable=\"cn\" check_it=\"false\" assign_to=\"rej\"/>\n";
  }
  s += "    </action>\n  </recv>\n";
  if (!reject.empty()) s += "  <nop next=\"reject\" test=\"rej\"/>\n";
  s += response("100 Trying");
  s += R"(  <label id="answer"/>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=lt[pid]c[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Record-Route:]
      Contact: <sip:carrier@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

)" + sdp(p, "carrier") + R"(    ]]>
  </send>
  <!-- An INVITE retransmitted after our 200 (its Timer A fired first) gets the 200 again. -->
  <recv request="INVITE" optional="true" next="answer"/>
  <recv request="ACK" crlf="true">
)";
  if (p.media_events) s += "    <action><log message=\"lt start [call_number] [$mip] [$mport]\"/></action>\n";
  s += "  </recv>\n  <recv request=\"BYE\">\n";
  if (p.media_events) s += "    <action><log message=\"lt stop [call_number]\"/></action>\n";
  s += "  </recv>\n" + response("200 OK");
  if (!reject.empty()) {
    s += "  <nop next=\"end\"/>\n  <label id=\"reject\"/>\n" +
         response("503 Service Unavailable", "lt[pid]r[call_number]");
    s += R"(  <!-- Counted as a failed call on this side: the call the target must report failed. -->
  <recv request="ACK">
    <action><exec int_cmd="stop_call"/></action>
  </recv>
  <label id="end"/>
)";
  }
  s += "</scenario>\n";
  return s;
}

std::string self_target_scenario(const CallScenarioParams& p) {
  std::string s = std::string(kHeader) + "<scenario name=\"msgw-loadtest loopback target\">\n";
  s += R"(  <recv request="INVITE" crlf="true"/>
  <label id="challenge"/>
)";
  s += response("407 Proxy Authentication Required", "lt[pid]t[call_number]",
                "      Proxy-Authenticate: Digest realm=\"loadtest\", nonce=\"[pid]n[call_number]\", algorithm=MD5, "
                "qop=\"auth\"\n");
  s += R"(  <!-- The first INVITE retransmitted (our 407 was slow to reach the phone
       side) gets the 407 again. -->
  <recv request="INVITE" optional="true" next="challenge"/>
  <recv request="ACK"/>
  <recv request="INVITE"/>
)";
  // The rest as the carrier answers.
  CallScenarioParams answer = p;
  answer.media_events = false;
  answer.reject_every = 0;
  std::string carrier = uas_call_scenario(answer);
  auto from = carrier.find("  <send>");
  auto to = carrier.rfind("</scenario>");
  s += carrier.substr(from, to - from);
  s += "</scenario>\n";
  return s;
}

std::string register_scenario(const RegisterScenarioParams& p) {
  auto reg = [&](int cseq, bool auth, const char* start_rtd) {
    std::string s = std::string("  <send retrans=\"500\"") +
                    (start_rtd ? std::string(" start_rtd=\"") + start_rtd + "\"" : std::string()) + R"(>
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:@USER@@[remote_ip]>;tag=lt[pid]r[call_number]
      To: <sip:@USER@@[remote_ip]>
      Call-ID: [call_id]
      CSeq: @CSEQ@ REGISTER
      Max-Forwards: 70
)";
    if (auth) s += "      [authentication username=@USER@ password=@PASSWORD@]\n";
    s += R"(      Contact: <sip:@USER@@[local_ip]:[local_port]>;expires=@EXPIRES@
      User-Agent: msgw-loadtest
      Content-Length: 0

    ]]>
  </send>
)";
    replace_all(s, "@CSEQ@", std::to_string(cseq));
    return s;
  };
  const bool auth = !p.password.empty();
  const char* timed = p.reregister ? "reregister" : "register";
  std::string s = std::string(kHeader) + "<scenario name=\"msgw-loadtest registration\">\n";
  s += reg(1, false, p.reregister ? nullptr : timed);
  if (auth) {
    s += "  <recv response=\"407\" auth=\"true\" optional=\"true\" next=\"challenged\"/>\n"
         "  <recv response=\"401\" auth=\"true\"/>\n  <label id=\"challenged\"/>\n";
    s += reg(2, true, nullptr);
  }
  if (!p.reregister) {
    s += std::string("  <recv response=\"200\" rtd=\"") + timed + "\"/>\n";
  } else {
    s += "  <recv response=\"200\"/>\n";
    // The refresh: same Call-ID, next CSeq, the credentials of the last challenge.
    s += reg(3, auth, timed);
    if (auth) {
      s += "  <recv response=\"200\" rtd=\"reregister\" next=\"done\" optional=\"true\"/>\n"
           "  <recv response=\"401\" auth=\"true\" optional=\"true\" next=\"again\"/>\n"
           "  <recv response=\"407\" auth=\"true\"/>\n  <label id=\"again\"/>\n";
      s += reg(4, true, nullptr);
    }
    s += "  <recv response=\"200\" rtd=\"reregister\"/>\n  <label id=\"done\"/>\n";
  }
  s += "</scenario>\n";
  replace_all(s, "@USER@", p.user);
  replace_all(s, "@PASSWORD@", p.password);
  replace_all(s, "@EXPIRES@", std::to_string(p.expires_s));
  return s;
}

}  // namespace msgw::loadtest
