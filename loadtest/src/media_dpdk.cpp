// SPDX-License-Identifier: GPL-3.0-or-later
#include "media_dpdk.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dpdk_port.hpp"
#include "media_frame.hpp"
#include "media_streams.hpp"
#include "rtp_frame.hpp"
#include "tap_device.hpp"
#include "msgw/common/monotonic_clock.hpp"

namespace msgw::loadtest {
namespace {

constexpr std::uint16_t kBurst = 32;
// 4,096 frames at 200,000 packets/s a side is 20 ms: the time the thread may
// lose its core to the SIPps sharing it without a frame dropped.
constexpr std::uint16_t kDescriptors = 4096;
// Idle: sleep at most this long (the TAPs wake it at once; the ports do
// not, so this bounds how long a packet from the target waits in the ring).
constexpr long kIdleSleepNs = 200'000;
// While busy, the TAPs are read at most this often (a read is a system
// call, ~1 us on a VM, and the signalling is a trickle next to the RTP).
constexpr double kTapPollS = 200e-6;
// A TX burst the port's ring cannot take whole is retried this long (the
// target drains the ring meanwhile; both ports are received from between
// tries, so its packets to us do not back up), then the rest counts as send
// errors. A slot catching up after the thread lost its core sends many
// slots' packets at once: 36 ms of 12,000 calls is more than a 2^14 ring.
constexpr double kTxRetryS = 5e-3;
constexpr int kThreadNice = -10;
bool ports_started = false;

class DpdkMediaEngine final : public MediaEngine {
 public:
  explicit DpdkMediaEngine(const MediaConfig& config) : MediaEngine(config) {}
  ~DpdkMediaEngine() override {
    stop_thread();
    for (auto& s : side_)
      if (s.tap >= 0) ::close(s.tap);
  }

  struct SideIo {
    std::uint16_t port = 0;
    int tap = -1;
    rte_ether_addr tap_mac{};
    MacLearner gateway;
    std::uint32_t media_ip = 0;
    std::uint16_t media_port = 0;
    // The bridge's counts, for the line at the end.
    std::uint64_t to_tap = 0, to_port = 0, rtcp_dropped = 0, tap_write_errors = 0, port_tx_drops = 0;
    std::uint64_t no_gateway_mac = 0;
  };
  SideIo side_[2];
  rte_mempool* pool_ = nullptr;
  const std::vector<std::vector<std::uint8_t>>& payloads() const { return streams_->payloads(); }
  std::vector<std::int32_t> payload_sums_;  // per payload (MediaStreams::payloads()): UDP checksums without a pass over it

 private:
  void run() override;
  void send_slot(unsigned phase, double now);
  unsigned poll_port(Side side, double now);
  unsigned poll_tap(Side side);
  std::uint64_t port_receive_drops() const;
  void report() const;
  std::vector<RtpOut> out_;
};

void DpdkMediaEngine::send_slot(unsigned phase, double now) {
  out_.clear();
  streams_->slot_packets(phase, now, &out_);
  rte_mbuf* burst[kBurst];
  for (int s = 0; s < 2; ++s) {
    SideIo& io = side_[s];
    rte_ether_addr gw;
    std::memcpy(gw.addr_bytes, io.gateway.mac().data(), 6);
    std::size_t next = 0;  // the next of out_ to look at
    for (;;) {
      // This side's next packets, up to a burst.
      const RtpOut* take[kBurst];
      std::uint16_t n = 0;
      for (; next < out_.size() && n < kBurst; ++next) {
        const RtpOut& p = out_[next];
        if (static_cast<int>(p.side) != s) continue;
        if (!io.gateway.known()) {  // nothing came from the gateway yet: no address to send to
          ++io.no_gateway_mac;
          streams_->count_send_errors(1);
          continue;
        }
        take[n++] = &p;
      }
      if (n == 0) break;
      if (rte_pktmbuf_alloc_bulk(pool_, burst, n) != 0) {
        streams_->count_send_errors(n);
        continue;
      }
      for (std::uint16_t i = 0; i < n; ++i) {
        const RtpOut& p = *take[i];
        const auto plen = static_cast<std::uint16_t>(p.payload->size());
        auto* f = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(burst[i], rtp_frame_size(plen)));
        write_rtp_frame(f, gw, io.tap_mac, io.media_ip, io.media_port, p.remote_ip, p.remote_port,
                        static_cast<std::uint8_t>(p.payload_type | (p.first ? 0x80 : 0)), p.seq, p.ts, p.ssrc,
                        p.payload->data(), plen, payload_sums_[p.payload_index]);
      }
      std::uint16_t sent = rte_eth_tx_burst(io.port, 0, burst, n);
      for (double give_up = 0; sent < n;) {
        const double t = common::monotonic_s();
        if (give_up == 0) give_up = t + kTxRetryS;
        if (t >= give_up) break;
        for (Side r : {Side::phone, Side::carrier}) poll_port(r, t);
        sent += rte_eth_tx_burst(io.port, 0, burst + sent, n - sent);
      }
      streams_->count_sent(sent);
      if (sent < n) {
        streams_->count_send_errors(n - sent);
        rte_pktmbuf_free_bulk(burst + sent, n - sent);
      }
    }
  }
}

unsigned DpdkMediaEngine::poll_port(Side side, double now) {
  SideIo& io = side_[static_cast<int>(side)];
  rte_mbuf* pkts[kBurst];
  const std::uint16_t n = rte_eth_rx_burst(io.port, 0, pkts, kBurst);
  std::uint8_t linear[RTE_MBUF_DEFAULT_DATAROOM];
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    const std::size_t len = rte_pktmbuf_pkt_len(m);
    const auto* f = m->nb_segs == 1 ? rte_pktmbuf_mtod(m, const std::uint8_t*)
                                    : static_cast<const std::uint8_t*>(rte_pktmbuf_read(
                                          m, 0, static_cast<std::uint32_t>(std::min(len, sizeof linear)), linear));
    if (f == nullptr) continue;
    const std::size_t flen = m->nb_segs == 1 ? len : std::min(len, sizeof linear);
    io.gateway.on_frame(f, flen);
    const FrameClass c = classify_frame(f, flen, io.media_ip, io.media_port);
    switch (c.kind) {
      case FrameKind::media:
        streams_->on_rtp(side, c.src_ip, c.src_port, f + c.payload_offset, c.payload_len, now);
        break;
      case FrameKind::media_rtcp:
        ++io.rtcp_dropped;
        break;
      case FrameKind::bridge:
        if (::write(io.tap, f, flen) == static_cast<ssize_t>(flen)) ++io.to_tap;
        else ++io.tap_write_errors;
        break;
    }
  }
  if (n) rte_pktmbuf_free_bulk(pkts, n);
  return n;
}

// What both ports dropped on receive: the ring full (imissed), no mbuf for a
// frame, bad frames. AF_XDP counts its RX ring's overruns in imissed.
std::uint64_t DpdkMediaEngine::port_receive_drops() const {
  std::uint64_t n = 0;
  for (const auto& io : side_) {
    rte_eth_stats st{};
    if (rte_eth_stats_get(io.port, &st) == 0) n += st.imissed + st.rx_nombuf + st.ierrors;
  }
  return n;
}

unsigned DpdkMediaEngine::poll_tap(Side side) {
  SideIo& io = side_[static_cast<int>(side)];
  rte_mbuf* burst[kBurst];
  std::uint16_t n = 0;
  while (n < kBurst) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) break;
    auto* data = rte_pktmbuf_mtod(m, std::uint8_t*);
    const ssize_t r = ::read(io.tap, data, rte_pktmbuf_tailroom(m));
    if (r <= 0) {
      rte_pktmbuf_free(m);
      break;
    }
    rte_pktmbuf_append(m, static_cast<std::uint16_t>(r));
    burst[n++] = m;
  }
  if (n) {
    const std::uint16_t sent = rte_eth_tx_burst(io.port, 0, burst, n);
    io.to_port += sent;
    if (sent < n) {
      io.port_tx_drops += n - sent;
      rte_pktmbuf_free_bulk(burst + sent, n - sent);
    }
  }
  return n;
}

void DpdkMediaEngine::run() {
  // A registered thread gets an lcore id: the mempool's per-lcore cache.
  rte_thread_register();
  // The SIPps share this core; a port's RX ring holds 20 ms at 200,000
  // packets/s, so this thread must get the core back within that. It sleeps
  // when idle, so the weight costs the SIPps nothing then (root only; not
  // being able to is no fault).
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kThreadNice);
  SlotClock clock(*streams_);
  pollfd fds[2] = {{side_[0].tap, POLLIN, 0}, {side_[1].tap, POLLIN, 0}};
  double tap_poll_at = 0, stats_at = 0;
  const std::uint64_t drops_before = port_receive_drops();
  while (!stop_) {
    const bool stopped = stop_sending_;
    const SlotTick tick = clock.tick(stopped);
    const double now = tick.now, due = tick.due;
    if (tick.slot_due) {
      if (!stopped) send_slot(tick.phase, now);
      continue;  // catch up on missed slots first
    }
    unsigned work = 0;
    for (Side s : {Side::phone, Side::carrier}) work += poll_port(s, now);
    if (now >= tap_poll_at) {
      for (Side s : {Side::phone, Side::carrier}) work += poll_tap(s);
      tap_poll_at = now + kTapPollS;
    }
    if (now >= stats_at) {  // as often as the snapshot the capacity test samples
      streams_->set_receive_drops(port_receive_drops() - drops_before);
      stats_at = now + 0.1;
    }
    if (work == 0) {
      const long until_due = static_cast<long>((due - common::monotonic_s()) * 1e9);
      if (until_due > 0) {
        timespec t{0, std::min(until_due, kIdleSleepNs)};
        if (ppoll(fds, 2, &t, nullptr) > 0) tap_poll_at = 0;  // a TAP has a frame: read it now
      }
    }
  }
  thread_cpu_s_ = thread_cpu_seconds();
  streams_->set_receive_drops(port_receive_drops() - drops_before);
  report();
}

void DpdkMediaEngine::report() const {
  for (int s = 0; s < 2; ++s) {
    const SideIo& io = side_[s];
    rte_eth_stats st{};
    rte_eth_stats_get(io.port, &st);
    char mac[RTE_ETHER_ADDR_FMT_SIZE] = "unknown";
    if (io.gateway.known()) {
      rte_ether_addr a;
      std::memcpy(a.addr_bytes, io.gateway.mac().data(), 6);
      rte_ether_format_addr(mac, sizeof mac, &a);
    }
    std::fprintf(stderr,
                 "media-dpdk %s side (port %u, TAP %s): gateway MAC %s (%llu changes); bridged %llu frames to the "
                 "TAP (%llu write errors), %llu to the port (%llu refused); %llu RTCP dropped; %llu RTP packets "
                 "due before the gateway's MAC was known; port received %llu, dropped %llu (ring full), %llu (no "
                 "mbuf), %llu (errors); port sent %llu (%llu errors)\n",
                 side_name(static_cast<Side>(s)), io.port, config_.tap[s].c_str(), mac,
                 static_cast<unsigned long long>(io.gateway.changes()), static_cast<unsigned long long>(io.to_tap),
                 static_cast<unsigned long long>(io.tap_write_errors), static_cast<unsigned long long>(io.to_port),
                 static_cast<unsigned long long>(io.port_tx_drops), static_cast<unsigned long long>(io.rtcp_dropped),
                 static_cast<unsigned long long>(io.no_gateway_mac), static_cast<unsigned long long>(st.ipackets),
                 static_cast<unsigned long long>(st.imissed), static_cast<unsigned long long>(st.rx_nombuf),
                 static_cast<unsigned long long>(st.ierrors), static_cast<unsigned long long>(st.opackets),
                 static_cast<unsigned long long>(st.oerrors));
  }
}

}  // namespace

bool dpdk_media_built() { return true; }

std::unique_ptr<MediaEngine> open_dpdk_media_engine(const MediaConfig& config, std::string* error) {
  if (config.eal_args.empty()) {
    *error = "--media-dpdk needs the EAL's arguments after --, naming two ports (phone side, carrier side), e.g. "
             "-- --no-pci --vdev net_memif0,role=client,socket=A --vdev net_memif1,role=client,socket=B";
    return nullptr;
  }
  if (!eal_init(config.eal_args, true, error)) return nullptr;
  if (rte_eth_dev_count_avail() < 2) {
    *error = "--media-dpdk needs two ports (the phone side's, then the carrier side's); the EAL found " +
             std::to_string(rte_eth_dev_count_avail());
    return nullptr;
  }
  std::unique_ptr<DpdkMediaEngine> e(new DpdkMediaEngine(config));
  for (const auto& p : e->payloads())
    e->payload_sums_.push_back(rtp_payload_sum(p.data(), static_cast<std::uint16_t>(p.size())));
  // Both sides' RX rings and the TX in flight, with room: memif copies into
  // mbufs on receive and frees what it sent at once.
  e->pool_ = rte_pktmbuf_pool_create("lt_media_pool", 32767, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     static_cast<int>(rte_socket_id()));
  if (e->pool_ == nullptr) {
    *error = std::string("no mbuf pool (give the EAL more memory with -m): ") + rte_strerror(rte_errno);
    return nullptr;
  }
  const MediaEndpoint* ep[2] = {&config.phone, &config.carrier};
  for (std::uint16_t s = 0; s < 2; ++s) {
    auto& io = e->side_[s];
    io.port = s;
    io.media_ip = ep[s]->ip;
    io.media_port = ep[s]->port;
    if (auto why = start_port(s, e->pool_, kDescriptors); !why.empty()) {
      *error = why;
      return nullptr;
    }
    ports_started = true;
  }
  for (std::uint16_t s = 0; s < 2; ++s)
    if (!wait_link(s, true, 10)) {  // memif connects asynchronously
      *error = std::string("the ") + side_name(static_cast<Side>(s)) + " side's port (" +
               eal_device_name(config.eal_args, s) + ") did not come up in 10 s (is the target's side of it there?)";
      return nullptr;
    }
  for (int s = 0; s < 2; ++s) {
    MacAddress mac{};
    e->side_[s].tap = open_tap(ep[s]->netns, config.tap[s], &mac, error);
    if (e->side_[s].tap < 0) return nullptr;
    std::memcpy(e->side_[s].tap_mac.addr_bytes, mac.data(), 6);
  }
  return e;
}

void dpdk_media_after_report(unsigned linger_s, int exit_code) {
  if (!ports_started) return;
  std::fflush(stdout);
  std::fflush(stderr);
  for (std::uint16_t p = 0; p < 2; ++p) wait_link(p, false, linger_s);
  // No rte_eth_dev_stop()/rte_eal_cleanup(): packet_rate.hpp says why.
  std::_Exit(exit_code);
}

}  // namespace msgw::loadtest
