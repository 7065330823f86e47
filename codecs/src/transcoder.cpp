// SPDX-License-Identifier: GPL-3.0-or-later
// Transcoder per-packet path: process, conceal_lost, flush, resync. Everything here is
// noexcept and touches only memory owned by TranscoderImpl (allocated once at setup):
// no allocation, no locks, no logging, no exceptions.
#include <algorithm>
#include <cstring>

#include "transcoder_impl.hpp"

namespace msgw::codecs {

using namespace detail;
void TranscoderImpl::emit_block(Sink& s, const std::int16_t* pcm) noexcept {
  if (!egress_g729_) {
    EgressPacket* p = open_packet(s, fifo_ts_, cfg_.egress.payload_type);
    p->length = static_cast<std::uint16_t>(
        enc_->encode(std::span<const std::int16_t>(pcm, egress_samples_),
                     std::span<std::uint8_t>(p->payload, kMaxEgressPayload)));
    p->marker = pending_marker_;
    pending_marker_ = false;
    ++stats_.frames_out;
    close_packet(s);
    return;
  }
  // G.729: frame by frame so Annex B decisions shape the packets (RFC 3551 4.5.6: a SID
  // frame ends a packet; an untransmitted frame splits the block into separate packets).
  for (std::size_t off = 0; off < egress_samples_; off += kBlockSamples) {
    std::uint8_t bits[10];
    FrameKind kind = FrameKind::Speech;
    std::size_t len = enc_->encode(std::span<const std::int16_t>(pcm + off, kBlockSamples),
                                   std::span<std::uint8_t>(bits, sizeof bits), &kind);
    ++stats_.frames_out;
    const std::uint32_t ts = fifo_ts_ + static_cast<std::uint32_t>(off);
    if (kind == FrameKind::NoData || len == 0) {
      close_packet(s);
      egress_dtx_ = true;
      continue;
    }
    if (!s.open) {
      open_packet(s, ts, cfg_.egress.payload_type);
      // Marker on the first packet of a talkspurt (RFC 3551 4.1), not on SID-only packets.
      s.open->marker = kind == FrameKind::Speech && (pending_marker_ || egress_dtx_);
      if (s.open->marker) pending_marker_ = false;
    }
    std::memcpy(s.open->payload + s.open->length, bits, len);
    s.open->length = static_cast<std::uint16_t>(s.open->length + len);
    if (kind == FrameKind::Sid) {
      ++stats_.sid_out;
      egress_dtx_ = true;
      close_packet(s);
    } else {
      egress_dtx_ = false;
    }
  }
  close_packet(s);
}

std::size_t TranscoderImpl::handle_event(std::span<const std::uint8_t> payload, std::uint32_t ts,
                                         bool marker, Sink& s) noexcept {
  ++stats_.events_in;
  if (cfg_.egress_event_pt == kNoPayloadType) {
    ++stats_.dropped[static_cast<std::size_t>(DropReason::EventNotNegotiated)];
    return 0;
  }
  EgressPacket* p = open_packet(s, ts + ts_offset_, cfg_.egress_event_pt);
  std::memcpy(p->payload, payload.data(), payload.size());
  p->length = static_cast<std::uint16_t>(payload.size());
  p->marker = marker;
  p->telephone_event = true;
  if (s.open_is_real) ++stats_.events_out;
  close_packet(s);
  return s.n;
}

std::size_t TranscoderImpl::process(std::span<const std::uint8_t> payload, std::uint8_t pt,
                                    std::uint16_t seq, std::uint32_t ts, bool marker,
                                    std::span<EgressPacket> out) noexcept {
  ++stats_.packets_in;
  const bool is_audio = pt == cfg_.ingress.payload_type;
  const bool is_event = !is_audio && cfg_.ingress_event_pt != kNoPayloadType && pt == cfg_.ingress_event_pt;
  if (!is_audio && !is_event) {
    ++stats_.dropped[static_cast<std::size_t>(DropReason::UnexpectedPayloadType)];
    return 0;
  }

  // Validate the payload before it can influence the timeline: a malformed packet is
  // treated exactly like a lost one (the next good packet sees the gap and conceals).
  std::size_t samples = 0;
  if (payload.empty()) {
    ++stats_.dropped[static_cast<std::size_t>(DropReason::EmptyPayload)];
    return 0;
  }
  if (is_event) {
    if (payload.size() > kMaxEgressPayload) {
      ++stats_.dropped[static_cast<std::size_t>(DropReason::TooLarge)];
      return 0;
    }
    if (payload.size() % kEventBlockBytes != 0) {
      ++stats_.dropped[static_cast<std::size_t>(DropReason::MalformedPayload)];
      return 0;
    }
  } else {
    DecodeError err = DecodeError::None;
    samples = dec_->samples_in(payload, &err);
    if (samples == 0) {
      ++stats_.dropped[static_cast<std::size_t>(
          err == DecodeError::Empty ? DropReason::EmptyPayload : DropReason::MalformedPayload)];
      return 0;
    }
    if (samples > kMaxIngressSamples) {
      ++stats_.dropped[static_cast<std::size_t>(DropReason::TooLarge)];
      return 0;
    }
  }

  // Sequence tracking, shared by audio and telephone-event packets (same SSRC, same space).
  std::uint32_t lost = 0;
  bool restart = !have_stream_;
  if (have_stream_) {
    const int d = static_cast<std::int16_t>(static_cast<std::uint16_t>(seq - expected_seq_));
    if (d < 0 && d >= -kMaxMisorder) {
      ++stats_.dropped[static_cast<std::size_t>(DropReason::LateOrDuplicate)];
      return 0;
    }
    if (d < 0 || d >= kMaxDropout) {
      restart = true;  // the sender restarted or another source took over
      ++stats_.resyncs;
    } else {
      lost = static_cast<std::uint32_t>(d);
      if (seq < static_cast<std::uint16_t>(expected_seq_ - 1)) ++stats_.seq_wraps;
    }
  }
  if (restart) start_timeline(ts);
  expected_seq_ = static_cast<std::uint16_t>(seq + 1);
  stats_.lost_packets += lost;

  Sink sink{out};
  if (is_event) return handle_event(payload, ts, marker, sink);

  // With no audio yet (new stream, or only telephone-events so far) there is no gap to judge.
  if (!restart && have_audio_) {
    const std::int32_t tsd = static_cast<std::int32_t>(ts - expected_ts_);
    if (tsd < 0 || static_cast<std::uint32_t>(tsd) > max_jump_samples_) {
      // Timestamp went backwards or jumped too far: keep the egress timeline continuous.
      ts_offset_ = next_egress_timestamp() - ts;
      pending_marker_ = true;
      ++stats_.resyncs;
    } else if (tsd > 0) {
      const auto gap = static_cast<std::uint32_t>(tsd);
      if (lost > 0 && gap <= max_conceal_samples_) {
        conceal_into_fifo(gap);  // packet loss: synthesise the missing audio
        drain(sink);
      } else {
        // Silence (sender DTX / end of talkspurt) or a loss too long to conceal: finish the
        // packet in progress with concealment, then leave the rest of the gap in the
        // egress timestamps and start a new talkspurt.
        const std::size_t need = fifo_len_ ? egress_samples_ - fifo_len_ : 0;
        const std::size_t fill = std::min<std::size_t>(gap, need);
        conceal_into_fifo(fill);
        drain(sink);
        if (gap > fill) pending_marker_ = true;
      }
    }
  }
  if (marker) pending_marker_ = true;

  if (fifo_len_ == 0) fifo_ts_ = ts + ts_offset_;
  const std::size_t got =
      dec_->decode(payload, std::span<std::int16_t>(fifo_.data() + fifo_len_, kFifoCapacity - fifo_len_));
  fifo_len_ += got;
  stats_.frames_in += ingress_g729_ ? (got / kBlockSamples) : 1;
  if (ingress_g729_ && payload.size() % 10 == 2) ++stats_.sid_in;
  have_audio_ = true;
  expected_ts_ = ts + static_cast<std::uint32_t>(got);
  last_ingress_samples_ = static_cast<std::uint32_t>(got);
  drain(sink);
  return sink.n;
}

std::size_t TranscoderImpl::conceal_lost(std::span<EgressPacket> out) noexcept {
  if (!have_stream_ || !have_audio_ || last_ingress_samples_ == 0) return 0;
  Sink sink{out};
  const std::size_t n = std::min<std::size_t>(last_ingress_samples_, max_conceal_samples_);
  if (fifo_len_ == 0) fifo_ts_ = expected_ts_ + ts_offset_;
  conceal_into_fifo(n);
  expected_ts_ += static_cast<std::uint32_t>(n);
  expected_seq_ = static_cast<std::uint16_t>(expected_seq_ + 1);
  ++stats_.lost_packets;
  drain(sink);
  return sink.n;
}

std::size_t TranscoderImpl::flush(std::span<EgressPacket> out) noexcept {
  if (fifo_len_ == 0) return 0;
  Sink sink{out};
  // Complete the packet with concealment so the egress ptime stays regular; a short
  // last packet confuses some SBCs (freeswitch#2170-style irregular ptimes).
  const std::size_t fill = egress_samples_ - fifo_len_;
  conceal_into_fifo(fill);
  if (have_audio_) expected_ts_ += static_cast<std::uint32_t>(fill);
  drain(sink);
  return sink.n;
}

std::size_t Transcoder::process(std::span<const std::uint8_t> payload, std::uint8_t payload_type,
                                std::uint16_t seq, std::uint32_t timestamp, bool marker,
                                std::span<EgressPacket> out) noexcept {
  return impl_->process(payload, payload_type, seq, timestamp, marker, out);
}
std::size_t Transcoder::conceal_lost(std::span<EgressPacket> out) noexcept { return impl_->conceal_lost(out); }
std::size_t Transcoder::flush(std::span<EgressPacket> out) noexcept { return impl_->flush(out); }
void Transcoder::resync() noexcept { impl_->resync(); }
const TranscoderStats& Transcoder::stats() const noexcept { return impl_->stats_; }
const TranscoderConfig& Transcoder::config() const noexcept { return impl_->cfg_; }
std::uint32_t Transcoder::next_egress_timestamp() const noexcept { return impl_->next_egress_timestamp(); }

}  // namespace msgw::codecs
