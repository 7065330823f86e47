// SPDX-License-Identifier: GPL-3.0-or-later
// Transcoded sessions through process_burst(): PCMU -> G.729 payload
// bit-exact with bcg729 fed the same audio, RTP timeline of the egress leg,
// RTCP terminated and replaced by our own SR.
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>

extern "C" {  // bcg729 declares no C linkage itself
#include <bcg729/encoder.h>
}
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "msgw/dataplane/client.hpp"
#include "msgw/dataplane/packet.hpp"
#include "g711_reference.hpp"
#include "test_support.hpp"

using namespace msgw::dataplane;
using dptest::Frame;
using dptest::rd16;
using dptest::rd32;

namespace {

using msgw::g711ref::linear_to_ulaw;
using msgw::g711ref::ulaw_to_linear;

struct Rig {
  std::string instance;
  std::optional<Segment> seg;
  std::optional<FlowTable> ft;
  std::optional<NeighbourTable> nt;
  PortInfo ports[2];
  WorkerContext ctx;
  BurstOutput out;
  uint64_t tsc = 1000, ns = 1'000'000'000;
  Rig() {
    static int n = 0;
    const int id = ++n;
    instance = "ut-tc-" + std::to_string(getpid()) + "-" + std::to_string(id);
    std::string err;
    seg = Segment::create(instance, 4, 2, 1, err);
    ft.emplace("ut_tc_ft" + std::to_string(id), 4, 2, 1, nullptr, SOCKET_ID_ANY);
    nt.emplace("ut_tc_nt" + std::to_string(id), 16, SOCKET_ID_ANY);
    ports[0].mac = {{2, 0, 0, 0, 0, 0x0a}};
    ports[0].ip = 0x0a000001;
    ports[0].netmask = 0xffffff00;
    ports[1].mac = {{2, 0, 0, 0, 0, 0x0b}};
    ports[1].ip = 0xc0a80101;
    ports[1].netmask = 0xffffff00;
    nt->learn(0, 0x0a000010, rte_ether_addr{{2, 0, 0, 0, 0, 0x10}});
    nt->learn(1, 0xc0a80114, rte_ether_addr{{2, 0, 0, 0, 0, 0x14}});
    ctx.n_ports = 2;
    ctx.ports = ports;
    ctx.flows = &*ft;
    ctx.neighbours = &*nt;
    ctx.stats = seg->stats();
    ctx.events = &*seg;
    ctx.tsc_hz = 8'000'000;
  }
  ~Rig() { shm_unlink(segment_name(instance).c_str()); }
  Status add() {
    LegSpec l[2] = {};
    l[0].port = 0;
    l[0].local_ip = 0x0a000001;
    l[0].local_port = 20000;
    l[0].remote_ip = 0x0a000010;
    l[0].remote_port = 4000;
    l[0].codec = uint8_t(CodecId::Pcmu);
    l[0].payload_type = 0;
    l[0].dtmf_pt = 101;
    l[0].ptime_ms = 20;
    l[1].port = 1;
    l[1].local_ip = 0xc0a80101;
    l[1].local_port = 30000;
    l[1].remote_ip = 0xc0a80114;
    l[1].remote_port = 5000;
    l[1].codec = uint8_t(CodecId::G729);
    l[1].payload_type = 18;
    l[1].dtmf_pt = 96;
    l[1].ptime_ms = 20;
    l[1].flags = kLegG729NoAnnexB;  // no VAD: every frame is speech, comparable
    return ft->add(0, l);
  }
  std::vector<std::vector<uint8_t>> run(uint16_t port, const std::vector<uint8_t>& bytes) {
    rte_mbuf* m = dptest::mbuf(bytes);
    out.clear();
    tsc += 160'000;
    ns += 20'000'000;
    process_burst(ctx, port, &m, 1, false, tsc, ns, out);
    std::vector<std::vector<uint8_t>> r;
    for (uint16_t p = 0; p < kMaxPorts; ++p)
      for (uint16_t i = 0; i < out.n_tx[p]; ++i) {
        r.push_back(dptest::data(out.tx[p][i]));
        rte_pktmbuf_free(out.tx[p][i]);
      }
    return r;
  }
};

}  // namespace

TEST(DataplaneTranscode, PcmuToG729IsBitExactWithBcg729) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(), Status::ok);
  constexpr int kPackets = 25;
  std::vector<uint8_t> ulaw;
  for (int i = 0; i < kPackets * 160; ++i)
    ulaw.push_back(linear_to_ulaw(int16_t(8000 * std::sin(i * 2 * M_PI * 440 / 8000) +
                                          3000 * std::sin(i * 2 * M_PI * 1250 / 8000))));
  std::vector<uint8_t> got;
  uint32_t ssrc = 0;
  uint16_t seq = 0;
  uint32_t ts = 0;
  int packets = 0;
  for (int i = 0; i < kPackets; ++i) {
    Frame f;
    f.src_ip = 0x0a000010;
    f.dst_ip = 0x0a000001;
    f.sport = 4000;
    f.dport = 20000;
    f.payload = dptest::rtp(0, uint16_t(100 + i), 1000u + 160u * i, 0x1234, 0);
    f.payload.insert(f.payload.end(), ulaw.begin() + i * 160, ulaw.begin() + (i + 1) * 160);
    for (const auto& o : r.run(0, f.bytes())) {
      ASSERT_GE(o.size(), 54u);
      EXPECT_TRUE(dptest::checksums_ok(o));
      EXPECT_EQ(rd32(o, 26), 0xc0a80101u);
      EXPECT_EQ(rd32(o, 30), 0xc0a80114u);
      EXPECT_EQ(rd16(o, 34), 30000);
      EXPECT_EQ(rd16(o, 36), 5000);
      EXPECT_EQ(o[43] & 0x7f, 18);
      EXPECT_EQ(o.size() - 54, 20u);  // 20 ms = two G.729 frames
      if (packets == 0) {
        ssrc = rd32(o, 50);
      } else {
        EXPECT_EQ(rd32(o, 50), ssrc);
        EXPECT_EQ(rd16(o, 44), uint16_t(seq + 1));
        EXPECT_EQ(rd32(o, 46), ts + 160);
      }
      seq = rd16(o, 44);
      ts = rd32(o, 46);
      got.insert(got.end(), o.begin() + 54, o.end());
      ++packets;
    }
  }
  EXPECT_GE(packets, kPackets - 1);
  // Reference: bcg729 directly on the mu-law-decoded audio.
  bcg729EncoderChannelContextStruct* enc = initBcg729EncoderChannel(0);
  std::vector<uint8_t> want;
  for (int f = 0; f < packets * 2; ++f) {
    int16_t pcm[80];
    for (int k = 0; k < 80; ++k) pcm[k] = ulaw_to_linear(ulaw[size_t(f) * 80 + k]);
    uint8_t bits[10];
    uint8_t len = 0;
    bcg729Encoder(enc, pcm, bits, &len);
    ASSERT_EQ(len, 10);
    want.insert(want.end(), bits, bits + 10);
  }
  closeBcg729EncoderChannel(enc);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "G.729 payload differs from bcg729's encoding of the same audio";
  EXPECT_EQ(r.ctx.counters.transcoded_frames, uint64_t(packets) * 2);
}

TEST(DataplaneTranscode, G729ToPcmuAndRtcpIsTerminatedWithOwnSenderReports) {
  ASSERT_NE(dptest::pool(), nullptr);
  Rig r;
  ASSERT_EQ(r.add(), Status::ok);
  r.ctx.rtcp_interval_ns = 100'000'000;  // 100 ms for the test
  bcg729EncoderChannelContextStruct* enc = initBcg729EncoderChannel(0);
  int audio = 0, reports = 0;
  uint32_t rtp_ssrc = 0;
  for (int i = 0; i < 20; ++i) {
    Frame f;
    f.src_ip = 0xc0a80114;
    f.dst_ip = 0xc0a80101;
    f.sport = 5000;
    f.dport = 30000;
    f.payload = dptest::rtp(18, uint16_t(7 + i), 160u * i, 0x9999, 0);
    for (int fr = 0; fr < 2; ++fr) {
      int16_t pcm[80];
      for (int k = 0; k < 80; ++k) pcm[k] = int16_t(6000 * std::sin((i * 160 + fr * 80 + k) * 0.3));
      uint8_t bits[10], len = 0;
      bcg729Encoder(enc, pcm, bits, &len);
      f.payload.insert(f.payload.end(), bits, bits + len);
    }
    for (const auto& o : r.run(1, f.bytes())) {
      EXPECT_TRUE(dptest::checksums_ok(o));
      EXPECT_EQ(rd32(o, 30), 0x0a000010u);
      if (rd16(o, 36) == 4000) {
        EXPECT_EQ(o[43] & 0x7f, 0);
        EXPECT_EQ(o.size() - 54, 160u);
        rtp_ssrc = rd32(o, 50);
        ++audio;
      } else {
        EXPECT_EQ(rd16(o, 36), 4001);  // RTCP of the phone leg
        EXPECT_EQ(rd16(o, 34), 20001);
        EXPECT_EQ(o[43], 200);          // SR
        EXPECT_EQ(rd32(o, 46), rtp_ssrc);
        ++reports;
      }
    }
  }
  closeBcg729EncoderChannel(enc);
  EXPECT_GE(audio, 19);
  EXPECT_GE(reports, 3);  // 400 ms of media at one SR per 100 ms
  // The carrier's own RTCP is terminated, not relayed.
  Frame rr;
  rr.src_ip = 0xc0a80114;
  rr.dst_ip = 0xc0a80101;
  rr.sport = 5001;
  rr.dport = 30001;
  rr.payload = {0x80, 201, 0, 1, 0, 0, 0x99, 0x99};
  EXPECT_TRUE(r.run(1, rr.bytes()).empty());
  EXPECT_EQ(r.ctx.counters.rtcp_terminated, 1u);
  EXPECT_EQ(r.ctx.counters.dropped_total(), 0u);
}
