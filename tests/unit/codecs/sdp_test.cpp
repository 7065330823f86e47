// SPDX-License-Identifier: GPL-3.0-or-later
// SDP side of the codec interface: names, rtpmap, fmtp, defaults.
#include <gtest/gtest.h>

#include "msgw/codecs/codec.hpp"

using namespace msgw::codecs;

TEST(CodecSdp, LookupBySdpName) {
  EXPECT_EQ(codec_from_sdp_name("PCMU"), CodecId::Pcmu);
  EXPECT_EQ(codec_from_sdp_name("pcma"), CodecId::Pcma);
  EXPECT_EQ(codec_from_sdp_name("G726-32"), CodecId::G726_32);
  EXPECT_EQ(codec_from_sdp_name("AAL2-G726-32"), CodecId::G726_32);
  EXPECT_EQ(codec_from_sdp_name("G729"), CodecId::G729);
  EXPECT_EQ(codec_from_sdp_name("G729a"), CodecId::G729);
  EXPECT_EQ(codec_from_sdp_name("G729A"), CodecId::G729);
  EXPECT_FALSE(codec_from_sdp_name("G723"));
  EXPECT_FALSE(codec_from_sdp_name("G726-40"));
  EXPECT_FALSE(codec_from_sdp_name("telephone-event"));
  EXPECT_FALSE(codec_from_sdp_name("PCMU", 16000));
  EXPECT_FALSE(codec_from_sdp_name(""));
}

TEST(CodecSdp, CodecInfo) {
  EXPECT_EQ(codec_info(CodecId::Pcmu).static_payload_type, 0);
  EXPECT_EQ(codec_info(CodecId::Pcma).static_payload_type, 8);
  EXPECT_EQ(codec_info(CodecId::G729).static_payload_type, 18);
  EXPECT_EQ(codec_info(CodecId::G726_32).static_payload_type, kDynamicPayloadType);
  for (auto id : {CodecId::Pcmu, CodecId::Pcma, CodecId::G726_32, CodecId::G729}) {
    EXPECT_EQ(codec_info(id).clock_rate, 8000u);
    EXPECT_EQ(codec_info(id).default_ptime_ms, 20);
    EXPECT_EQ(codec_info(id).id, id);
  }
  EXPECT_EQ(codec_info(CodecId::G729).frame_samples, 80);
  EXPECT_EQ(codec_info(CodecId::G729).frame_bytes, 10);
  EXPECT_EQ(codec_info(CodecId::G729).frame_us, 10000);
  EXPECT_EQ(codec_info(CodecId::Pcmu).frame_us, 125);
  EXPECT_EQ(codec_info(CodecId::G726_32).frame_us, 250);  // one byte = two 4-bit codes
  EXPECT_FALSE(codec_info(CodecId::G729).sample_based);
}

TEST(CodecSdp, ParseRtpmap) {
  auto m = parse_rtpmap("G729a/8000");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->encoding, "G729a");
  EXPECT_EQ(m->clock_rate, 8000u);
  EXPECT_EQ(m->channels, 1);
  m = parse_rtpmap("101 telephone-event/8000");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->encoding, "telephone-event");
  m = parse_rtpmap("PCMU/8000/1\r\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->channels, 1);
  EXPECT_FALSE(parse_rtpmap(""));
  EXPECT_FALSE(parse_rtpmap("PCMU"));
  EXPECT_FALSE(parse_rtpmap("PCMU/"));
  EXPECT_FALSE(parse_rtpmap("/8000"));
  EXPECT_FALSE(parse_rtpmap("PCMU/80x0"));
  EXPECT_FALSE(parse_rtpmap("PCMU/8000/0"));
  EXPECT_FALSE(parse_rtpmap("PCMU/99999999999"));
}

TEST(CodecSdp, ParamsFromSpaOffer) {
  // The SPA3000 offer in shared/reference/spa-outgoing-call.txt.
  auto p = params_from_sdp(2, "G726-32/8000", "");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, CodecId::G726_32);
  EXPECT_EQ(p->payload_type, 2);
  EXPECT_EQ(p->g726_packing, G726Packing::Rfc3551);
  p = params_from_sdp(18, "G729a/8000", "");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, CodecId::G729);
  EXPECT_TRUE(p->g729_annexb);  // RFC 4856: absent annexb means yes
  EXPECT_FALSE(params_from_sdp(4, "G723/8000", ""));
  EXPECT_FALSE(params_from_sdp(101, "telephone-event/8000", "0-16"));
  // Static payload types without rtpmap.
  EXPECT_EQ(params_from_sdp(0, "", "")->id, CodecId::Pcmu);
  EXPECT_EQ(params_from_sdp(8, "", "")->id, CodecId::Pcma);
  EXPECT_EQ(params_from_sdp(18, "", "")->id, CodecId::G729);
  EXPECT_FALSE(params_from_sdp(96, "", ""));
  // AAL2 packing chosen by name.
  p = params_from_sdp(97, "AAL2-G726-32/8000", "");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->g726_packing, G726Packing::Aal2);
  EXPECT_FALSE(params_from_sdp(0, "PCMU/8000/2", ""));  // stereo is not supported
}

TEST(CodecSdp, Fmtp) {
  CodecParams p{.id = CodecId::G729, .payload_type = 18};
  EXPECT_TRUE(apply_fmtp(p, "annexb=no"));
  EXPECT_FALSE(p.g729_annexb);
  EXPECT_EQ(format_fmtp(p), "annexb=no");
  EXPECT_TRUE(apply_fmtp(p, " AnnexB = yes ; foo=bar"));
  EXPECT_TRUE(p.g729_annexb);
  EXPECT_EQ(format_fmtp(p), "");
  EXPECT_FALSE(apply_fmtp(p, "annexb=maybe"));
  EXPECT_TRUE(apply_fmtp(p, ";;"));
  EXPECT_FALSE(params_from_sdp(18, "G729/8000", "annexb=perhaps"));
  EXPECT_FALSE(params_from_sdp(18, "G729/8000", "annexb=no")->g729_annexb);
  // annexb only means something for G.729.
  CodecParams u{.id = CodecId::Pcmu};
  EXPECT_TRUE(apply_fmtp(u, "annexb=no"));
  EXPECT_EQ(format_fmtp(u), "");
}

TEST(CodecSdp, FormatRtpmap) {
  EXPECT_EQ(format_rtpmap({.id = CodecId::Pcmu}), "PCMU/8000");
  EXPECT_EQ(format_rtpmap({.id = CodecId::Pcma}), "PCMA/8000");
  EXPECT_EQ(format_rtpmap({.id = CodecId::G729}), "G729/8000");
  EXPECT_EQ(format_rtpmap({.id = CodecId::G726_32}), "G726-32/8000");
  EXPECT_EQ(format_rtpmap({.id = CodecId::G726_32, .g726_packing = G726Packing::Aal2}), "AAL2-G726-32/8000");
}
