// SPDX-License-Identifier: GPL-3.0-or-later
#include "media.hpp"

#include "media_dpdk.hpp"
#include "media_socket.hpp"
#include "media_streams.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <random>

namespace msgw::loadtest {

void queue_rtp_packet(std::uint8_t* p, std::uint8_t payload_type, bool first, std::uint16_t seq, std::uint32_t ts,
                      std::uint32_t ssrc, const std::vector<std::uint8_t>& payload, const sockaddr_in& to,
                      iovec& iov, mmsghdr& msg) {
  p[0] = 0x80;
  p[1] = static_cast<std::uint8_t>(payload_type | (first ? 0x80 : 0));
  p[2] = static_cast<std::uint8_t>(seq >> 8);
  p[3] = static_cast<std::uint8_t>(seq);
  for (int i = 0; i < 4; ++i) p[4 + i] = static_cast<std::uint8_t>(ts >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) p[8 + i] = static_cast<std::uint8_t>(ssrc >> (24 - 8 * i));
  std::memcpy(p + 12, payload.data(), payload.size());
  iov = {p, 12 + payload.size()};
  std::memset(&msg, 0, sizeof msg);
  msg.msg_hdr.msg_iov = &iov;
  msg.msg_hdr.msg_iovlen = 1;
  msg.msg_hdr.msg_name = const_cast<sockaddr_in*>(&to);
  msg.msg_hdr.msg_namelen = sizeof to;
}

// A UDP socket bound in the named network namespace (setns on this thread,
// then back): the socket stays in the namespace it was created in.
int open_media_socket(const MediaEndpoint& ep, std::string* error) {
  int self_ns = -1;
  if (!ep.netns.empty()) {
    self_ns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int ns = ::open(("/run/netns/" + ep.netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (self_ns < 0 || ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
      *error = "network namespace " + ep.netns + ": " + std::strerror(errno);
      if (ns >= 0) ::close(ns);
      if (self_ns >= 0) ::close(self_ns);
      return -1;
    }
    ::close(ns);
  }
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int buf = 8 << 20;
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) == 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf) == 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(ep.ip);
    a.sin_port = htons(ep.port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      char ip[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
      *error = std::string("RTP socket ") + ip + ":" + std::to_string(ep.port) + ": " + std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  } else {
    *error = std::string("socket: ") + std::strerror(errno);
  }
  if (self_ns >= 0) {
    if (setns(self_ns, CLONE_NEWNET) != 0 && fd >= 0) {
      *error = std::string("back to our network namespace: ") + std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
    ::close(self_ns);
  }
  return fd;
}

std::vector<std::vector<std::uint8_t>> encoded_tone(const codecs::CodecParams& codec) {
  // One second of a 440 Hz + 1 kHz tone, encoded as the codec's 20 ms packets.
  const auto& info = codecs::codec_info(codec.id);
  const std::uint32_t samples = info.clock_rate / 50;
  auto enc = codecs::make_encoder(codec);
  std::vector<std::int16_t> pcm(samples);
  std::vector<std::uint8_t> out(1024);
  std::vector<std::vector<std::uint8_t>> frames;
  for (int f = 0; f < 50; ++f) {
    for (std::size_t i = 0; i < pcm.size(); ++i) {
      const double t = static_cast<double>(f * pcm.size() + i) / info.clock_rate;
      pcm[i] = static_cast<std::int16_t>(6000 * std::sin(2 * M_PI * 440 * t) + 3000 * std::sin(2 * M_PI * 1000 * t));
    }
    codecs::FrameKind kind{};
    const auto n = enc->encode(pcm, out, &kind);
    frames.emplace_back(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
  }
  return frames;
}

const char* side_name(Side s) { return s == Side::phone ? "phone" : "carrier"; }

CodecImpairment codec_impairment(codecs::CodecId id) {
  switch (id) {
    case codecs::CodecId::G729:
      return {11, 19.0};
    case codecs::CodecId::G726_32:
      return {7, 10.0};  // G.113 Table I.1 (Ie); Bpl not listed: conservative
    default:
      return {0, 25.1};  // G.711 with PLC (G.113 Appendix I)
  }
}

MediaEngine::MediaEngine(const MediaConfig& config)
    : config_(config), streams_(std::make_unique<MediaStreams>(config)) {}

MediaEngine::~MediaEngine() { stop_thread(); }

void MediaEngine::stop_thread() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void MediaEngine::start() { thread_ = std::thread([this] { run(); }); }

void MediaEngine::on_event(Side side, std::uint32_t source, const MediaEvent& ev) {
  streams_->on_event(side, source, ev);
}

std::uint64_t MediaEngine::active_streams() const { return streams_->active(); }

void MediaEngine::stop_source(std::uint32_t source) { streams_->stop_source(source); }

MediaSnapshot MediaEngine::snapshot() { return streams_->snapshot(); }

MediaSummary MediaEngine::finish(std::uint32_t drain_ms) {
  stop_sending_ = true;
  if (thread_.joinable()) {
    timespec d{static_cast<time_t>(drain_ms / 1000), static_cast<long>(drain_ms % 1000) * 1000000L};
    nanosleep(&d, nullptr);
    stop_thread();
  }
  return streams_->summarize(thread_cpu_s_);
}

std::unique_ptr<MediaEngine> MediaEngine::open(const MediaConfig& config, std::string* error) {
  return config.dpdk ? open_dpdk_media_engine(config, error) : open_socket_media_engine(config, error);
}

double thread_cpu_seconds() {
  timespec cpu{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  return static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) * 1e-9;
}

}  // namespace msgw::loadtest
