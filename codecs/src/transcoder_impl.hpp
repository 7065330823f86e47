// SPDX-License-Identifier: GPL-3.0-or-later
// Internal: state of one transcoder direction. Shared by the per-packet path
// (transcoder.cpp) and the setup path (transcoder_setup.cpp).
#pragma once

#include <array>
#include <cstring>
#include <memory>

#include "msgw/codecs/transcoder.hpp"

namespace msgw::codecs {

namespace detail {

// RFC 3550 appendix A.1 limits: a packet up to kMaxMisorder behind the expected sequence
// number is late/duplicate; a jump of kMaxDropout or more is a new stream.
inline constexpr int kMaxMisorder = 100;
inline constexpr int kMaxDropout = 3000;
inline constexpr std::size_t kMaxEgressSamples = 60 * kSamplesPerMs;
inline constexpr std::size_t kMaxConcealMsLimit = 200;
inline constexpr std::size_t kFifoCapacity = kMaxEgressSamples + kMaxIngressSamples + kBlockSamples;
inline constexpr std::size_t kEventBlockBytes = 4;  // RFC 4733 section 2.3

}  // namespace detail

class TranscoderImpl {
 public:
  explicit TranscoderImpl(const TranscoderConfig& cfg)
      : cfg_(cfg),
        dec_(make_decoder(cfg.ingress)),
        enc_(make_encoder(cfg.egress)),
        egress_samples_(static_cast<std::size_t>(cfg.egress.ptime_ms) * kSamplesPerMs),
        max_conceal_samples_(static_cast<std::uint32_t>(cfg.max_conceal_ms) * kSamplesPerMs),
        max_jump_samples_(cfg.max_timestamp_jump_ms * static_cast<std::uint32_t>(kSamplesPerMs)),
        egress_g729_(cfg.egress.id == CodecId::G729),
        ingress_g729_(cfg.ingress.id == CodecId::G729),
        fifo_ts_(cfg.egress_timestamp_base) {}

  std::size_t process(std::span<const std::uint8_t> payload, std::uint8_t pt, std::uint16_t seq,
                      std::uint32_t ts, bool marker, std::span<EgressPacket> out) noexcept;
  std::size_t conceal_lost(std::span<EgressPacket> out) noexcept;
  std::size_t flush(std::span<EgressPacket> out) noexcept;
  void resync() noexcept {
    have_stream_ = false;
    have_audio_ = false;
    pending_marker_ = true;
    ++stats_.resyncs;
  }
  std::uint32_t next_egress_timestamp() const noexcept {
    return fifo_ts_ + static_cast<std::uint32_t>(fifo_len_);
  }

  TranscoderConfig cfg_;
  TranscoderStats stats_;

 private:
  struct Sink {
    std::span<EgressPacket> pkts;
    std::size_t n = 0;
    EgressPacket* open = nullptr;  // packet being filled (G.729 DTX can split a block)
    bool open_is_real = false;
  };

  EgressPacket* open_packet(Sink& s, std::uint32_t ts, std::uint8_t pt) noexcept {
    if (s.n < s.pkts.size()) {
      s.open = &s.pkts[s.n];
      s.open_is_real = true;
    } else {
      // No room: encode into scratch so codec state still advances, and count the loss.
      ++stats_.dropped[static_cast<std::size_t>(DropReason::OutputFull)];
      s.open = &overflow_;
      s.open_is_real = false;
    }
    s.open->timestamp = ts;
    s.open->payload_type = pt;
    s.open->length = 0;
    s.open->marker = false;
    s.open->telephone_event = false;
    return s.open;
  }
  void close_packet(Sink& s) noexcept {
    if (!s.open) return;
    if (s.open_is_real) {
      ++s.n;
      ++stats_.packets_out;
    }
    s.open = nullptr;
  }

  void start_timeline(std::uint32_t ts) noexcept {
    // Egress continues right after what was already produced (or at egress_timestamp_base).
    ts_offset_ = next_egress_timestamp() - ts;
    have_stream_ = true;
    have_audio_ = false;
    pending_marker_ = true;
  }

  void conceal_into_fifo(std::size_t samples) noexcept {
    if (samples == 0) return;
    dec_->conceal(std::span<std::int16_t>(fifo_.data() + fifo_len_, samples));
    fifo_len_ += samples;
    stats_.concealed_samples += samples;
  }

  void emit_block(Sink& s, const std::int16_t* pcm) noexcept;
  void drain(Sink& s) noexcept {
    std::size_t pos = 0;
    while (fifo_len_ - pos >= egress_samples_) {
      emit_block(s, fifo_.data() + pos);
      pos += egress_samples_;
      fifo_ts_ += static_cast<std::uint32_t>(egress_samples_);
    }
    if (pos != 0) {
      fifo_len_ -= pos;
      if (fifo_len_) std::memmove(fifo_.data(), fifo_.data() + pos, fifo_len_ * sizeof(std::int16_t));
    }
  }
  std::size_t handle_event(std::span<const std::uint8_t> payload, std::uint32_t ts, bool marker,
                           Sink& s) noexcept;

  std::unique_ptr<Decoder> dec_;
  std::unique_ptr<Encoder> enc_;
  const std::size_t egress_samples_;
  const std::uint32_t max_conceal_samples_;
  const std::uint32_t max_jump_samples_;
  const bool egress_g729_;
  const bool ingress_g729_;

  bool have_stream_ = false;    // sequence/offset established
  bool have_audio_ = false;     // expected_ts_ valid
  bool pending_marker_ = true;  // next egress audio packet starts a talkspurt
  bool egress_dtx_ = false;     // last G.729 frame we encoded was SID / not transmitted
  std::uint16_t expected_seq_ = 0;
  std::uint32_t expected_ts_ = 0;           // ingress ts just after the last audio decoded
  std::uint32_t last_ingress_samples_ = 0;  // duration of the last audio packet
  std::uint32_t ts_offset_ = 0;             // egress ts = ingress ts + offset (mod 2^32)
  std::uint32_t fifo_ts_;                   // egress ts of fifo_[0]
  std::size_t fifo_len_ = 0;
  std::array<std::int16_t, detail::kFifoCapacity> fifo_{};
  EgressPacket overflow_{};
};

}  // namespace msgw::codecs
