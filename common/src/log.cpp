// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/common/log.hpp"

#include <memory>

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace msgw::log {

namespace detail {
std::atomic<uint8_t> g_threshold{uint8_t(Level::info)};
}

namespace {

constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn", "error"};

spdlog::level::level_enum to_spdlog(Level l) {
  switch (l) {
    case Level::trace: return spdlog::level::trace;
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::error: return spdlog::level::err;
    case Level::off: break;
  }
  return spdlog::level::off;
}

// The process's logger. Built on first use so that a line written before
// init() (a static constructor, a test) still goes somewhere.
struct State {
  std::mutex mu;
  std::string program = "msgw";
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<spdlog::sinks::sink> saved_sink;  // stderr while a Capture lives
  RateLimiter* limiters = nullptr;
};

State& state() {
  static State* s = [] {
    auto* st = new State;  // never destroyed: static destructors may still log
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %l %n: %v", spdlog::pattern_time_type::utc));
    st->logger = std::make_shared<spdlog::logger>(st->program, sink);
    st->logger->set_level(spdlog::level::trace);  // the threshold is ours (g_threshold)
    return st;
  }();
  return *s;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v)
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  return false;
}

// Escapes what would break the line (or its parsing) and quotes if asked.
void append_escaped(std::string& out, std::string_view v, bool quote) {
  if (quote) out.push_back('"');
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += quote ? "\\\"" : "\""; break;
      case '\\': out += quote ? "\\\\" : "\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < ' ' || c == 0x7f) {
          static constexpr char hex[] = "0123456789abcdef";
          out += "\\x";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(char(c));
        }
    }
  }
  if (quote) out.push_back('"');
}

void emit(Level level, const std::string& line) {
  State& s = state();
  std::shared_ptr<spdlog::logger> logger;
  {
    std::lock_guard<std::mutex> g(s.mu);
    logger = s.logger;
  }
  logger->log(to_spdlog(level), spdlog::string_view_t(line.data(), line.size()));
}

void report_suppressed(std::string_view event, uint64_t n) {
  emit(Level::warn, format_event("suppressed " + std::to_string(n) + " lines", {{"event", event}}));
}

// A capture sink: "LEVEL text" per line, for Capture.
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> g(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string name;
    switch (msg.level) {
      case spdlog::level::trace: name = "trace"; break;
      case spdlog::level::debug: name = "debug"; break;
      case spdlog::level::info: name = "info"; break;
      case spdlog::level::warn: name = "warn"; break;
      default: name = "error"; break;
    }
    lines_.push_back(name + " " + std::string(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

std::shared_ptr<CaptureSink> g_capture;

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i)
    if (kLevelNames[i] == name) return Level(i);
  return std::nullopt;
}

std::string_view level_name(Level level) {
  return uint8_t(level) < std::size(kLevelNames) ? kLevelNames[uint8_t(level)] : "off";
}

void init(std::string_view program, Level level) {
  State& s = state();
  {
    std::lock_guard<std::mutex> g(s.mu);
    s.program = std::string(program);
    auto logger = std::make_shared<spdlog::logger>(s.program, s.logger->sinks().begin(),
                                                   s.logger->sinks().end());
    logger->set_level(spdlog::level::trace);
    s.logger = std::move(logger);
  }
  set_level(level);
}

void set_level(Level level) { detail::g_threshold.store(uint8_t(level), std::memory_order_relaxed); }

std::string format_event(std::string_view event, std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(event.size() + fields.size() * 24);
  append_escaped(out, event, false);
  for (const Field& f : fields) {
    out.push_back(' ');
    append_escaped(out, f.key, false);
    out.push_back('=');
    append_escaped(out, f.value, needs_quotes(f.value));
  }
  return out;
}

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  emit(level, format_event(event, fields));
}

RateLimiter::RateLimiter(std::string_view event, unsigned per_second, unsigned burst)
    : event_(event),
      per_ns_(double(per_second == 0 ? 1 : per_second) / 1e9),
      burst_(double(burst != 0 ? burst : per_second == 0 ? 1 : per_second)),
      tokens_(burst_) {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  next_ = s.limiters;
  s.limiters = this;
}

RateLimiter::~RateLimiter() {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  for (RateLimiter** p = &s.limiters; *p != nullptr; p = &(*p)->next_)
    if (*p == this) {
      *p = next_;
      break;
    }
}

bool RateLimiter::admit(Clock::time_point now, uint64_t* suppressed_before) {
  std::lock_guard<std::mutex> g(mu_);
  if (last_ && now > *last_) {
    const double ns = double(std::chrono::duration_cast<std::chrono::nanoseconds>(now - *last_).count());
    tokens_ = std::min(burst_, tokens_ + ns * per_ns_);
  }
  if (!last_ || now > *last_) last_ = now;
  if (tokens_ < 1.0) {
    ++suppressed_;
    last_refusal_ = now;
    return false;
  }
  tokens_ -= 1.0;
  *suppressed_before = suppressed_;
  suppressed_ = 0;
  return true;
}

uint64_t RateLimiter::take_suppressed_if_quiet(Clock::time_point now, Clock::duration quiet) {
  std::lock_guard<std::mutex> g(mu_);
  if (suppressed_ == 0 || now - last_refusal_ < quiet) return 0;
  uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

void write_limited(RateLimiter& limiter, Level level, std::string_view event,
                   std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  uint64_t suppressed = 0;
  if (!limiter.admit(RateLimiter::Clock::now(), &suppressed)) return;
  if (suppressed != 0) report_suppressed(limiter.event(), suppressed);
  emit(level, format_event(event, fields));
}

void flush_suppressed(RateLimiter::Clock::time_point now) {
  State& s = state();
  std::vector<std::pair<std::string, uint64_t>> due;
  {
    std::lock_guard<std::mutex> g(s.mu);
    for (RateLimiter* l = s.limiters; l != nullptr; l = l->next_)
      if (uint64_t n = l->take_suppressed_if_quiet(now, std::chrono::seconds(1)); n != 0)
        due.emplace_back(l->event_, n);
  }
  for (const auto& [event, n] : due) report_suppressed(event, n);
}

Capture::Capture() {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  g_capture = std::make_shared<CaptureSink>();
  g_capture->set_formatter(std::make_unique<spdlog::pattern_formatter>("%v"));
  s.saved_sink = s.logger->sinks().front();
  s.logger->sinks().front() = g_capture;
}

Capture::~Capture() {
  State& s = state();
  std::lock_guard<std::mutex> g(s.mu);
  s.logger->sinks().front() = s.saved_sink;
  g_capture.reset();
}

std::vector<std::string> Capture::lines() const { return g_capture ? g_capture->lines() : std::vector<std::string>{}; }

}  // namespace msgw::log
