// SPDX-License-Identifier: GPL-3.0-or-later
// The RTP side of every call: one UDP socket on the phone side and one on the
// carrier side (each may live in its own network namespace), a generator that
// sends every active stream one 20 ms packet of real codec payload per
// period, paced in 1 ms slots (stream i in slot i % 20) with sendmmsg in
// batches, and a receiver that drains both sockets with recvmmsg and keeps
// RFC 3550 loss and jitter per stream (streams are told apart by the
// target's source address, the one its SDP gave). One thread.
//
// This is the first step, not the DPDK/AF_XDP sender: it makes one
// system call per batch of up to kBatch packets, so it tops out where the
// kernel's UDP path does on one core (see loadtest/README.md).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "msgw/codecs/codec.hpp"
#include "sipp_output.hpp"
#include "stats.hpp"

namespace msgw::loadtest {

enum class Side : std::uint8_t { phone = 0, carrier = 1 };
const char* side_name(Side s);

struct MediaEndpoint {
  std::string netns;        // empty: the tool's own namespace
  std::uint32_t ip = 0;     // host order
  std::uint16_t port = 0;
};

struct MediaConfig {
  codecs::CodecParams codec;
  MediaEndpoint phone, carrier;
  // Test aid: the carrier side withholds every Nth packet of each stream
  // (its sequence number still advances), so the phone side must report
  // exactly that loss. 0 = off.
  std::uint32_t carrier_withhold_every = 0;
};

struct StreamResult {
  Side side = Side::phone;  // the side that received this stream
  std::uint32_t source = 0;  // which SIPp process's call numbering
  std::uint64_t call = 0;
  std::uint64_t sent = 0;      // by our sender on this side (the other direction)
  std::uint64_t withheld = 0;  // test aid: not sent on purpose
  std::uint64_t received = 0, expected = 0, lost = 0;
  double loss_percent = 0;
  double jitter_ms = 0;
  double delay_ms = -1;  // mean one-way delay through the target; -1 when the SSRC was not kept
  double r_factor = 0, mos = 0;
};

struct MediaSummary {
  std::vector<StreamResult> streams;
  std::uint64_t packets_sent = 0, packets_received = 0, unmatched_packets = 0, send_errors = 0;
  std::uint64_t slots = 0, late_slots = 0;  // slots sent more than kLateMs after their time
  double max_lateness_ms = 0;
  double thread_cpu_s = 0;  // CPU time of the RTP thread (send, receive, pacing)
  bool generator_bound = false;  // late_slots > 1 % of slots
};

// What the engine has seen so far, refreshed by its thread every 100 ms: for
// watching a run while it goes (the capacity test's samples).
struct MediaSnapshot {
  std::uint64_t sending[2] = {0, 0};  // streams sending, by side (phone, carrier)
  std::uint64_t packets_expected = 0, packets_lost = 0;  // over every stream so far (RFC 3550)
  std::uint64_t silent_streams = 0;  // sending for > 0.5 s and never received a packet
  std::uint64_t late_slots = 0, send_errors = 0;
};

class MediaEngine {
 public:
  static constexpr std::size_t kBatch = 64;
  static constexpr double kLateMs = 5;

  // Opens both sockets; nullptr and *error on failure.
  static std::unique_ptr<MediaEngine> open(const MediaConfig& config, std::string* error);
  ~MediaEngine();

  void start();
  // A call's media started or stopped on one side (from the scenarios' log).
  // `source` tells calls of different SIPp runs apart. Thread-safe.
  void on_event(Side side, std::uint32_t source, const MediaEvent& ev);
  std::uint64_t active_streams() const { return active_.load(std::memory_order_relaxed); }
  // Stops every stream of that source (calls that ended without a logged stop). Thread-safe.
  void stop_source(std::uint32_t source);
  MediaSnapshot snapshot();
  // Stops every sender, keeps receiving for drain_ms, stops the thread.
  MediaSummary finish(std::uint32_t drain_ms);

 private:
  struct Stream;
  MediaEngine() = default;
  void run();
  void apply_events();
  void send_slot(unsigned phase, double now);
  void receive(int side, double now);

  MediaConfig config_;
  int fd_[2] = {-1, -1};
  std::vector<std::vector<std::uint8_t>> frames_;  // one second of encoded 20 ms payloads
  std::uint32_t clock_rate_ = 8000, samples_per_packet_ = 160;

  std::mutex mu_;
  struct Pending {
    Side side;
    std::uint32_t source;
    MediaEvent ev;
  };
  std::vector<Pending> pending_;
  std::vector<std::uint32_t> stop_sources_;
  std::vector<std::uint32_t> stopped_sources_;  // RTP thread: a late start of these is ignored
  MediaSnapshot snapshot_;  // under mu_
  void take_snapshot();

  std::vector<std::unique_ptr<Stream>> streams_;
  std::vector<std::uint32_t> phase_[20];                            // senders per 1 ms slot
  std::unordered_map<std::uint64_t, std::uint32_t> by_call_;        // (side, source, call) -> stream
  std::unordered_map<std::uint64_t, std::uint32_t> by_remote_[2];   // (ip, port) -> stream receiving from it
  std::unordered_map<std::uint32_t, std::uint32_t> by_ssrc_;        // our SSRC -> sending stream
  MediaSummary totals_;
  std::atomic<bool> stop_sending_{false}, stop_{false};
  std::atomic<std::uint64_t> active_{0};
  std::thread thread_;
};

// A non-blocking UDP socket bound to ep (in its network namespace); -1 and
// *error on failure. Also used by the media-throughput test.
int open_media_socket(const MediaEndpoint& ep, std::string* error);
// One second of a 440 Hz + 1 kHz tone as the codec's 20 ms payloads (50).
std::vector<std::vector<std::uint8_t>> encoded_tone(const codecs::CodecParams& codec);

// One RTP packet (RFC 3550 fixed header, no CSRC, marker on the first) written
// at `p` and queued as entry `i` of a sendmmsg batch toward `to`; both senders
// (the --media engine and media-throughput) build their packets here.
void queue_rtp_packet(std::uint8_t* p, std::uint8_t payload_type, bool first, std::uint16_t seq, std::uint32_t ts,
                      std::uint32_t ssrc, const std::vector<std::uint8_t>& payload, const sockaddr_in& to,
                      iovec& iov, mmsghdr& msg);

// G.113 Appendix I figures for the codec (G.711 with packet-loss concealment).
CodecImpairment codec_impairment(codecs::CodecId id);

}  // namespace msgw::loadtest
