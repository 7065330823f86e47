// SPDX-License-Identifier: GPL-3.0-or-later
// The negotiated media parameters of each leg through process_burst():
// only negotiated payload types reach a leg (kLegPayloadPassthrough lets
// static ones through), no G.729 Annex B silence frames towards a leg that
// said annexb=no, G.726-32 repacked between AAL2 and RFC 3551 legs, and
// re-framing between legs of one codec at different packet times.
#include <cmath>

#include "msgw/codecs/codec.hpp"
#include "packet_rig.hpp"

namespace {

namespace codecs = msgw::codecs;

// Phone leg (port 0, latching) and carrier leg (port 1) of one codec each.
void media_specs(LegSpec l[2], uint32_t flow, CodecId phone, uint8_t phone_pt, CodecId carrier,
                 uint8_t carrier_pt) {
  Rig::specs(l, flow, kPhone, 4000, kCarrier, carrier_pt, false);
  l[0].codec = uint8_t(phone);
  l[0].payload_type = phone_pt;
  l[1].codec = uint8_t(carrier);
  l[1].payload_type = carrier_pt;
}

std::vector<uint8_t> phone_packet(uint32_t flow, uint8_t pt, uint16_t seq, uint32_t ts,
                                  const std::vector<uint8_t>& payload) {
  Frame f = from_phone(flow);
  f.payload = dptest::rtp(pt, seq, ts, 0x5eed, 0);
  f.payload.insert(f.payload.end(), payload.begin(), payload.end());
  return f.bytes();
}

// Payloads (UDP payload minus the 12-byte RTP header) and sequence numbers
// of what the last run() sent to the carrier.
struct ToCarrier {
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<uint16_t> seqs;
  std::vector<uint8_t> pts;
  void take(const Rig& r) {
    for (const auto& o : r.sent) {
      if (rd32(o, 30) != kCarrier || (rd16(o, 36) & 1) != 0) continue;  // RTP to the carrier only
      payloads.emplace_back(o.begin() + 54, o.end());
      seqs.push_back(rd16(o, 44));
      pts.push_back(o[43] & 0x7f);
    }
  }
};

int16_t tone(int i) { return int16_t(7000 * std::sin(i * 2 * M_PI * 440 / 8000)); }

}  // namespace

TEST(DataplaneMediaParams, UnnegotiatedStaticPayloadTypesAreDroppedAndCounted) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  LegSpec l[2];
  media_specs(l, 1, CodecId::G729, 18, CodecId::G729, 18);
  ASSERT_EQ(r.ft->add(1, l), Status::ok);
  ASSERT_TRUE(r.ft->get(1)->relay);
  // The negotiated codec is relayed.
  EXPECT_FALSE(r.run(0, phone_packet(1, 18, 10, 1600, std::vector<uint8_t>(20, 0x55))).empty());
  // PCMU on a call negotiated as G.729, and comfort noise nobody agreed to: dropped.
  EXPECT_TRUE(r.run(0, phone_packet(1, 0, 11, 1760, std::vector<uint8_t>(160, 0xff))).empty());
  EXPECT_TRUE(r.run(0, phone_packet(1, 13, 12, 1920, {0x40})).empty());
  EXPECT_EQ(r.dropped(Drop::payload_type_not_negotiated), 2u);
  EXPECT_STREQ(drop_name(Drop::payload_type_not_negotiated), "payload_type_not_negotiated");
  EXPECT_TRUE(drop_is_loss(Drop::payload_type_not_negotiated));
  // A carrier leg that takes them (per-trunk pass-through) gets them unchanged.
  l[1].flags |= kLegPayloadPassthrough;
  ASSERT_EQ(r.ft->modify(1, l), Status::ok);
  auto o = r.run(0, phone_packet(1, 0, 13, 2080, std::vector<uint8_t>(160, 0xff)));
  ASSERT_FALSE(o.empty());
  EXPECT_EQ(o[43] & 0x7f, 0);
  EXPECT_EQ(o.size() - 54, 160u);
  EXPECT_EQ(r.dropped(Drop::payload_type_not_negotiated), 2u);
}

TEST(DataplaneMediaParams, TranscodedSessionsDropUnnegotiatedTypesBeforeTheEngine) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add_transcoded(2), Status::ok);  // PCMU phone, PCMA carrier
  ASSERT_FALSE(r.ft->get(2)->relay);
  // G.729 (PT 18) from the phone: not negotiated on its leg.
  EXPECT_TRUE(r.run(0, phone_packet(2, 18, 1, 160, std::vector<uint8_t>(20, 1))).empty());
  EXPECT_EQ(r.dropped(Drop::payload_type_not_negotiated), 1u);
}

TEST(DataplaneMediaParams, NoAnnexBSilenceFramesTowardsALegThatRefusedThem) {
  ASSERT_NE(dptest::pool(), nullptr);
  // The phone's G.729 with Annex B: 200 ms of tone, then silence, which the
  // encoder sends as SID frames and DTX (nothing) — as an SPA does.
  auto enc = codecs::make_encoder({.id = CodecId::G729, .g729_annexb = true});
  struct Pkt {
    uint16_t seq;
    uint32_t ts;
    std::vector<uint8_t> payload;
  };
  std::vector<Pkt> phone;
  uint16_t seq = 100;
  int sids = 0;
  for (int p = 0; p < 60; ++p) {
    std::vector<uint8_t> payload;
    for (int fr = 0; fr < 2; ++fr) {
      int16_t pcm[80];
      for (int k = 0; k < 80; ++k) pcm[k] = p < 10 ? tone(p * 160 + fr * 80 + k) : 0;
      uint8_t bits[10];
      const size_t n = enc->encode(pcm, bits);
      sids += n == 2;
      payload.insert(payload.end(), bits, bits + n);
    }
    if (!payload.empty()) phone.push_back({seq++, uint32_t(8000 + 160 * p), payload});
  }
  ASSERT_GT(sids, 0) << "the phone's audio must contain SID frames for this test";

  for (bool carrier_annexb : {true, false}) {
    SCOPED_TRACE(carrier_annexb ? "carrier annexb=yes" : "carrier annexb=no");
    Rig r;
    LegSpec l[2];
    media_specs(l, 3, CodecId::G729, 18, CodecId::G729, 18);
    if (!carrier_annexb) l[1].flags |= kLegG729NoAnnexB;
    ASSERT_EQ(r.ft->add(3, l), Status::ok);
    EXPECT_EQ(r.ft->get(3)->relay, carrier_annexb);
    ToCarrier c;
    for (const auto& p : phone) {
      r.run(0, phone_packet(3, 18, p.seq, p.ts, p.payload));
      c.take(r);
    }
    ASSERT_GE(c.payloads.size(), 9u);
    size_t short_frames = 0;
    for (const auto& pl : c.payloads) short_frames += pl.size() % 10 != 0;
    for (size_t i = 1; i < c.seqs.size(); ++i) EXPECT_EQ(c.seqs[i], uint16_t(c.seqs[i - 1] + 1));
    if (carrier_annexb) {
      EXPECT_GT(short_frames, 0u) << "relayed unchanged: the phone's SID frames reach the carrier";
    } else {
      EXPECT_EQ(short_frames, 0u) << "a SID frame reached a leg that said annexb=no";
      for (const auto& pl : c.payloads) EXPECT_EQ(pl.size(), 20u);
    }
  }
}

TEST(DataplaneMediaParams, G726IsRepackedBetweenAal2AndRfc3551Legs) {
  ASSERT_NE(dptest::pool(), nullptr);
  auto enc = codecs::make_encoder({.id = CodecId::G726_32, .g726_packing = codecs::G726Packing::Aal2});
  auto ref = codecs::make_decoder({.id = CodecId::G726_32, .g726_packing = codecs::G726Packing::Aal2});
  for (bool carrier_aal2 : {true, false}) {
    SCOPED_TRACE(carrier_aal2 ? "both AAL2" : "AAL2 phone, RFC 3551 carrier");
    Rig r;
    LegSpec l[2];
    media_specs(l, 4, CodecId::G726_32, 97, CodecId::G726_32, 2);
    l[0].flags |= kLegG726Aal2;
    if (carrier_aal2) l[1].flags |= kLegG726Aal2;
    ASSERT_EQ(r.ft->add(4, l), Status::ok);
    EXPECT_EQ(r.ft->get(4)->relay, carrier_aal2);
    enc->reset();
    ref->reset();
    auto carrier_dec = codecs::make_decoder(
        {.id = CodecId::G726_32,
         .g726_packing = carrier_aal2 ? codecs::G726Packing::Aal2 : codecs::G726Packing::Rfc3551});
    std::vector<int16_t> sent, heard;
    ToCarrier c;
    for (int p = 0; p < 25; ++p) {
      int16_t pcm[160];
      for (int k = 0; k < 160; ++k) pcm[k] = tone(p * 160 + k);
      std::vector<uint8_t> bytes(80);
      ASSERT_EQ(enc->encode(pcm, bytes), 80u);
      int16_t dec[160];
      ASSERT_EQ(ref->decode(bytes, dec), 160u);
      sent.insert(sent.end(), dec, dec + 160);
      r.run(0, phone_packet(4, 97, uint16_t(p), uint32_t(160 * p), bytes));
      c.take(r);
    }
    for (const auto& pl : c.payloads) {
      int16_t dec[480];
      const size_t n = carrier_dec->decode(pl, dec);
      heard.insert(heard.end(), dec, dec + n);
    }
    ASSERT_GE(heard.size(), 160u * 20);
    for (uint8_t pt : c.pts) EXPECT_EQ(pt, 2);
    // What the carrier decodes (RFC 3551 when it said so) is the phone's
    // audio: the engine adds no delay, two G.726 passes lose a little.
    double sig = 0, err = 0;
    for (size_t i = 0; i < heard.size(); ++i) {
      sig += double(sent[i]) * sent[i];
      err += (double(sent[i]) - heard[i]) * (double(sent[i]) - heard[i]);
    }
    const double snr_db = 10 * std::log10(sig / std::max(err, 1.0));
    EXPECT_GT(snr_db, 15.0) << "the carrier hears noise: packing not converted";
  }
}

TEST(DataplaneMediaParams, OneCodecAtTwoPacketTimesIsReframed) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  LegSpec l[2];
  media_specs(l, 5, CodecId::Pcmu, 0, CodecId::Pcmu, 0);
  l[0].ptime_ms = 30;  // the phone asked for 30 ms (and sends 30 ms)
  l[1].ptime_ms = 20;  // the carrier takes 20 ms
  ASSERT_EQ(r.ft->add(5, l), Status::ok);
  EXPECT_FALSE(r.ft->get(5)->relay);
  ToCarrier c;
  for (int p = 0; p < 10; ++p) {
    r.run(0, phone_packet(5, 0, uint16_t(p), uint32_t(240 * p), std::vector<uint8_t>(240, uint8_t(0x80 + p))));
    c.take(r);
  }
  ASSERT_GE(c.payloads.size(), 14u);  // 300 ms in 20 ms packets
  for (const auto& pl : c.payloads) EXPECT_EQ(pl.size(), 160u);
  for (size_t i = 1; i < c.seqs.size(); ++i) EXPECT_EQ(c.seqs[i], uint16_t(c.seqs[i - 1] + 1));
  // Same packet time on both legs: relayed as before.
  l[0].ptime_ms = 20;
  ASSERT_EQ(r.ft->modify(5, l), Status::ok);
  EXPECT_TRUE(r.ft->get(5)->relay);
}
