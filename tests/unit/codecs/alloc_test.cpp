// SPDX-License-Identifier: GPL-3.0-or-later
// The per-packet path must not allocate: count every operator new while transcoders of
// all 16 codec pairs process speech, losses, telephone-events and bad input.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "msgw/codecs/transcoder.hpp"
#include "test_signal.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::size_t> g_allocs{0};
}  // namespace

// Replacing the global allocation functions is the portable way to observe every
// allocation in the process (libstdc++, gtest and our code alike). GCC cannot see that the
// replaced operator new is malloc-based, so it warns about free() in operator delete.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace msgw::codecs;

TEST(TranscoderAlloc, CounterSeesAllocations) {
  // Proves the hook works, so a zero below means something.
  g_allocs = 0;
  g_counting = true;
  auto* v = new std::vector<int>(100);
  volatile int* escape = v->data();
  (void)escape;
  delete v;
  g_counting = false;
  EXPECT_GE(g_allocs.load(), 1u);
}

TEST(TranscoderAlloc, PerPacketPathDoesNotAllocate) {
  const auto sig = msgw::codecs::testing::speech_like(8000, 8);
  const CodecId ids[] = {CodecId::Pcmu, CodecId::Pcma, CodecId::G726_32, CodecId::G729};
  const std::uint8_t pts[] = {0, 8, 97, 18};
  std::array<EgressPacket, kMaxEgressPerCall> out;
  const std::vector<std::uint8_t> junk(7, 0xAB), event = {3, 0x0a, 0, 160};
  std::size_t produced = 0;
  for (int a = 0; a < 4; ++a) {
    auto enc = make_encoder({.id = ids[a], .g729_annexb = false});
    std::vector<std::uint8_t> bits(sig.size());
    bits.resize(enc->encode(sig, bits));
    const std::size_t per20 = bits.size() / 50;
    for (int b = 0; b < 4; ++b) {
      TranscoderConfig cfg;
      cfg.ingress = {.id = ids[a], .payload_type = pts[a], .ptime_ms = 20};
      cfg.egress = {.id = ids[b], .payload_type = pts[b], .ptime_ms = 30};  // Annex B on
      cfg.ingress_event_pt = 101;
      cfg.egress_event_pt = 101;
      std::string err;
      auto tc = Transcoder::create(cfg, &err);
      ASSERT_TRUE(tc) << err;
      g_allocs = 0;
      g_counting = true;
      std::uint16_t seq = 65500;
      std::uint32_t ts = 0;
      for (std::size_t off = 0; off + per20 <= bits.size(); off += per20, ++seq, ts += 160) {
        if (seq % 7 == 0) continue;  // loss
        if (seq % 11 == 0) produced += tc->conceal_lost(out);
        produced += tc->process(std::span(bits).subspan(off, per20), pts[a], seq, ts, false, out);
        produced += tc->process(junk, pts[a], seq, ts, false, out);
        if (seq % 13 == 0) produced += tc->process(event, 101, ++seq, ts, true, out);
      }
      tc->resync();
      produced += tc->process(std::span(bits).first(per20), pts[a], 7, 99999, true, out);
      produced += tc->flush(out);
      g_counting = false;
      EXPECT_EQ(g_allocs.load(), 0u) << "pair " << a << "->" << b;
    }
  }
  EXPECT_GT(produced, 500u);
}
