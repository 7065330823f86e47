// SPDX-License-Identifier: GPL-3.0-or-later
// SDP parsing and RFC 3264 offer/answer, starting from the reference SPA call.
#include <gtest/gtest.h>

#include <string>

#include "msgw/sip/sdp.hpp"
#include "osip_message.hpp"

using namespace msgw::sip::sdp;
using msgw::codecs::CodecId;

namespace {

// The reference INVITE's offer. The capture is cut after "a=rtpmap:96"; the
// rest is the SPA3000's usual tail (G726-40/24/16 at 96-98, NSE at 100,
// telephone-event at 101, ptime 30), which makes the body exactly the
// Content-Length: 426 the INVITE declares.
const std::string kSpaOffer =
    "v=0\r\n"
    "o=- 91459 91459 IN IP4 192.168.0.2\r\n"
    "s=-\r\n"
    "c=IN IP4 192.168.0.2\r\n"
    "t=0 0\r\n"
    "m=audio 16388 RTP/AVP 2 0 4 8 18 96 97 98 100 101\r\n"
    "a=rtpmap:2 G726-32/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:4 G723/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:18 G729a/8000\r\n"
    "a=rtpmap:96 G726-40/8000\r\n"
    "a=rtpmap:97 G726-24/8000\r\n"
    "a=rtpmap:98 G726-16/8000\r\n"
    "a=rtpmap:100 NSE/8000\r\n"
    "a=fmtp:100 192-193\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ptime:30\r\n";

// The reference 200 OK's answer (typographic dashes from the web page restored).
const std::string kAsteriskAnswer =
    "v=0\r\n"
    "o=root 30285 30285 IN IP4 sip.voip-info.org\r\n"
    "s=session\r\n"
    "c=IN IP4 sip.voip-info.org\r\n"
    "t=0 0\r\n"
    "m=audio 16420 RTP/AVP 0 8 4 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:4 G723/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=silenceSupp:off - - - -\r\n";

LocalPolicy trunk_policy() {
  LocalPolicy p;
  p.codecs = {CodecId::G729, CodecId::Pcmu};
  p.address = "203.0.113.10";
  p.port = 20000;
  p.session_id = 4242;
  return p;
}

SessionDescription must_parse(const std::string& text) {
  SessionDescription d;
  std::string why;
  EXPECT_EQ(parse(text, d, &why), SdpError::ok) << why;
  return d;
}

std::string offer_with(const std::string& media_block, const std::string& conn = "c=IN IP4 10.0.0.1\r\n") {
  return "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\n" + conn + "t=0 0\r\n" + media_block;
}

}  // namespace

TEST(SessionSdp, ReferenceOfferLengthMatchesContentLength) {
  EXPECT_EQ(kSpaOffer.size(), 426u);
}

TEST(SessionSdp, ParsesReferenceOffer) {
  SessionDescription d = must_parse(kSpaOffer);
  EXPECT_EQ(d.session_id, 91459u);
  EXPECT_EQ(d.origin_address, "192.168.0.2");
  ASSERT_EQ(d.media.size(), 1u);
  const auto& m = d.media[0];
  EXPECT_EQ(m.media, "audio");
  EXPECT_EQ(m.port, 16388);
  EXPECT_EQ(m.proto, "RTP/AVP");
  EXPECT_EQ(m.address, "192.168.0.2");
  EXPECT_EQ(m.ptime_ms, 30);
  EXPECT_EQ(m.direction, Direction::sendrecv);
  ASSERT_EQ(m.payloads.size(), 10u);
  const std::uint8_t pts[] = {2, 0, 4, 8, 18, 96, 97, 98, 100, 101};
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(m.payloads[i].pt, pts[i]);
  ASSERT_TRUE(m.find_pt(2)->codec);
  EXPECT_EQ(m.find_pt(2)->codec->id, CodecId::G726_32);
  EXPECT_EQ(m.find_pt(0)->codec->id, CodecId::Pcmu);
  EXPECT_FALSE(m.find_pt(4)->codec) << "G.723 is not supported";
  EXPECT_EQ(m.find_pt(8)->codec->id, CodecId::Pcma);
  ASSERT_TRUE(m.find_pt(18)->codec);
  EXPECT_EQ(m.find_pt(18)->codec->id, CodecId::G729);
  EXPECT_EQ(m.find_pt(18)->codec->ptime_ms, 30);
  EXPECT_FALSE(m.find_pt(96)->codec) << "G726-40 is not supported";
  EXPECT_FALSE(m.find_pt(100)->codec);
  EXPECT_FALSE(m.find_pt(100)->telephone_event);
  EXPECT_EQ(m.find_pt(100)->fmtp, "192-193");
  EXPECT_TRUE(m.find_pt(101)->telephone_event);
  EXPECT_EQ(m.find_pt(101)->fmtp, "0-15");
}

TEST(SessionSdp, ReferenceOfferAnswerForTrunkPreferringG729ThenPcmu) {
  SessionDescription offer = must_parse(kSpaOffer);
  AnswerResult r;
  std::string why;
  ASSERT_EQ(make_answer(offer, trunk_policy(), r, &why), SdpError::ok) << why;
  ASSERT_TRUE(r.active);
  const NegotiatedStream& s = r.streams[*r.active];
  EXPECT_TRUE(s.accepted);
  EXPECT_EQ(s.codec.id, CodecId::G729);
  EXPECT_EQ(s.codec.payload_type, 18);
  EXPECT_EQ(s.codec.ptime_ms, 30);  // the SPA asked for 30 ms
  EXPECT_TRUE(s.codec.g729_annexb);
  ASSERT_TRUE(s.telephone_event_pt);
  EXPECT_EQ(*s.telephone_event_pt, 101);
  EXPECT_EQ(s.telephone_events, "0-15");
  EXPECT_EQ(s.remote_address, "192.168.0.2");
  EXPECT_EQ(s.remote_port, 16388);
  EXPECT_EQ(s.local_direction, Direction::sendrecv);
  EXPECT_FALSE(s.remote_hold);

  const std::string text = build(r.answer);
  EXPECT_NE(text.find("m=audio 20000 RTP/AVP 18 101\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("c=IN IP4 203.0.113.10\r\n"), std::string::npos);
  EXPECT_NE(text.find("a=rtpmap:18 G729a/8000\r\n"), std::string::npos);
  EXPECT_NE(text.find("a=rtpmap:101 telephone-event/8000\r\n"), std::string::npos);
  EXPECT_NE(text.find("a=fmtp:101 0-15\r\n"), std::string::npos);
  EXPECT_NE(text.find("a=ptime:30\r\n"), std::string::npos);
  EXPECT_NE(text.find("a=sendrecv\r\n"), std::string::npos);
  EXPECT_EQ(text.find("G723"), std::string::npos);
  EXPECT_EQ(text.find(" 4 "), std::string::npos);
  // The answer is itself valid SDP that round-trips.
  SessionDescription back = must_parse(text);
  ASSERT_EQ(back.media.size(), 1u);
  EXPECT_EQ(back.media[0].formats, (std::vector<std::string>{"18", "101"}));
}

TEST(SessionSdp, PreferenceOrderDecides) {
  SessionDescription offer = must_parse(kSpaOffer);
  LocalPolicy p = trunk_policy();
  p.codecs = {CodecId::Pcma, CodecId::G729};
  AnswerResult r;
  ASSERT_EQ(make_answer(offer, p, r), SdpError::ok);
  EXPECT_EQ(r.streams[0].codec.id, CodecId::Pcma);
  EXPECT_EQ(r.streams[0].codec.payload_type, 8);
  p.codecs = {CodecId::G726_32};
  ASSERT_EQ(make_answer(offer, p, r), SdpError::ok);
  EXPECT_EQ(r.streams[0].codec.payload_type, 2);
  // Several codecs in the answer when asked, preference first, offerer's PTs.
  p.codecs = {CodecId::G729, CodecId::Pcmu};
  p.single_codec_answer = false;
  ASSERT_EQ(make_answer(offer, p, r), SdpError::ok);
  EXPECT_EQ(r.answer.media[0].formats, (std::vector<std::string>{"18", "0", "101"}));
}

TEST(SessionSdp, OnlyUnsupportedCodecsGives488Material) {
  SessionDescription offer = must_parse(offer_with(
      "m=audio 4000 RTP/AVP 4 96\r\na=rtpmap:4 G723/8000\r\na=rtpmap:96 G726-40/8000\r\n"));
  AnswerResult r;
  std::string why;
  EXPECT_EQ(make_answer(offer, trunk_policy(), r, &why), SdpError::no_common_codec);
  EXPECT_FALSE(why.empty());
  ASSERT_EQ(r.answer.media.size(), 1u);
  EXPECT_EQ(r.answer.media[0].port, 0);
}

TEST(SessionSdp, ParsesReferenceAsteriskAnswerWithHostName) {
  SessionDescription d = must_parse(kAsteriskAnswer);
  ASSERT_EQ(d.media.size(), 1u);
  EXPECT_EQ(d.media[0].address, "sip.voip-info.org");
  EXPECT_EQ(d.media[0].find_pt(101)->fmtp, "0-16");
  bool silence = false;
  for (auto& a : d.media[0].other_attributes) silence |= a.name == "silenceSupp";
  EXPECT_TRUE(silence);
}

TEST(SessionSdp, TelephoneEventAnyPtAndEventRanges) {
  auto answer_for = [](const std::string& te_lines, const std::string& fmts) {
    SessionDescription offer =
        must_parse(offer_with("m=audio 4000 RTP/AVP 0 " + fmts + "\r\n" + te_lines));
    AnswerResult r;
    EXPECT_EQ(make_answer(offer, trunk_policy(), r), SdpError::ok);
    return r.streams.at(0);
  };
  auto s = answer_for("a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n", "96");
  ASSERT_TRUE(s.telephone_event_pt);
  EXPECT_EQ(*s.telephone_event_pt, 96);
  EXPECT_EQ(s.telephone_events, "0-16");
  s = answer_for("a=rtpmap:120 telephone-event/8000\r\na=fmtp:120 0-15,66\r\n", "120");
  EXPECT_EQ(*s.telephone_event_pt, 120);
  EXPECT_EQ(s.telephone_events, "0-15");
  s = answer_for("a=rtpmap:101 telephone-event/8000\r\n", "101");  // no fmtp → 0-15
  EXPECT_EQ(s.telephone_events, "0-15");
  s = answer_for("a=rtpmap:101 telephone-event/16000\r\n", "101");  // wrong clock
  EXPECT_FALSE(s.telephone_event_pt);
  s = answer_for("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 32-41\r\n", "101");
  EXPECT_FALSE(s.telephone_event_pt) << "no event we can handle";

  LocalPolicy nodtmf = trunk_policy();
  nodtmf.telephone_event = false;
  AnswerResult r;
  ASSERT_EQ(make_answer(must_parse(kSpaOffer), nodtmf, r), SdpError::ok);
  EXPECT_FALSE(r.streams[0].telephone_event_pt);
  EXPECT_EQ(r.answer.media[0].formats, (std::vector<std::string>{"18"}));
}

TEST(SessionSdp, EventListHelpers) {
  EXPECT_EQ(format_event_list(parse_event_list("0-15")), "0-15");
  EXPECT_EQ(format_event_list(parse_event_list("0-15,16")), "0-16");
  EXPECT_EQ(format_event_list(parse_event_list(" 1, 3-4 ,x,9-7,300")), "1,3-4");
  EXPECT_EQ(parse_event_list(""), 0u);
}

TEST(SessionSdp, PtimeHandling) {
  SessionDescription offer = must_parse(kSpaOffer);
  LocalPolicy p = trunk_policy();
  p.ptime_ms = 20;
  AnswerResult r;
  ASSERT_EQ(make_answer(offer, p, r), SdpError::ok);
  EXPECT_EQ(r.answer.media[0].ptime_ms, 20);        // we ask to receive 20 ms
  EXPECT_EQ(r.streams[0].remote_ptime_ms, 30);      // they asked for 30 ms
  EXPECT_EQ(r.streams[0].codec.ptime_ms, 30);       // so we send 30 ms to them
  // No ptime anywhere: codec default, no a=ptime in the answer.
  SessionDescription plain = must_parse(offer_with("m=audio 4000 RTP/AVP 0\r\n"));
  ASSERT_EQ(make_answer(plain, trunk_policy(), r), SdpError::ok);
  EXPECT_EQ(r.streams[0].codec.ptime_ms, 20);
  EXPECT_EQ(build(r.answer).find("a=ptime"), std::string::npos);
}

// A ptime that is not a number is kept as an unknown attribute and sets no
// ptime. The old parse wrote the leading digits before failing, so
// "a=ptime:20abc" also set 20 and build() wrote a=ptime twice.
TEST(SessionSdp, BadPtimeSetsNothing) {
  SessionDescription d = must_parse(offer_with("m=audio 4000 RTP/AVP 0\r\na=ptime:20abc\r\na=maxptime:40x\r\n"));
  ASSERT_EQ(d.media.size(), 1u);
  EXPECT_EQ(d.media[0].ptime_ms, 0);
  EXPECT_EQ(d.media[0].maxptime_ms, 0);
  ASSERT_EQ(d.media[0].other_attributes.size(), 2u);
  EXPECT_EQ(d.media[0].other_attributes[0].value, "20abc");
  const std::string text = build(d);
  EXPECT_EQ(text.find("a=ptime:20\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("a=ptime:20abc\r\n"), std::string::npos) << text;
  // White space around a good number is still accepted.
  SessionDescription ok = must_parse(offer_with("m=audio 4000 RTP/AVP 0\r\na=ptime: 30 \r\n"));
  EXPECT_EQ(ok.media[0].ptime_ms, 30);
}

TEST(SessionSdp, G729AnnexB) {
  AnswerResult r;
  SessionDescription no = must_parse(
      offer_with("m=audio 4000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n"));
  ASSERT_EQ(make_answer(no, trunk_policy(), r), SdpError::ok);
  EXPECT_FALSE(r.streams[0].codec.g729_annexb);
  EXPECT_NE(build(r.answer).find("a=fmtp:18 annexb=no\r\n"), std::string::npos);

  SessionDescription yes = must_parse(offer_with("m=audio 4000 RTP/AVP 18\r\n"));  // static PT, no rtpmap
  ASSERT_EQ(make_answer(yes, trunk_policy(), r), SdpError::ok);
  EXPECT_TRUE(r.streams[0].codec.g729_annexb);  // RFC 4856: absent means yes
  EXPECT_EQ(build(r.answer).find("annexb"), std::string::npos);
  EXPECT_NE(build(r.answer).find("a=rtpmap:18 G729/8000"), std::string::npos);

  LocalPolicy p = trunk_policy();
  p.g729_annexb = false;
  ASSERT_EQ(make_answer(yes, p, r), SdpError::ok);
  EXPECT_FALSE(r.streams[0].codec.g729_annexb);
  EXPECT_NE(build(r.answer).find("a=fmtp:18 annexb=no"), std::string::npos);
}

TEST(SessionSdp, Directions) {
  struct Case {
    const char* offered;
    Direction local;
    Direction answered;
    bool hold;
  } cases[] = {
      {"sendrecv", Direction::sendrecv, Direction::sendrecv, false},
      {"sendonly", Direction::sendrecv, Direction::recvonly, true},
      {"recvonly", Direction::sendrecv, Direction::sendonly, false},
      {"inactive", Direction::sendrecv, Direction::inactive, true},
      {"sendrecv", Direction::sendonly, Direction::sendonly, false},
      {"sendonly", Direction::sendonly, Direction::inactive, true},
  };
  for (const auto& c : cases) {
    SessionDescription offer = must_parse(
        offer_with(std::string("m=audio 4000 RTP/AVP 0\r\na=") + c.offered + "\r\n"));
    LocalPolicy p = trunk_policy();
    p.direction = c.local;
    AnswerResult r;
    ASSERT_EQ(make_answer(offer, p, r), SdpError::ok);
    EXPECT_EQ(r.answer.media[0].direction, c.answered) << c.offered;
    EXPECT_EQ(r.streams[0].remote_hold, c.hold) << c.offered;
    EXPECT_NE(build(r.answer).find(std::string("a=") + std::string(to_string(c.answered))),
              std::string::npos);
  }
  // Session-level direction applies to media without its own.
  SessionDescription s = must_parse(
      "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n"
      "m=audio 4000 RTP/AVP 0\r\n");
  EXPECT_EQ(s.media[0].direction, Direction::sendonly);
}

TEST(SessionSdp, ZeroAddressHold) {
  SessionDescription offer =
      must_parse(offer_with("m=audio 4000 RTP/AVP 0\r\n", "c=IN IP4 0.0.0.0\r\n"));
  EXPECT_TRUE(offer.media[0].is_hold_address());
  AnswerResult r;
  ASSERT_EQ(make_answer(offer, trunk_policy(), r), SdpError::ok);
  EXPECT_TRUE(r.streams[0].remote_hold);
  EXPECT_EQ(r.answer.media[0].direction, Direction::recvonly);
}

TEST(SessionSdp, MultipleMediaLinesAndPortZero) {
  SessionDescription offer = must_parse(offer_with(
      "m=video 5000 RTP/AVP 31\r\n"
      "m=audio 0 RTP/AVP 0\r\n"
      "m=audio 4000 RTP/SAVP 0\r\n"
      "m=audio 4002 RTP/AVP 8 0\r\n"
      "m=audio 4004 RTP/AVP 0\r\n"
      "m=image 6000 udptl t38\r\n"));
  ASSERT_EQ(offer.media.size(), 6u);
  EXPECT_TRUE(offer.media[5].payloads.empty());
  AnswerResult r;
  ASSERT_EQ(make_answer(offer, trunk_policy(), r), SdpError::ok);
  ASSERT_EQ(r.answer.media.size(), 6u);
  ASSERT_TRUE(r.active);
  EXPECT_EQ(*r.active, 3u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(r.answer.media[i].port == 0, i != 3) << i;
    EXPECT_EQ(r.answer.media[i].media, offer.media[i].media);
    EXPECT_FALSE(r.answer.media[i].formats.empty());
  }
  EXPECT_EQ(r.streams[3].codec.id, CodecId::Pcmu);
  EXPECT_EQ(r.streams[3].codec.payload_type, 0);
  const std::string text = build(r.answer);
  EXPECT_NE(text.find("m=video 0 RTP/AVP 31\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("m=image 0 udptl t38\r\n"), std::string::npos);
  EXPECT_EQ(must_parse(text).media.size(), 6u);
}

TEST(SessionSdp, Ipv6) {
  SessionDescription offer = must_parse(
      "v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 0\r\n");
  EXPECT_EQ(offer.media[0].addr_type, AddrType::ip6);
  EXPECT_EQ(offer.media[0].address, "2001:db8::1");
  LocalPolicy p = trunk_policy();
  p.address = "2001:db8::10";
  p.addr_type = AddrType::ip6;
  AnswerResult r;
  ASSERT_EQ(make_answer(offer, p, r), SdpError::ok);
  EXPECT_EQ(r.streams[0].remote_addr_type, AddrType::ip6);
  EXPECT_NE(build(r.answer).find("c=IN IP6 2001:db8::10\r\n"), std::string::npos);
  // Media-level c= overrides the session one; "::" is a hold too.
  SessionDescription m = must_parse(
      "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
      "m=audio 4000 RTP/AVP 0\r\nc=IN IP6 ::\r\n");
  EXPECT_EQ(m.media[0].addr_type, AddrType::ip6);
  EXPECT_TRUE(m.media[0].is_hold_address());
}

TEST(SessionSdp, BadInputIsRejectedWithReason) {
  struct Case {
    std::string text;
    SdpError err;
  } cases[] = {
      {"", SdpError::empty},
      {std::string(kMaxSdpBytes + 1, 'a'), SdpError::too_large},
      {"v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n", SdpError::bad_version},
      {"v=0\r\no=- x 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n", SdpError::bad_origin},
      {offer_with("m=audio 4000 RTP/AVP 0\r\n", "c=IN IPX 1.2.3.4\r\n"), SdpError::bad_connection},
      {offer_with("m=audio 4000 RTP/AVP 0\r\n", "c=IN IP4 1.2.3.4.5.6!\r\n"), SdpError::bad_connection},
      {offer_with("m=audio 4000 RTP/AVP 0\r\n", ""), SdpError::missing_connection},
      {offer_with("m=audio 99999 RTP/AVP 0\r\n"), SdpError::bad_media},
      {offer_with("m=audio 4000 RTP/AVP PCMU\r\n"), SdpError::bad_media},
      {offer_with("m=audio 4000 RTP/AVP 200\r\n"), SdpError::bad_media},
      // Inputs that made oSIP2's parser read past the buffer (found by the fuzzer):
      // a last m= line ending in a bare LF, a control character.
      {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 1 RTP/A\n",
       SdpError::syntax},
      {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\x11\r\nt=0 0\r\n", SdpError::syntax},
      {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\rt=0 0\r\n", SdpError::syntax},
      {"v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n", SdpError::syntax},
      {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0  0\r\n", SdpError::syntax},
      {"v=0\r\n\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n", SdpError::syntax},
      {std::string("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\0\r\nt=0 0\r\n", 43), SdpError::syntax},
  };
  for (const auto& c : cases) {
    SessionDescription d;
    std::string why;
    EXPECT_EQ(parse(c.text, d, &why), c.err) << c.text.substr(0, 80);
    EXPECT_FALSE(why.empty());
  }
  std::string many = offer_with("");
  for (std::size_t i = 0; i <= kMaxMediaLines; ++i) many += "m=audio 4000 RTP/AVP 0\r\n";
  SessionDescription d;
  EXPECT_EQ(parse(many, d), SdpError::too_many_media);
  std::string fmts = "m=audio 4000 RTP/AVP";
  for (std::size_t i = 0; i <= kMaxFormatsPerMedia; ++i) fmts += " " + std::to_string(i);
  EXPECT_EQ(parse(offer_with(fmts + "\r\n"), d), SdpError::too_many_formats);
}

TEST(SessionSdp, OfferAndProcessAnswer) {
  LocalPolicy p = trunk_policy();
  p.codecs = {CodecId::G729, CodecId::Pcmu, CodecId::G726_32};
  p.ptime_ms = 20;
  SessionDescription offer = make_offer(p);
  const std::string text = build(offer);
  SessionDescription reparsed = must_parse(text);
  ASSERT_EQ(reparsed.media.size(), 1u);
  const auto& m = reparsed.media[0];
  ASSERT_GE(m.payloads.size(), 4u);
  EXPECT_EQ(m.payloads[0].codec->id, CodecId::G729);
  EXPECT_EQ(m.payloads[1].codec->id, CodecId::Pcmu);
  EXPECT_EQ(m.payloads[2].codec->id, CodecId::G726_32);
  EXPECT_TRUE(m.payloads.back().telephone_event);
  EXPECT_EQ(m.payloads.back().pt, 101);
  EXPECT_EQ(m.ptime_ms, 20);

  // The carrier answers with its own preference: PCMU and telephone-event.
  SessionDescription ans = must_parse(
      "v=0\r\no=carrier 5 5 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
      "m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
      "a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n");
  NegotiatedStream s;
  std::string why;
  ASSERT_EQ(process_answer(reparsed, ans, s, &why), SdpError::ok) << why;
  EXPECT_EQ(s.codec.id, CodecId::Pcmu);
  EXPECT_EQ(s.codec.payload_type, 0);
  EXPECT_EQ(*s.telephone_event_pt, 101);
  EXPECT_EQ(s.remote_address, "198.51.100.7");
  EXPECT_EQ(s.remote_port, 30000);
  EXPECT_EQ(s.codec.ptime_ms, 20);

  // Reference: Asterisk answered the SPA with 0 8 4 101 → PCMU.
  SessionDescription spa = must_parse(kSpaOffer);
  ASSERT_EQ(process_answer(spa, must_parse(kAsteriskAnswer), s, &why), SdpError::ok) << why;
  EXPECT_EQ(s.codec.id, CodecId::Pcmu);
  EXPECT_EQ(s.telephone_events, "0-16");

  SessionDescription two = ans;
  two.media.push_back(two.media[0]);
  EXPECT_EQ(process_answer(reparsed, two, s), SdpError::answer_mismatch);
  SessionDescription none = must_parse(offer_with("m=audio 4000 RTP/AVP 4\r\n"));
  EXPECT_EQ(process_answer(reparsed, none, s), SdpError::no_common_codec);
}

TEST(SessionSdp, RoundTripKeepsEverything) {
  SessionDescription d = must_parse(kSpaOffer);
  SessionDescription again = must_parse(build(d));
  ASSERT_EQ(again.media.size(), 1u);
  EXPECT_EQ(again.media[0].formats, d.media[0].formats);
  EXPECT_EQ(again.media[0].ptime_ms, 30);
  for (std::size_t i = 0; i < d.media[0].payloads.size(); ++i) {
    EXPECT_EQ(again.media[0].payloads[i].encoding, d.media[0].payloads[i].encoding);
    EXPECT_EQ(again.media[0].payloads[i].fmtp, d.media[0].payloads[i].fmtp);
  }
}
