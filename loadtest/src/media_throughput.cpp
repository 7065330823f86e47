// SPDX-License-Identifier: GPL-3.0-or-later
// The media-throughput test: the trial engine (pairing, paced sending,
// receiving with kernel timestamps, matching) and the search over trials.
// Over 700 lines would split the engine from the trial's SIPp plumbing.
#include "media_throughput.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "msgw/common/monotonic_clock.hpp"

#include "media.hpp"
#include "rate_search.hpp"
#include "results.hpp"
#include "scenario.hpp"
#include "sipp_output.hpp"
#include "sipp_process.hpp"
#include "text_file.hpp"

namespace msgw::loadtest {
namespace fs = std::filesystem;

const char* media_mode_name(MediaMode m) { return m == MediaMode::relayed ? "relayed" : "transcoded"; }

namespace {

using common::monotonic_s;
using common::sleep_ms;
// Send and receive times: the kernel stamps received packets (SO_TIMESTAMPNS)
// with CLOCK_REALTIME, so sends are stamped on that clock too, in seconds
// since the process's first stamp (a double of the epoch keeps only ~0.2 µs).
double real_s(const timespec& t) {
  static const time_t base = t.tv_sec;
  return static_cast<double>(t.tv_sec - base) + static_cast<double>(t.tv_nsec) * 1e-9;
}
double real_s() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return real_s(t);
}
double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}
std::uint64_t addr_key(std::uint32_t ip, std::uint16_t port) { return (static_cast<std::uint64_t>(ip) << 16) | port; }

struct SideCodec {
  codecs::CodecParams params;
  std::vector<std::vector<std::uint8_t>> frames;
  std::uint32_t samples_per_packet = 160;
};

// One side of one call: where it sends (the target's address in the SDP
// this side received) and its RTP stream's state.
struct CallEnd {
  sockaddr_in remote{};
  std::uint16_t seq0 = 0;
  std::uint32_t ts0 = 0, ssrc = 0;
  std::uint64_t next = 0;  // next packet number
};

struct Call {
  Call(const CallEnd& phone, const CallEnd& carrier, std::uint32_t phone_spp, std::uint32_t carrier_spp)
      : end{phone, carrier}, rx{DirectionMatch(carrier.ts0, carrier_spp), DirectionMatch(phone.ts0, phone_spp)} {}
  CallEnd end[2];        // [Side::phone], [Side::carrier]
  DirectionMatch rx[2];  // what that side received (the other side's stream)
  bool carrier_known = false;
};

class TrialEngine {
 public:
  static constexpr std::size_t kBatch = 64;
  static constexpr double kLateMs = 5;

  TrialEngine(int phone_fd, int carrier_fd, const SideCodec* phone, const SideCodec* carrier,
              std::uint32_t withhold_every)
      : fd_{phone_fd, carrier_fd}, codec_{phone, carrier}, withhold_every_(withhold_every), rng_(std::random_device{}()) {}

  // Pairs the phone side's calls (their target addresses, in order) with the
  // carrier side's (the target's trunk-side addresses): phone packet 0 of
  // each call alone, and the carrier-side address it arrives from is that
  // call's. Then carrier packet 0 of every call. Returns the calls paired both ways.
  std::size_t pair(const std::vector<sockaddr_in>& phone_remotes, const std::vector<sockaddr_in>& carrier_remotes,
                   std::string* why) {
    cpu0_ = thread_cpu_s();
    drain_stale();
    for (const auto& r : carrier_remotes) carrier_free_.insert(addr_key(ntohl(r.sin_addr.s_addr), ntohs(r.sin_port)));
    for (const auto& r : phone_remotes) {
      CallEnd p, c;
      p.remote = r;
      for (CallEnd* e : {&p, &c}) {
        e->seq0 = static_cast<std::uint16_t>(rng_());
        e->ts0 = static_cast<std::uint32_t>(rng_());
        e->ssrc = static_cast<std::uint32_t>(rng_());
      }
      const auto idx = static_cast<std::uint32_t>(calls_.size());
      calls_.push_back(std::make_unique<Call>(p, c, codec_[0]->samples_per_packet, codec_[1]->samples_per_packet));
      by_remote_[0][addr_key(ntohl(r.sin_addr.s_addr), ntohs(r.sin_port))] = idx;
      waiting_ = idx;
      send(0, {idx});
      const double deadline = monotonic_s() + 1.0;
      while (!calls_[idx]->carrier_known && monotonic_s() < deadline) wait_receive(1, 10);
      waiting_ = -1;
      if (!calls_[idx]->carrier_known) {
        *why = "call " + std::to_string(idx + 1) + ": its first RTP packet did not come through the target in 1 s";
        return idx;
      }
    }
    // At most 20 per millisecond, the trial's own rate at 400 sessions: a
    // burst of every call's probe at once lost 14 of 650 on the rig (where
    // was not established), which voided the trial.
    for (std::uint32_t i = 0; i < calls_.size(); i += 20) {
      std::vector<std::uint32_t> some;
      for (std::uint32_t k = i; k < std::min<std::uint32_t>(i + 20, static_cast<std::uint32_t>(calls_.size())); ++k)
        some.push_back(k);
      send(1, some);
      wait_receive(0, 1);
    }
    const double deadline = monotonic_s() + 1.0;
    auto back = [&] {
      return std::count_if(calls_.begin(), calls_.end(), [](const auto& c) { return c->rx[0].offset_known(); });
    };
    while (static_cast<std::size_t>(back()) < calls_.size() && monotonic_s() < deadline) wait_receive(0, 10);
    const auto n = static_cast<std::size_t>(back());
    if (n < calls_.size())
      *why = std::to_string(calls_.size() - n) + " calls: the carrier side's first RTP packet did not reach the phone side in 1 s";
    return n;
  }

  // Every call's two streams send one packet per 20 ms for duration_s, spread
  // over 1 ms slots (stream k of the 2n in slot k % 20); both sockets are
  // drained between slots; then up to drain_ms for the last packets.
  void run(std::uint32_t duration_s, std::uint32_t drain_ms, ThroughputTrial& t) {
    std::vector<std::uint32_t> slot_calls[2][20];
    for (std::uint32_t i = 0; i < calls_.size(); ++i)
      for (int side = 0; side < 2; ++side) slot_calls[side][(2 * i + static_cast<std::uint32_t>(side)) % 20].push_back(i);
    const std::uint64_t slots = static_cast<std::uint64_t>(duration_s) * 1000;
    const double t0 = monotonic_s();
    for (std::uint64_t s = 0; s < slots;) {
      const double now = monotonic_s();
      const double due = t0 + static_cast<double>(s) * 1e-3;
      if (now >= due) {
        const double late = (now - due) * 1e3;
        ++t.slots;
        if (late > kLateMs) ++t.late_slots;
        t.max_lateness_ms = std::max(t.max_lateness_ms, late);
        for (int side = 0; side < 2; ++side) send(side, slot_calls[side][s % 20]);
        ++s;
        continue;  // catch up before receiving
      }
      receive(0);
      receive(1);
      const double next = t0 + static_cast<double>(s) * 1e-3;
      timespec ts{static_cast<time_t>(next), static_cast<long>((next - std::floor(next)) * 1e9)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    }
    t.send_s = monotonic_s() - t0;
    const double end = monotonic_s() + drain_ms * 1e-3;
    while (monotonic_s() < end && !all_back()) {
      wait_receive(0, 5);
      wait_receive(1, 0);
    }
    t.cpu_s = thread_cpu_s() - cpu0_;
    t.send_errors = send_errors_;
  }

  void collect(ThroughputTrial& t) {
    t.calls_up = calls_.size();
    for (const auto& c : calls_) {
      add(t.to_phone, c->rx[0].counts());
      add(t.to_carrier, c->rx[1].counts());
    }
    t.latency_to_phone_ms = summarize_latency(latency_ms_[0]);
    t.latency_to_carrier_ms = summarize_latency(latency_ms_[1]);
    std::vector<double> both = latency_ms_[0];
    both.insert(both.end(), latency_ms_[1].begin(), latency_ms_[1].end());
    t.latency_hist.assign(kLatencyBins, 0);
    for (double v : both) ++t.latency_hist[static_cast<std::size_t>(latency_bin(v))];
    t.latency_ms = summarize_latency(std::move(both));
    // Packets this thread handled: those that left, those that came in.
    const std::uint64_t packets = t.to_phone.sent - t.to_phone.withheld + t.to_carrier.sent - t.to_carrier.withheld +
                                  t.to_phone.matched + t.to_carrier.matched + t.to_phone.concealed +
                                  t.to_carrier.concealed + t.to_phone.duplicates + t.to_carrier.duplicates +
                                  t.to_phone.unmatched + t.to_carrier.unmatched + stray_;
    t.cpu_us_per_packet = packets ? 1e6 * t.cpu_s / static_cast<double>(packets) : 0;
  }

 private:
  static void add(DirectionCounts& a, const DirectionCounts& b) {
    a.sent += b.sent;
    a.withheld += b.withheld;
    a.matched += b.matched;
    a.duplicates += b.duplicates;
    a.concealed += b.concealed;
    a.unmatched += b.unmatched;
  }

  bool all_back() const {
    for (const auto& c : calls_)
      for (const auto& rx : c->rx)
        if (rx.counts().matched + rx.counts().withheld < rx.counts().sent) return false;
    return true;
  }

  // Packets left over from an earlier trial's calls.
  void drain_stale() {
    for (int side = 0; side < 2; ++side) receive(side);
    stray_ = 0;
  }

  void wait_receive(int side, int timeout_ms) {
    pollfd p{fd_[side], POLLIN, 0};
    if (poll(&p, 1, timeout_ms) > 0) receive(side);
  }

  // Sends the next packet of side's stream on each listed call.
  void send(int side, const std::vector<std::uint32_t>& list) {
    const SideCodec& codec = *codec_[side];
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    std::uint8_t buf[kBatch][12 + 256];
    struct Pending {
      std::uint32_t call;
      std::uint64_t no;
    } pending[kBatch];
    std::size_t used = 0;
    auto flush = [&] {
      const double now = real_s();
      std::size_t done = 0;
      while (done < used) {
        const int r = sendmmsg(fd_[side], msgs + done, static_cast<unsigned>(used - done), 0);
        if (r <= 0) break;
        done += static_cast<std::size_t>(r);
      }
      // Counted sent only when the kernel took it: what it refused is the tool's limit, not loss.
      for (std::size_t k = 0; k < used; ++k) {
        auto& rx = calls_[pending[k].call]->rx[side ^ 1];
        if (k < done) rx.on_sent(pending[k].no, now);
      }
      send_errors_ += used - done;
      used = 0;
    };
    for (auto idx : list) {
      Call& c = *calls_[idx];
      CallEnd& e = c.end[side];
      const std::uint64_t no = e.next++;
      if (side == 1 && withhold_every_ && (no + 1) % withhold_every_ == 0) {
        c.rx[0].on_withheld(no);
        continue;
      }
      const auto seq = static_cast<std::uint16_t>(e.seq0 + no);
      const auto ts = static_cast<std::uint32_t>(e.ts0 + no * codec.samples_per_packet);
      const auto& payload = codec.frames[no % codec.frames.size()];
      queue_rtp_packet(buf[used], codec.params.payload_type, no == 0, seq, ts, e.ssrc, payload, e.remote, iov[used],
                       msgs[used]);
      pending[used] = {idx, no};
      if (++used == kBatch) flush();
    }
    if (used) flush();
  }

  void receive(int side) {
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    std::uint8_t buf[kBatch][512];
    sockaddr_in from[kBatch];
    alignas(cmsghdr) std::uint8_t control[kBatch][CMSG_SPACE(sizeof(timespec))];
    for (;;) {
      for (std::size_t i = 0; i < kBatch; ++i) {
        iov[i] = {buf[i], sizeof buf[i]};
        std::memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_control = control[i];
        msgs[i].msg_hdr.msg_controllen = sizeof control[i];
      }
      const int r = recvmmsg(fd_[side], msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (r <= 0) return;
      const double fallback = real_s();
      for (int i = 0; i < r; ++i) {
        double at = fallback;
        for (cmsghdr* cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm; cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm))
          if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_TIMESTAMPNS) {
            timespec ts{};
            std::memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            at = real_s(ts);
          }
        on_packet(side, from[i], buf[i], msgs[i].msg_len, at);
      }
      if (r < static_cast<int>(kBatch)) return;
    }
  }

  void on_packet(int side, const sockaddr_in& from, const std::uint8_t* p, std::size_t len, double at) {
    const auto key = addr_key(ntohl(from.sin_addr.s_addr), ntohs(from.sin_port));
    auto it = by_remote_[side].find(key);
    if (len < 12 || (p[0] >> 6) != 2 || ((p[1] & 0x7f) >= 72 && (p[1] & 0x7f) <= 76)) {  // not RTP, or RTCP
      if (it != by_remote_[side].end() || len < 12) ++stray_;
      return;
    }
    if (it == by_remote_[side].end()) {
      // The probe of the call being paired: its carrier side is where it came from.
      if (side == 1 && waiting_ >= 0 && carrier_free_.erase(key)) {
        Call& c = *calls_[static_cast<std::size_t>(waiting_)];
        c.end[1].remote = from;
        c.carrier_known = true;
        it = by_remote_[1].emplace(key, static_cast<std::uint32_t>(waiting_)).first;
      } else {
        ++stray_;
        return;
      }
    }
    const std::uint32_t ts = static_cast<std::uint32_t>(p[4]) << 24 | static_cast<std::uint32_t>(p[5]) << 16 |
                             static_cast<std::uint32_t>(p[6]) << 8 | p[7];
    if (auto l = calls_[it->second]->rx[side].on_received(ts, at)) latency_ms_[side].push_back(*l * 1e3);
  }

  int fd_[2];
  const SideCodec* codec_[2];
  std::uint32_t withhold_every_;
  std::mt19937 rng_;
  std::vector<std::unique_ptr<Call>> calls_;
  std::unordered_map<std::uint64_t, std::uint32_t> by_remote_[2];
  std::unordered_set<std::uint64_t> carrier_free_;
  long waiting_ = -1;
  std::vector<double> latency_ms_[2];
  std::uint64_t send_errors_ = 0, stray_ = 0;
  double cpu0_ = 0;
};

// What the scenarios logged: each side's calls started (with the target's
// media address) and stopped.
struct CallLog {
  std::vector<std::pair<std::uint64_t, sockaddr_in>> started;
  std::uint64_t stopped = 0;
};
CallLog read_call_log(const fs::path& p) {
  CallLog log;
  std::istringstream in(read_text_file(p));
  std::unordered_set<std::uint64_t> seen;
  for (std::string line; std::getline(in, line);) {
    auto ev = parse_media_event(line);
    if (!ev) continue;
    if (ev->kind == MediaEvent::Kind::stop) {
      ++log.stopped;
    } else if (seen.insert(ev->call).second) {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(ev->ip);
      a.sin_port = htons(ev->port);
      log.started.emplace_back(ev->call, a);
    }
  }
  return log;
}

struct Context {
  const Options& o;
  fs::path work;
  int fd[2];
  SideCodec phone, carrier[2];  // carrier[mode]
  std::uint32_t trial_index = 0;
};

ThroughputTrial run_trial(Context& c, MediaMode mode, std::uint32_t sessions) {
  const Options& o = c.o;
  ThroughputTrial t;
  t.index = ++c.trial_index;
  t.sessions = sessions;
  t.duration_s = o.step_s;
  const fs::path dir = c.work / ("trial-" + std::to_string(t.index));
  fs::create_directories(dir);
  const SideCodec& carrier_codec = c.carrier[static_cast<int>(mode)];

  // Every call is held until the trial is over: setup at --setup-rate (half
  // as long again if the target is slower), the pairing (about a
  // millisecond per call), the trial, its drain (0.5 s), a margin. A call
  // that ends sooner voids the trial (below).
  const double setup_s = static_cast<double>(sessions) / o.setup_rate;
  const auto hold_ms = static_cast<std::uint32_t>(setup_s * 1500 + sessions * 2 + o.step_s * 1000 + 2000);
  auto sdp_codec = [](const codecs::CodecParams& p) {
    SdpCodec s;
    s.payload_type = p.payload_type;
    s.name = std::string(codecs::codec_info(p.id).sdp_name);
    if (p.id == codecs::CodecId::G729) s.fmtp = "annexb=no";
    return s;
  };
  CallScenarioParams phone;
  phone.codec = sdp_codec(c.phone.params);
  phone.user = o.user;
  phone.password = o.password;
  phone.hold_ms = hold_ms;
  phone.media_events = true;
  phone.media_ip = o.phone_ip;
  phone.media_port = o.phone_rtp_port;
  CallScenarioParams carrier = phone;
  carrier.codec = sdp_codec(carrier_codec.params);
  carrier.media_ip = o.carrier_ip;
  carrier.media_port = o.carrier_rtp_port;
  std::ofstream(dir / "uac.xml") << uac_call_scenario(phone);
  std::ofstream(dir / "uas.xml") << uas_call_scenario(carrier);

  std::string error;
  SippProcess uas;
  std::vector<std::string> uas_argv{o.sipp, "-sf", (dir / "uas.xml").string(), "-i", o.carrier_ip, "-p",
                                    std::to_string(o.carrier_sip_port), "-nostdin", "-max_socket", "65000",
                                    "-buff_size", std::to_string(o.socket_buffer), "-trace_logs", "-log_file", (dir / "uas-media.log").string(), "-trace_err",
                                    "-error_file", (dir / "uas.err").string()};
  if (!uas.start(uas_argv, o.carrier_netns, dir.string(), (dir / "uas.out").string(), &error)) {
    t.verdict = "carrier side: " + error;
    return t;
  }
  sleep_ms(300);
  const std::string target = o.target_host + ":" + std::to_string(o.target_port);
  std::vector<std::string> uac_argv{o.sipp, "-sf", (dir / "uac.xml").string(), "-s", o.number, "-i", o.phone_ip,
                                    "-p", std::to_string(o.phone_sip_port), "-r", std::to_string(o.setup_rate),
                                    "-m", std::to_string(sessions), "-l", std::to_string(sessions), "-nostdin",
                                    "-max_socket", "65000", "-buff_size", std::to_string(o.socket_buffer),
                                    "-recv_timeout", "8000",
                                    "-timeout", std::to_string(hold_ms / 1000 + static_cast<std::uint32_t>(setup_s) + 30) + "s",
                                    "-trace_logs", "-log_file", (dir / "uac-media.log").string(), "-trace_err",
                                    "-error_file", (dir / "uac.err").string(), "-trace_stat", "-stf",
                                    (dir / "uac-stat.csv").string(), "-fd", "1", "-auth_uri",
                                    o.number + "@" + target, target};
  SippProcess uac;
  if (!uac.start(uac_argv, o.phone_netns, dir.string(), (dir / "uac.out").string(), &error)) {
    t.verdict = "phone side: " + error;
    uas.stop();
    return t;
  }
  // Wait for every call to be up on both sides (or for the phone side to give up).
  const double deadline = monotonic_s() + setup_s + 10;
  CallLog ph, ca;
  while (monotonic_s() < deadline) {
    sleep_ms(50);
    ph = read_call_log(dir / "uac-media.log");
    ca = read_call_log(dir / "uas-media.log");
    if ((ph.started.size() >= sessions && ca.started.size() >= sessions) || !uac.running()) break;
  }
  sleep_ms(50);  // the last ACK on its way to the carrier side
  ca = read_call_log(dir / "uas-media.log");
  std::vector<sockaddr_in> phone_remotes, carrier_remotes;
  for (const auto& [call, a] : ph.started) phone_remotes.push_back(a);
  for (const auto& [call, a] : ca.started) carrier_remotes.push_back(a);

  t.calls_set_up = std::min(ph.started.size(), ca.started.size());
  bool calls_ok = ph.started.size() == sessions && ca.started.size() == sessions;
  if (!calls_ok)
    t.verdict = "only " + std::to_string(std::min(ph.started.size(), ca.started.size())) + " of " +
                std::to_string(sessions) + " calls set up (see " + dir.string() + ")";
  TrialEngine engine(c.fd[0], c.fd[1], &c.phone, &carrier_codec, o.withhold_rtp_every);
  if (calls_ok) {
    std::string why;
    if (engine.pair(phone_remotes, carrier_remotes, &why) < sessions) {
      calls_ok = false;
      t.verdict = why;
    } else {
      engine.run(o.step_s, 500, t);
    }
  }
  engine.collect(t);
  // A call that ended before the trial did would look like loss: the trial is void.
  const auto stops = read_call_log(dir / "uac-media.log").stopped + read_call_log(dir / "uas-media.log").stopped;
  if (calls_ok && stops > 0) {
    calls_ok = false;
    t.verdict = std::to_string(stops) + " calls ended before the trial did (setup slower than --setup-rate?)";
  }
  // Let the calls end (BYE after the hold), then stop the carrier side.
  if (!uac.wait(static_cast<int>(hold_ms + setup_s * 1000 + 15000))) uac.stop(1500);
  sleep_ms(200);
  uas.stop();

  const std::uint64_t sent = t.to_phone.sent + t.to_carrier.sent;
  const std::uint64_t lost = t.to_phone.lost() + t.to_carrier.lost();
  t.offered_pps = t.send_s > 0 ? static_cast<double>(sent) / t.send_s : 0;
  t.received_pps = t.send_s > 0 ? static_cast<double>(t.to_phone.matched + t.to_carrier.matched) / t.send_s : 0;
  t.generator_bound = (t.slots > 0 && t.late_slots * 100 > t.slots) || t.send_errors > 0;
  t.passed = trial_passed({sent, lost, calls_ok});
  if (calls_ok) {
    char b[160];
    if (t.passed) std::snprintf(b, sizeof b, "pass");
    else
      std::snprintf(b, sizeof b, "%llu of %llu packets lost (%.3f %%)", static_cast<unsigned long long>(lost),
                    static_cast<unsigned long long>(sent), sent ? 100.0 * static_cast<double>(lost) / static_cast<double>(sent) : 0.0);
    t.verdict = b;
  }
  return t;
}

SideCodec side_codec(const codecs::CodecParams& p) {
  SideCodec s;
  s.params = p;
  s.frames = encoded_tone(p);
  s.samples_per_packet = codecs::codec_info(p.id).clock_rate / 50;
  return s;
}

}  // namespace

void run_media_throughput(const Options& o, const fs::path& work, RunResult& result) {
  result.rate_unit = "sessions";
  result.target = o.target_host + ":" + std::to_string(o.target_port);
  std::uint32_t ip[2] = {};
  for (int side = 0; side < 2; ++side) {
    in_addr a{};
    const std::string& s = side == 0 ? o.phone_ip : o.carrier_ip;
    if (inet_pton(AF_INET, s.c_str(), &a) != 1) {
      result.error = "not an IPv4 address: " + s;
      return;
    }
    ip[side] = ntohl(a.s_addr);
  }
  Context c{o, work, {-1, -1}, {}, {}};
  std::string error;
  c.fd[0] = open_media_socket({o.phone_netns, ip[0], o.phone_rtp_port}, &error);
  if (c.fd[0] >= 0) c.fd[1] = open_media_socket({o.carrier_netns, ip[1], o.carrier_rtp_port}, &error);
  if (c.fd[1] < 0) {
    if (c.fd[0] >= 0) ::close(c.fd[0]);
    result.error = "media: " + error;
    return;
  }
  const int on = 1;
  for (int fd : c.fd) setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  c.phone = side_codec(o.codec);
  c.carrier[static_cast<int>(MediaMode::relayed)] = side_codec(o.codec);
  c.carrier[static_cast<int>(MediaMode::transcoded)] = side_codec(o.transcode_codec);

  for (MediaMode mode : {MediaMode::relayed, MediaMode::transcoded}) {
    if (!(mode == MediaMode::relayed ? o.mode_relayed : o.mode_transcoded)) continue;
    ThroughputMode m;
    m.mode = mode;
    m.phone_codec = o.codec_name;
    m.carrier_codec = mode == MediaMode::relayed ? o.codec_name : o.transcode_codec_name;
    auto record = [&](ThroughputTrial t) {
      if (!o.quiet)
        std::fprintf(stderr,
                     "media-throughput %s trial %u: %u sessions, %s; sent %llu, lost %llu, concealed %llu, "
                     "latency p50 %.3f p99 %.3f p99.9 %.3f ms%s\n",
                     media_mode_name(mode), t.index, t.sessions, t.verdict.c_str(),
                     static_cast<unsigned long long>(t.to_phone.sent + t.to_carrier.sent),
                     static_cast<unsigned long long>(t.to_phone.lost() + t.to_carrier.lost()),
                     static_cast<unsigned long long>(t.to_phone.concealed + t.to_carrier.concealed), t.latency_ms.p50,
                     t.latency_ms.p99, t.latency_ms.p999, t.generator_bound ? " (generator bound)" : "");
      if (t.generator_bound)
        result.generator_limits.push_back(std::string(media_mode_name(mode)) + " trial " + std::to_string(t.index) +
                                          " (" + std::to_string(t.sessions) + " sessions): sender late in " +
                                          std::to_string(t.late_slots) + " of " + std::to_string(t.slots) +
                                          " slots, " + std::to_string(t.send_errors) + " packets refused by the kernel");
      if (t.passed) m.found_sessions = std::max(m.found_sessions, t.sessions);
      m.trials.push_back(std::move(t));
    };
    if (!o.sessions.empty()) {
      for (auto n : o.sessions) record(run_trial(c, mode, n));
    } else {
      RateSearch search({o.start_sessions, o.max_sessions, o.resolution, false, 0});
      std::uint32_t trials = 0;
      while (auto step = search.next()) {
        if (trials++ >= o.max_steps) break;
        auto t = run_trial(c, mode, step->rate);
        const bool passed = t.passed;
        const bool none_up = t.calls_set_up == 0;
        record(std::move(t));
        if (none_up && m.trials.size() == 1) break;  // nothing gets through: not a search
        search.record(passed);
        sleep_ms(500);
      }
    }
    if (m.trials.size() == 1 && m.trials[0].calls_set_up == 0 && result.error.empty())
      result.error = std::string(media_mode_name(mode)) + ": " + m.trials[0].verdict;
    result.throughput.push_back(std::move(m));
  }
  if (!result.throughput.empty()) result.found_rate = result.throughput.front().found_sessions;
  for (int fd : c.fd) ::close(fd);
}

}  // namespace msgw::loadtest
