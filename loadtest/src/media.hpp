// SPDX-License-Identifier: GPL-3.0-or-later
// The RTP side of every call: a generator that sends every active stream one
// 20 ms packet of real codec payload per period, paced in 1 ms slots (stream
// i in slot i % 20), and a receiver that keeps RFC 3550 loss and jitter per
// stream (streams are told apart by the target's source address, the one its
// SDP gave). One thread per engine.
//
// MediaEngine is the seam between the tests (runner, capacity) and how
// packets get on the wire; the stream table behind it (media_streams.hpp)
// is the same for every engine, so every engine reports the same figures:
// - the socket engine (media_socket.cpp): one UDP socket on the phone side
//   and one on the carrier side (each may live in its own network
//   namespace), sendmmsg/recvmmsg in batches. One system call per batch, so
//   it tops out where the kernel's UDP path does on one core (~2,000 calls
//   with media, loadtest/README.md);
// - the DPDK engine (media_dpdk.hpp, --media-dpdk): two DPDK ports, phone
//   side and carrier side, each bridged to a kernel TAP that carries the
//   side's signalling; the RTP is built and counted in the polling loop.
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
  // The DPDK engine (--media-dpdk) instead of sockets: the EAL's arguments
  // (they name two ports: the phone side's, then the carrier side's) and
  // the kernel TAP of each side (phone, carrier) that it bridges to them.
  bool dpdk = false;
  std::vector<std::string> eal_args;
  std::string tap[2] = {"phone0", "carrier0"};
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
  // Packets the tool's own ports dropped on receive (the DPDK engine: the
  // port's imissed + rx_nombuf + ierrors; the socket engine's drops are the
  // steps' tool_socket_drops, socket_drops.hpp).
  std::uint64_t receive_drops = 0;
  double max_lateness_ms = 0;
  double thread_cpu_s = 0;  // CPU time of the RTP thread (send, receive, pacing)
  // The sender was late (> kLateMs) in more than 1 % of its slots: the run's
  // media figures may be the tool's (its ports' drops are judged per step).
  bool sender_late() const { return slots > 0 && late_slots * 100 > slots; }
};

// What the engine has seen so far, refreshed by its thread every 100 ms: for
// watching a run while it goes (the capacity test's samples).
struct MediaSnapshot {
  std::uint64_t sending[2] = {0, 0};  // streams sending, by side (phone, carrier)
  std::uint64_t packets_expected = 0, packets_lost = 0;  // over every stream so far (RFC 3550)
  std::uint64_t silent_streams = 0;  // sending for > 0.5 s and never received a packet
  std::uint64_t late_slots = 0, send_errors = 0, receive_drops = 0;
};

class MediaStreams;

// The seam: what the tests see of an engine. The stream bookkeeping is
// MediaStreams' (shared); an engine is its thread's loop (run()).
class MediaEngine {
 public:
  static constexpr double kLateMs = 5;

  // The socket engine, or the DPDK engine when config.dpdk; nullptr and
  // *error on failure.
  static std::unique_ptr<MediaEngine> open(const MediaConfig& config, std::string* error);
  virtual ~MediaEngine();

  void start();
  // A call's media started or stopped on one side (from the scenarios' log).
  // `source` tells calls of different SIPp runs apart. Thread-safe.
  void on_event(Side side, std::uint32_t source, const MediaEvent& ev);
  std::uint64_t active_streams() const;
  // Stops every stream of that source (calls that ended without a logged stop). Thread-safe.
  void stop_source(std::uint32_t source);
  MediaSnapshot snapshot();
  // Stops every sender, keeps receiving for drain_ms, stops the thread.
  MediaSummary finish(std::uint32_t drain_ms);

 protected:
  explicit MediaEngine(const MediaConfig& config);
  // The engine's thread: sends and receives until stop_, sending nothing
  // once stop_sending_; at its end sets thread_cpu_s_ (its CPU time).
  virtual void run() = 0;
  // Derived destructors call this first: the thread uses their members.
  void stop_thread();

  MediaConfig config_;
  std::unique_ptr<MediaStreams> streams_;
  std::atomic<bool> stop_sending_{false}, stop_{false};
  double thread_cpu_s_ = 0;

 private:
  std::thread thread_;
};

// The calling thread's CPU time in seconds.
double thread_cpu_seconds();

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
