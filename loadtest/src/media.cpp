// SPDX-License-Identifier: GPL-3.0-or-later
#include "media.hpp"

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
namespace {

double now_s() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

std::uint64_t remote_key(std::uint32_t ip, std::uint16_t port) {
  return (static_cast<std::uint64_t>(ip) << 16) | port;
}

std::uint64_t call_key(Side side, std::uint32_t source, std::uint64_t call) {
  return (static_cast<std::uint64_t>(side) << 63) | (static_cast<std::uint64_t>(source & 0x7fff) << 48) |
         (call & 0xffffffffffffULL);
}

}  // namespace

// A UDP socket bound in the named network namespace (setns on this thread,
// then back): the socket stays in the namespace it was created in.
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

struct MediaEngine::Stream {
  Side side = Side::phone;
  std::uint32_t source = 0;
  std::uint64_t call = 0;
  sockaddr_in remote{};
  bool sending = false;
  std::uint16_t seq = 0;
  std::uint32_t ts = 0, ssrc = 0;
  std::uint64_t sent = 0, withheld = 0, packet_no = 0;
  double send_time[64] = {};
  std::uint16_t send_seq[64] = {};
  SequenceTracker seqs;
  JitterEstimator jitter;
  double delay_sum = 0;
  std::uint64_t delay_n = 0;
};

std::unique_ptr<MediaEngine> MediaEngine::open(const MediaConfig& config, std::string* error) {
  std::unique_ptr<MediaEngine> e(new MediaEngine());
  e->config_ = config;
  e->fd_[0] = open_media_socket(config.phone, error);
  if (e->fd_[0] < 0) return nullptr;
  e->fd_[1] = open_media_socket(config.carrier, error);
  if (e->fd_[1] < 0) return nullptr;
  const auto& info = codecs::codec_info(config.codec.id);
  e->clock_rate_ = info.clock_rate;
  e->samples_per_packet_ = info.clock_rate / 50;
  e->frames_ = encoded_tone(config.codec);
  return e;
}

MediaEngine::~MediaEngine() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (int fd : fd_)
    if (fd >= 0) ::close(fd);
}

void MediaEngine::start() { thread_ = std::thread([this] { run(); }); }

void MediaEngine::on_event(Side side, std::uint32_t source, const MediaEvent& ev) {
  std::lock_guard lock(mu_);
  pending_.push_back({side, source, ev});
}

void MediaEngine::stop_source(std::uint32_t source) {
  std::lock_guard lock(mu_);
  stop_sources_.push_back(source);
}

MediaSnapshot MediaEngine::snapshot() {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void MediaEngine::take_snapshot() {
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
  std::lock_guard lock(mu_);
  snapshot_ = n;
}

void MediaEngine::apply_events() {
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
    if (stop_sending_ || by_call_.count(key) ||
        std::find(stopped_sources_.begin(), stopped_sources_.end(), p.source) != stopped_sources_.end())
      continue;
    auto s = std::make_unique<Stream>();
    s->side = p.side;
    s->source = p.source;
    s->call = p.ev.call;
    s->remote.sin_family = AF_INET;
    s->remote.sin_addr.s_addr = htonl(p.ev.ip);
    s->remote.sin_port = htons(p.ev.port);
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

void MediaEngine::send_slot(unsigned phase, double now) {
  std::vector<std::uint32_t>& list = phase_[phase];
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  std::uint8_t buf[kBatch][12 + 256];
  std::size_t used = 0;
  std::vector<std::uint32_t> still;
  still.reserve(list.size());
  auto flush = [&](int side, std::size_t from, std::size_t count) {
    std::size_t done = 0;
    while (done < count) {
      int r = sendmmsg(fd_[side], msgs + from + done, static_cast<unsigned>(count - done), 0);
      if (r <= 0) {
        totals_.send_errors += count - done;
        break;
      }
      done += static_cast<std::size_t>(r);
      totals_.packets_sent += static_cast<std::uint64_t>(r);
    }
  };
  // One batch per socket: fill, flush when full.
  for (int side = 0; side < 2; ++side) {
    used = 0;
    for (auto idx : list) {
      Stream& s = *streams_[idx];
      if (!s.sending || static_cast<int>(s.side) != side) continue;
      const std::uint64_t no = s.packet_no++;
      const std::uint16_t seq = s.seq++;
      const std::uint32_t ts = s.ts;
      s.ts += samples_per_packet_;
      if (side == 1 && config_.carrier_withhold_every && (no + 1) % config_.carrier_withhold_every == 0) {
        ++s.withheld;
        continue;
      }
      const auto& payload = frames_[no % frames_.size()];
      queue_rtp_packet(buf[used], config_.codec.payload_type, no == 0, seq, ts, s.ssrc, payload, s.remote, iov[used],
                       msgs[used]);
      s.send_time[seq & 63] = now;
      s.send_seq[seq & 63] = seq;
      ++s.sent;
      if (++used == kBatch) {
        flush(side, 0, used);
        used = 0;
      }
    }
    if (used) flush(side, 0, used);
  }
  // Streams that stopped leave the slot list.
  for (auto idx : list)
    if (streams_[idx]->sending) still.push_back(idx);
  list.swap(still);
}

void MediaEngine::receive(int side, double now) {
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
    int r = recvmmsg(fd_[side], msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (r <= 0) return;
    for (int i = 0; i < r; ++i) {
      const std::uint8_t* p = buf[i];
      const auto len = msgs[i].msg_len;
      auto it = by_remote_[side].find(remote_key(ntohl(from[i].sin_addr.s_addr), ntohs(from[i].sin_port)));
      if (len < 12 || (p[0] >> 6) != 2 || it == by_remote_[side].end()) {
        ++totals_.unmatched_packets;
        continue;
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
      // One-way delay when the target kept our SSRC and sequence number.
      if (auto o = by_ssrc_.find(ssrc); o != by_ssrc_.end()) {
        const Stream& src = *streams_[o->second];
        if (&src != &s && src.send_seq[seq & 63] == seq && src.send_time[seq & 63] > 0) {
          s.delay_sum += now - src.send_time[seq & 63];
          ++s.delay_n;
        }
      }
    }
    if (r < static_cast<int>(kBatch)) return;
  }
}

void MediaEngine::run() {
  const double t0 = now_s();
  std::uint64_t slot = 0;
  double snapshot_at = t0;
  while (!stop_) {
    apply_events();
    if (now_s() - snapshot_at >= 0.1) {
      take_snapshot();
      snapshot_at = now_s();
    }
    double now = now_s();
    const double due = t0 + static_cast<double>(slot) * 1e-3;
    if (now >= due) {
      if (!stop_sending_) {
        const double late_ms = (now - due) * 1e3;
        ++totals_.slots;
        if (late_ms > kLateMs) ++totals_.late_slots;
        if (late_ms > totals_.max_lateness_ms) totals_.max_lateness_ms = late_ms;
        send_slot(static_cast<unsigned>(slot % 20), now);
      }
      ++slot;
      continue;  // catch up on missed slots before sleeping
    }
    receive(0, now);
    receive(1, now);
    const double next = t0 + static_cast<double>(slot) * 1e-3;
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(next);
    ts.tv_nsec = static_cast<long>((next - static_cast<double>(ts.tv_sec)) * 1e9);
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
  timespec cpu{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  totals_.thread_cpu_s = static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) * 1e-9;
}

MediaSummary MediaEngine::finish(std::uint32_t drain_ms) {
  stop_sending_ = true;
  if (thread_.joinable()) {
    timespec d{static_cast<time_t>(drain_ms / 1000), static_cast<long>(drain_ms % 1000) * 1000000L};
    nanosleep(&d, nullptr);
    stop_ = true;
    thread_.join();
  }
  MediaSummary out = totals_;
  out.generator_bound = out.slots > 0 && out.late_slots * 100 > out.slots;
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

}  // namespace msgw::loadtest
