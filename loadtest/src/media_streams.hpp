// SPDX-License-Identifier: GPL-3.0-or-later
// The stream table behind every media engine (media.hpp): calls' media
// start/stop events become streams (one per side and call, its own SSRC,
// random first sequence number and timestamp), each slot's packets are
// produced here with the test aid's withholding, and every packet received
// is counted here (RFC 3550 loss and jitter, one-way delay when the target
// kept our SSRC). The engines only move bytes: one definition of what a
// stream sent, lost and saw, whichever engine ran it.
//
// Thread use: on_event, stop_source, active and snapshot from any thread;
// everything else from the engine's thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "media.hpp"

namespace msgw::loadtest {

// One packet a slot asks the engine to send: RTP header fields, the payload
// and where it goes (the target's address for that call, host order).
struct RtpOut {
  Side side = Side::phone;
  std::uint32_t remote_ip = 0;
  std::uint16_t remote_port = 0;
  std::uint8_t payload_type = 0;
  bool first = false;  // the stream's first packet: marker bit
  std::uint16_t seq = 0;
  std::uint32_t ts = 0, ssrc = 0;
  const std::vector<std::uint8_t>* payload = nullptr;
  std::uint32_t payload_index = 0;  // which of payloads(): an engine may keep figures per payload
};

class MediaStreams {
 public:
  explicit MediaStreams(const MediaConfig& config);
  ~MediaStreams();

  // Any thread.
  void on_event(Side side, std::uint32_t source, const MediaEvent& ev);
  void stop_source(std::uint32_t source);
  std::uint64_t active() const { return active_.load(std::memory_order_relaxed); }
  MediaSnapshot snapshot();

  // The engine's thread.
  // Takes the queued events; with sending_stopped no new stream starts.
  void apply_events(bool sending_stopped);
  // Refreshes what snapshot() returns.
  void take_snapshot();
  // A slot began late_ms after its time.
  void on_slot(double late_ms);
  // Appends the packets of every sending stream in this 1 ms slot (phase =
  // slot % 20) to *out, both sides; advances each stream (sequence number,
  // timestamp; a packet withheld by the test aid advances them too but is
  // not appended). `now` is kept as the packets' send time.
  void slot_packets(unsigned phase, double now, std::vector<RtpOut>* out);
  void count_sent(std::uint64_t n) { totals_.packets_sent += n; }
  void count_send_errors(std::uint64_t n) { totals_.send_errors += n; }
  // The engine's ports' receive drops so far (a running total, not an increment).
  void set_receive_drops(std::uint64_t total) { totals_.receive_drops = total; }
  // An RTP packet (header onwards) that arrived on `side` from the target's
  // address src_ip:src_port (host order) at `now`: counted on the stream
  // receiving from that address, or as unmatched.
  void on_rtp(Side side, std::uint32_t src_ip, std::uint16_t src_port, const std::uint8_t* p, std::size_t len,
              double now);
  void count_unmatched() { ++totals_.unmatched_packets; }

  // The payloads packets carry in turn (one second of the codec's 20 ms frames).
  const std::vector<std::vector<std::uint8_t>>& payloads() const { return frames_; }

  // After the engine's thread stopped: every stream's figures, the totals.
  MediaSummary summarize(double thread_cpu_s);

 private:
  struct Stream;
  struct Pending {
    Side side;
    std::uint32_t source;
    MediaEvent ev;
  };

  MediaConfig config_;
  std::vector<std::vector<std::uint8_t>> frames_;  // one second of encoded 20 ms payloads
  std::uint32_t clock_rate_ = 8000, samples_per_packet_ = 160;

  std::mutex mu_;
  std::vector<Pending> pending_;
  std::vector<std::uint32_t> stop_sources_;
  MediaSnapshot snapshot_;  // under mu_

  std::vector<std::uint32_t> stopped_sources_;  // engine thread: a late start of these is ignored
  std::vector<std::unique_ptr<Stream>> streams_;
  std::vector<std::uint32_t> phase_[20];                           // senders per 1 ms slot
  std::unordered_map<std::uint64_t, std::uint32_t> by_call_;       // (side, source, call) -> stream
  std::unordered_map<std::uint64_t, std::uint32_t> by_remote_[2];  // (ip, port) -> stream receiving from it
  std::unordered_map<std::uint32_t, std::uint32_t> by_ssrc_;       // our SSRC -> sending stream
  MediaSummary totals_;
  std::atomic<std::uint64_t> active_{0};
};

// The 1 ms slot clock both engines run their loop on (stream i sends in
// slot i % 20). Each tick takes the queued call events, refreshes the
// snapshot every 100 ms and says whether a slot is due; a due slot is
// counted (its lateness, unless sending stopped) and the clock moves on to
// the next, so an engine that fell behind catches up slot by slot.
struct SlotTick {
  double now = 0;        // the clock at the tick
  double due = 0;        // when the slot due now, or the next one, was due
  bool slot_due = false;  // send `phase` now, then tick again
  unsigned phase = 0;
};
class SlotClock {
 public:
  explicit SlotClock(MediaStreams& streams);
  SlotTick tick(bool sending_stopped);

 private:
  MediaStreams& streams_;
  double t0_, snapshot_at_;
  std::uint64_t slot_ = 0;
};

}  // namespace msgw::loadtest
