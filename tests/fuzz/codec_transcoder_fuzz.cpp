// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzz the transcoder with arbitrary packet sequences for every codec pair.
// Input: 3 header bytes (ingress/egress codec, ptimes, options), then records:
//   op(1) len(1) pt(1) seq(2) ts(4) payload(len)
// op selects process / conceal_lost / flush / resync, so losses, jumps, wraps, foreign
// payload types, events and malformed payloads all occur.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "msgw/codecs/transcoder.hpp"
#include "msgw/common/byte_order.hpp"

using namespace msgw::codecs;

namespace {

constexpr std::uint8_t kPts[4] = {0, 8, 96, 18};
constexpr std::uint16_t kPtimes[6] = {10, 20, 30, 40, 50, 60};

void check(const std::array<EgressPacket, kMaxEgressPerCall>& out, std::size_t n, std::size_t cap) {
  if (n > cap) __builtin_trap();
  for (std::size_t i = 0; i < n; ++i)
    if (out[i].length > kMaxEgressPayload) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const std::uint8_t a = data[0], b = data[1], c = data[2];
  TranscoderConfig cfg;
  cfg.ingress.id = static_cast<CodecId>(a & 3);
  cfg.ingress.payload_type = kPts[a & 3];
  cfg.ingress.g726_packing = (a & 4) ? G726Packing::Aal2 : G726Packing::Rfc3551;
  cfg.egress.id = static_cast<CodecId>(b & 3);
  cfg.egress.payload_type = kPts[b & 3];
  cfg.egress.g726_packing = (b & 4) ? G726Packing::Aal2 : G726Packing::Rfc3551;
  cfg.egress.g729_annexb = (b & 8) != 0;
  cfg.egress.ptime_ms = kPtimes[(b >> 4) % 6];
  cfg.ingress_event_pt = (c & 1) ? 101 : kNoPayloadType;
  cfg.egress_event_pt = (c & 2) ? 100 : kNoPayloadType;
  cfg.max_conceal_ms = static_cast<std::uint16_t>(((c >> 2) & 7) * 25);  // 0..175 ms
  cfg.max_timestamp_jump_ms = 1000;
  cfg.egress_timestamp_base = 0xFFFFFF00u;
  std::string err;
  auto tc = Transcoder::create(cfg, &err);
  if (!tc) __builtin_trap();  // every configuration built above is valid

  static std::array<EgressPacket, kMaxEgressPerCall> out;
  // Sometimes give it less room than it needs to exercise the OutputFull path.
  const std::size_t cap = (c & 0x80) ? 3 : out.size();
  std::span<EgressPacket> room(out.data(), cap);
  std::size_t pos = 3;
  while (pos + 9 <= size) {
    const std::uint8_t op = data[pos], len = data[pos + 1], pt = data[pos + 2];
    const std::uint16_t seq = msgw::common::load_be16(data + pos + 3);
    std::uint32_t ts;
    std::memcpy(&ts, data + pos + 5, 4);
    pos += 9;
    const std::size_t n = std::min<std::size_t>(len, size - pos);
    std::span<const std::uint8_t> payload(data + pos, n);
    pos += n;
    std::size_t produced = 0;
    switch (op & 7) {
      case 5: produced = tc->conceal_lost(room); break;
      case 6: produced = tc->flush(room); break;
      case 7: tc->resync(); break;
      default: {
        // Mostly use the configured PTs so the fuzzer gets past the PT filter.
        std::uint8_t use_pt = pt;
        if ((op & 0x18) == 0) use_pt = cfg.ingress.payload_type;
        else if ((op & 0x18) == 8) use_pt = 101;
        // Large payloads: repeat the bytes we have so sizes up to ~2.5 KB occur.
        static std::array<std::uint8_t, 2600> big;
        if ((op & 0x60) == 0x60 && n > 0) {
          const std::size_t want = std::min<std::size_t>(big.size(), n * 16u);
          for (std::size_t i = 0; i < want; ++i) big[i] = payload[i % n];
          payload = std::span<const std::uint8_t>(big.data(), want);
        }
        produced = tc->process(payload, use_pt, seq, ts, (op & 0x80) != 0, room);
      }
    }
    check(out, produced, cap);
  }
  const auto& st = tc->stats();
  if (st.packets_out < st.events_out) __builtin_trap();
  return 0;
}
