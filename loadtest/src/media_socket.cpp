// SPDX-License-Identifier: GPL-3.0-or-later
#include "media_socket.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "media_streams.hpp"

namespace msgw::loadtest {
namespace {

class SocketMediaEngine final : public MediaEngine {
 public:
  static constexpr std::size_t kBatch = 64;

  explicit SocketMediaEngine(const MediaConfig& config) : MediaEngine(config) {}
  ~SocketMediaEngine() override {
    stop_thread();
    for (int fd : fd_)
      if (fd >= 0) ::close(fd);
  }
  int fd_[2] = {-1, -1};

 private:
  void run() override;
  void send_slot(unsigned phase, double now);
  void receive(Side side, double now);
  std::vector<RtpOut> out_;
};

void SocketMediaEngine::send_slot(unsigned phase, double now) {
  out_.clear();
  streams_->slot_packets(phase, now, &out_);
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_in to[kBatch];
  std::uint8_t buf[kBatch][12 + 256];
  // One batch per socket: fill, flush when full.
  for (int side = 0; side < 2; ++side) {
    std::size_t used = 0;
    auto flush = [&] {
      std::size_t done = 0;
      while (done < used) {
        int r = sendmmsg(fd_[side], msgs + done, static_cast<unsigned>(used - done), 0);
        if (r <= 0) {
          streams_->count_send_errors(used - done);
          break;
        }
        done += static_cast<std::size_t>(r);
        streams_->count_sent(static_cast<std::uint64_t>(r));
      }
      used = 0;
    };
    for (const RtpOut& p : out_) {
      if (static_cast<int>(p.side) != side) continue;
      to[used] = {};
      to[used].sin_family = AF_INET;
      to[used].sin_addr.s_addr = htonl(p.remote_ip);
      to[used].sin_port = htons(p.remote_port);
      queue_rtp_packet(buf[used], p.payload_type, p.first, p.seq, p.ts, p.ssrc, *p.payload, to[used], iov[used],
                       msgs[used]);
      if (++used == kBatch) flush();
    }
    if (used) flush();
  }
}

void SocketMediaEngine::receive(Side side, double now) {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  std::uint8_t buf[kBatch][512];
  sockaddr_in from[kBatch];
  for (;;) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      iov[i] = {buf[i], sizeof buf[i]};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    int r = recvmmsg(fd_[static_cast<int>(side)], msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (r <= 0) return;
    for (int i = 0; i < r; ++i)
      streams_->on_rtp(side, ntohl(from[i].sin_addr.s_addr), ntohs(from[i].sin_port), buf[i], msgs[i].msg_len, now);
    if (r < static_cast<int>(kBatch)) return;
  }
}

void SocketMediaEngine::run() {
  SlotClock clock(*streams_);
  while (!stop_) {
    const bool stopped = stop_sending_;
    const SlotTick tick = clock.tick(stopped);
    if (tick.slot_due) {
      if (!stopped) send_slot(tick.phase, tick.now);
      continue;  // catch up on missed slots before sleeping
    }
    receive(Side::phone, tick.now);
    receive(Side::carrier, tick.now);
    const double next = tick.due;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(next);
    ts.tv_nsec = static_cast<long>((next - static_cast<double>(ts.tv_sec)) * 1e9);
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
  thread_cpu_s_ = thread_cpu_seconds();
}

}  // namespace

std::unique_ptr<MediaEngine> open_socket_media_engine(const MediaConfig& config, std::string* error) {
  std::unique_ptr<SocketMediaEngine> e(new SocketMediaEngine(config));
  e->fd_[0] = open_media_socket(config.phone, error);
  if (e->fd_[0] < 0) return nullptr;
  e->fd_[1] = open_media_socket(config.carrier, error);
  if (e->fd_[1] < 0) return nullptr;
  return e;
}

}  // namespace msgw::loadtest
