// SPDX-License-Identifier: GPL-3.0-or-later
// Logging for both daemons: one line per event, levels from [instance]
// log_level, key=value fields an operator can grep (call=... leg=a
// peer=1.2.3.4:5060), and per-site rate limits where a flood of bad input
// could otherwise fill the disk. spdlog writes the lines (stderr, UTC
// timestamps); nothing outside log.cpp sees spdlog.
//
//   MSGW_LOG(info, "call answered", {"call", id}, {"leg", "b"}, {"peer", peer});
//   MSGW_LOG_LIMITED(warn, 10, "bad request", {"peer", peer}, {"why", why});
//
// gives
//   2026-12-05T23:16:13.123Z info msgw-control: call answered call=x@h leg=b peer=10.20.0.2:5060
//
// Field values with spaces, quotes, '=' or control characters are quoted and
// escaped, and so is the event text, so one event is always one line
// whatever a peer put in a header. The level test comes first in the
// macros: a disabled line costs one relaxed load and builds no strings.
// Never log from a dataplane worker's packet loop.
#pragma once

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace msgw::log {

enum class Level : uint8_t { trace, debug, info, warn, error, off };

// The words of [instance] log_level: trace | debug | info | warn | error.
std::optional<Level> parse_level(std::string_view name);
std::string_view level_name(Level level);

// Names the program on every line and sets the threshold. Safe to call
// again (a reload applies a new level with set_level alone).
void init(std::string_view program, Level level = Level::info);
void set_level(Level level);

namespace detail {
extern std::atomic<uint8_t> g_threshold;
}
inline Level level() { return Level(detail::g_threshold.load(std::memory_order_relaxed)); }
inline bool enabled(Level l) { return l != Level::off && uint8_t(l) >= uint8_t(level()); }

// One key=value pair of an event line.
struct Field {
  std::string_view key;
  std::string value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  template <typename T>
    requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
  Field(std::string_view k, T v) : key(k), value(number(v)) {}

 private:
  template <typename T>
  static std::string number(T v) {
    if constexpr (std::is_floating_point_v<T>) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", double(v));
      return buf;
    } else {
      return std::to_string(v);
    }
  }
};

// "event k=v k=v": the text after the program name. Exposed for tests.
std::string format_event(std::string_view event, std::initializer_list<Field> fields);

// Writes one line if `level` is enabled.
void write(Level level, std::string_view event, std::initializer_list<Field> fields = {});

// A token bucket for one logging site: `per_second` lines a second, bursts
// of up to `burst`. What it refuses is counted, and the count is reported
// in a line of its own ("suppressed K lines event=...") before the next
// line it admits, or by flush_suppressed() once the flood is over. Every
// limiter registers itself so flush_suppressed() can find it.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimiter(std::string_view event, unsigned per_second, unsigned burst = 0);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // true: write the line. *suppressed_before is how many lines this site
  // refused since its last admitted line (report them first).
  bool admit(Clock::time_point now, uint64_t* suppressed_before);
  // Refused lines not reported yet, taken (reset) when the last refusal is
  // at least `quiet` old; 0 otherwise.
  uint64_t take_suppressed_if_quiet(Clock::time_point now, Clock::duration quiet);
  std::string_view event() const { return event_; }

 private:
  friend void flush_suppressed(Clock::time_point now);
  std::string event_;
  double per_ns_;      // tokens per nanosecond
  double burst_;
  double tokens_;
  std::optional<Clock::time_point> last_;
  Clock::time_point last_refusal_{};
  uint64_t suppressed_ = 0;
  std::mutex mu_;
  RateLimiter* next_ = nullptr;  // the registry's list
};

// A line through `limiter` (MSGW_LOG_LIMITED).
void write_limited(RateLimiter& limiter, Level level, std::string_view event,
                   std::initializer_list<Field> fields = {});

// Reports, for every limiter whose flood has been over for a second, the
// lines it refused. The daemons call it from their loops.
void flush_suppressed(RateLimiter::Clock::time_point now = RateLimiter::Clock::now());

// For tests: while it lives, lines go to lines() as "LEVEL event k=v ..."
// instead of stderr.
class Capture {
 public:
  Capture();
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  std::vector<std::string> lines() const;
};

}  // namespace msgw::log

#define MSGW_LOG(lvl, event, ...)                                                   \
  do {                                                                              \
    if (::msgw::log::enabled(::msgw::log::Level::lvl))                              \
      ::msgw::log::write(::msgw::log::Level::lvl, (event), {__VA_ARGS__});          \
  } while (0)

#define MSGW_LOG_LIMITED(lvl, per_second, event, ...)                               \
  do {                                                                              \
    static ::msgw::log::RateLimiter msgw_log_site_limiter_{(event), (per_second)};  \
    if (::msgw::log::enabled(::msgw::log::Level::lvl))                              \
      ::msgw::log::write_limited(msgw_log_site_limiter_, ::msgw::log::Level::lvl,   \
                                 (event), {__VA_ARGS__});                           \
  } while (0)
