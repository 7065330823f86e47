// SPDX-License-Identifier: GPL-3.0-or-later
#include "socket_drops.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <charconv>
#include <sstream>
#include <thread>
#include <vector>

#include "text_file.hpp"

namespace msgw::loadtest {
namespace {

// The words of one line, as /proc/net/snmp separates them (blanks).
std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(std::move(w));
  return out;
}

}  // namespace

std::optional<UdpDrops> parse_snmp_udp(std::string_view text) {
  // The first "Udp:" line names the columns, the second holds the values.
  std::vector<std::string> names, values;
  std::istringstream in{std::string(text)};
  for (std::string line; values.empty() && std::getline(in, line);)
    if (line.rfind("Udp:", 0) == 0) (names.empty() ? names : values) = words(line.substr(4));
  if (names.empty() || values.size() != names.size()) return std::nullopt;
  UdpDrops d;
  bool have_in = false, have_rcvbuf = false;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::uint64_t v = 0;
    const char* const end = values[i].data() + values[i].size();
    auto [stop, ec] = std::from_chars(values[i].data(), end, v);
    if (ec != std::errc() || stop != end) return std::nullopt;
    if (names[i] == "InErrors") d.in_errors = v, have_in = true;
    else if (names[i] == "RcvbufErrors") d.rcvbuf_errors = v, have_rcvbuf = true;
    else if (names[i] == "SndbufErrors") d.sndbuf_errors = v;
  }
  if (!have_in || !have_rcvbuf) return std::nullopt;
  return d;
}

UdpDrops udp_drops_delta(const UdpDrops& before, const UdpDrops& after) {
  auto diff = [](std::uint64_t a, std::uint64_t b) { return b >= a ? b - a : b; };
  return {diff(before.rcvbuf_errors, after.rcvbuf_errors), diff(before.sndbuf_errors, after.sndbuf_errors),
          diff(before.in_errors, after.in_errors)};
}

std::optional<UdpDrops> read_netns_udp(const std::string& netns) {
  if (netns.empty()) return parse_snmp_udp(read_text_file("/proc/self/net/snmp"));
  const int ns = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) return std::nullopt;
  // setns() moves only the calling thread; /proc/thread-self/net is that
  // thread's namespace.  The thread ends with it, the tool stays where it was.
  std::optional<UdpDrops> out;
  std::thread reader([&] {
    if (setns(ns, CLONE_NEWNET) == 0) out = parse_snmp_udp(read_text_file("/proc/thread-self/net/snmp"));
  });
  reader.join();
  ::close(ns);
  return out;
}

std::uint64_t read_rmem_max() {
  std::istringstream in(read_text_file("/proc/sys/net/core/rmem_max"));
  std::uint64_t v = 0;
  return (in >> v) ? v : 0;
}

}  // namespace msgw::loadtest
