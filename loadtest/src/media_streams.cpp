// SPDX-License-Identifier: GPL-3.0-or-later
#include "media_streams.hpp"

#include <algorithm>
#include <random>

#include "msgw/common/monotonic_clock.hpp"

namespace msgw::loadtest {
namespace {

std::uint64_t remote_key(std::uint32_t ip, std::uint16_t port) {
  return (static_cast<std::uint64_t>(ip) << 16) | port;
}

std::uint64_t call_key(Side side, std::uint32_t source, std::uint64_t call) {
  return (static_cast<std::uint64_t>(side) << 63) | (static_cast<std::uint64_t>(source & 0x7fff) << 48) |
         (call & 0xffffffffffffULL);
}

}  // namespace

struct MediaStreams::Stream {
  Side side = Side::phone;
  std::uint32_t source = 0;
  std::uint64_t call = 0;
  std::uint32_t remote_ip = 0;
  std::uint16_t remote_port = 0;
  bool sending = false;
  std::uint16_t seq = 0;
  std::uint32_t ts = 0, ssrc = 0;
  std::uint64_t sent = 0, withheld = 0, packet_no = 0;
  // The last 64 packets sent (by sequence number mod 64): time and number
  // side by side, one cache line for the receiver's delay lookup.
  struct Sent {
    double time = 0;
    std::uint16_t seq = 0;
  } sent_at[64];
  // The stream whose packets this one receives (found by SSRC once, when
  // the target keeps it); kNoStream until then.
  static constexpr std::uint32_t kNoStream = 0xffffffff;
  std::uint32_t delay_source = kNoStream;
  SequenceTracker seqs;
  JitterEstimator jitter;
  double delay_sum = 0;
  std::uint64_t delay_n = 0;
};

MediaStreams::MediaStreams(const MediaConfig& config) : config_(config) {
  const auto& info = codecs::codec_info(config.codec.id);
  clock_rate_ = info.clock_rate;
  samples_per_packet_ = info.clock_rate / 50;
  frames_ = encoded_tone(config.codec);
}

MediaStreams::~MediaStreams() = default;

void MediaStreams::on_event(Side side, std::uint32_t source, const MediaEvent& ev) {
  std::lock_guard lock(mu_);
  pending_.push_back({side, source, ev});
}

void MediaStreams::stop_source(std::uint32_t source) {
  std::lock_guard lock(mu_);
  stop_sources_.push_back(source);
}

MediaSnapshot MediaStreams::snapshot() {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void MediaStreams::take_snapshot() {
  MediaSnapshot n;
  for (const auto& sp : streams_) {
    const Stream& s = *sp;
    n.packets_expected += s.seqs.expected();
    n.packets_lost += s.seqs.lost();
    if (!s.sending) continue;
    ++n.sending[static_cast<int>(s.side)];
    if (s.packet_no >= 25 && s.seqs.received() == 0) ++n.silent_streams;
  }
  n.late_slots = totals_.late_slots;
  n.send_errors = totals_.send_errors;
  n.receive_drops = totals_.receive_drops;
  std::lock_guard lock(mu_);
  snapshot_ = n;
}

void MediaStreams::apply_events(bool sending_stopped) {
  std::vector<Pending> events;
  std::vector<std::uint32_t> stop_sources;
  {
    std::lock_guard lock(mu_);
    events.swap(pending_);
    stop_sources.swap(stop_sources_);
  }
  for (auto source : stop_sources) {
    stopped_sources_.push_back(source);
    for (auto& sp : streams_)
      if (sp->source == source && sp->sending) {
        sp->sending = false;
        active_.fetch_sub(1, std::memory_order_relaxed);
      }
  }
  static std::mt19937 rng(12345);
  for (const auto& p : events) {
    const auto key = call_key(p.side, p.source, p.ev.call);
    if (p.ev.kind == MediaEvent::Kind::stop) {
      auto it = by_call_.find(key);
      if (it != by_call_.end() && streams_[it->second]->sending) {
        streams_[it->second]->sending = false;
        active_.fetch_sub(1, std::memory_order_relaxed);
      }
      continue;
    }
    // A start logged before the source was stopped but read after it: that call is over.
    if (sending_stopped || by_call_.count(key) ||
        std::find(stopped_sources_.begin(), stopped_sources_.end(), p.source) != stopped_sources_.end())
      continue;
    auto s = std::make_unique<Stream>();
    s->side = p.side;
    s->source = p.source;
    s->call = p.ev.call;
    s->remote_ip = p.ev.ip;
    s->remote_port = p.ev.port;
    s->seq = static_cast<std::uint16_t>(rng());
    s->ts = static_cast<std::uint32_t>(rng());
    do s->ssrc = static_cast<std::uint32_t>(rng());
    while (by_ssrc_.count(s->ssrc));
    s->sending = true;
    const auto idx = static_cast<std::uint32_t>(streams_.size());
    by_call_[key] = idx;
    // The target may reuse a media port for a later call: the newest stream owns it.
    by_remote_[static_cast<int>(p.side)][remote_key(p.ev.ip, p.ev.port)] = idx;
    by_ssrc_[s->ssrc] = idx;
    phase_[idx % 20].push_back(idx);
    streams_.push_back(std::move(s));
    active_.fetch_add(1, std::memory_order_relaxed);
  }
}

void MediaStreams::on_slot(double late_ms) {
  ++totals_.slots;
  if (late_ms > MediaEngine::kLateMs) ++totals_.late_slots;
  if (late_ms > totals_.max_lateness_ms) totals_.max_lateness_ms = late_ms;
}

void MediaStreams::slot_packets(unsigned phase, double now, std::vector<RtpOut>* out) {
  std::vector<std::uint32_t>& list = phase_[phase];
  std::size_t kept = 0;
  for (auto idx : list) {
    Stream& s = *streams_[idx];
    if (!s.sending) continue;  // stopped streams leave the slot list
    list[kept++] = idx;
    const std::uint64_t no = s.packet_no++;
    const std::uint16_t seq = s.seq++;
    const std::uint32_t ts = s.ts;
    s.ts += samples_per_packet_;
    if (s.side == Side::carrier && config_.carrier_withhold_every &&
        (no + 1) % config_.carrier_withhold_every == 0) {
      ++s.withheld;
      continue;
    }
    s.sent_at[seq & 63] = {now, seq};
    ++s.sent;
    const auto frame = static_cast<std::uint32_t>(no % frames_.size());
    out->push_back({s.side, s.remote_ip, s.remote_port, config_.codec.payload_type, no == 0, seq, ts, s.ssrc,
                    &frames_[frame], frame});
  }
  list.resize(kept);
}

void MediaStreams::on_rtp(Side side, std::uint32_t src_ip, std::uint16_t src_port, const std::uint8_t* p,
                          std::size_t len, double now) {
  const auto& remotes = by_remote_[static_cast<int>(side)];
  auto it = remotes.find(remote_key(src_ip, src_port));
  if (len < 12 || (p[0] >> 6) != 2 || it == remotes.end()) {
    ++totals_.unmatched_packets;
    return;
  }
  ++totals_.packets_received;
  Stream& s = *streams_[it->second];
  const auto seq = static_cast<std::uint16_t>(p[2] << 8 | p[3]);
  const std::uint32_t ts = static_cast<std::uint32_t>(p[4]) << 24 | static_cast<std::uint32_t>(p[5]) << 16 |
                           static_cast<std::uint32_t>(p[6]) << 8 | p[7];
  const std::uint32_t ssrc = static_cast<std::uint32_t>(p[8]) << 24 | static_cast<std::uint32_t>(p[9]) << 16 |
                             static_cast<std::uint32_t>(p[10]) << 8 | p[11];
  s.seqs.on_packet(seq);
  s.jitter.on_packet(ts, now, clock_rate_);
  // One-way delay when the target kept our SSRC and sequence number. The
  // sending stream is remembered (SSRCs are unique among our streams), so
  // the map is looked at once per stream, not per packet.
  const Stream* src = nullptr;
  if (s.delay_source != Stream::kNoStream && streams_[s.delay_source]->ssrc == ssrc) {
    src = streams_[s.delay_source].get();
  } else if (auto o = by_ssrc_.find(ssrc); o != by_ssrc_.end()) {
    s.delay_source = o->second;
    src = streams_[o->second].get();
  }
  if (src != nullptr && src != &s) {
    const auto& at = src->sent_at[seq & 63];
    if (at.seq == seq && at.time > 0) {
      s.delay_sum += now - at.time;
      ++s.delay_n;
    }
  }
}

MediaSummary MediaStreams::summarize(double thread_cpu_s) {
  MediaSummary out = totals_;
  out.thread_cpu_s = thread_cpu_s;
  const auto impairment = codec_impairment(config_.codec.id);
  for (const auto& sp : streams_) {
    const Stream& s = *sp;
    StreamResult r;
    r.side = s.side;
    r.source = s.source;
    r.call = s.call;
    r.sent = s.sent;
    r.withheld = s.withheld;
    r.received = s.seqs.received();
    r.expected = s.seqs.expected();
    r.lost = s.seqs.lost();
    r.loss_percent = 100.0 * s.seqs.loss_fraction();
    r.jitter_ms = s.jitter.jitter_ms(clock_rate_);
    if (s.delay_n) r.delay_ms = s.delay_sum / static_cast<double>(s.delay_n) * 1e3;
    // Mouth to ear: the network delay seen (0 if unknown), 20 ms packetisation,
    // and a jitter buffer of twice the jitter, at least one packet.
    const double ta = std::max(0.0, r.delay_ms) + 20 + std::max(20.0, 2 * r.jitter_ms);
    EModelInput in{impairment, r.loss_percent, 1, ta};
    r.r_factor = r_factor(in);
    r.mos = mos_from_r(r.r_factor);
    out.streams.push_back(r);
  }
  active_ = 0;
  return out;
}

SlotClock::SlotClock(MediaStreams& streams) : streams_(streams), t0_(common::monotonic_s()), snapshot_at_(t0_) {}

SlotTick SlotClock::tick(bool sending_stopped) {
  streams_.apply_events(sending_stopped);
  if (common::monotonic_s() - snapshot_at_ >= 0.1) {
    streams_.take_snapshot();
    snapshot_at_ = common::monotonic_s();
  }
  SlotTick t;
  t.now = common::monotonic_s();
  t.due = t0_ + static_cast<double>(slot_) * 1e-3;
  t.phase = static_cast<unsigned>(slot_ % 20);
  t.slot_due = t.now >= t.due;
  if (t.slot_due) {
    if (!sending_stopped) streams_.on_slot((t.now - t.due) * 1e3);
    ++slot_;
  }
  return t;
}

}  // namespace msgw::loadtest
