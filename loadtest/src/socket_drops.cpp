// SPDX-License-Identifier: GPL-3.0-or-later
#include "socket_drops.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

namespace msgw::loadtest {
namespace {

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::optional<UdpDrops> parse_snmp_udp(std::string_view text) {
  // The first "Udp:" line names the columns, the second holds the values.
  std::vector<std::string_view> names, values;
  std::size_t pos = 0;
  while (pos < text.size() && values.empty()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.substr(0, 4) != "Udp:") continue;
    (names.empty() ? names : values) = fields(line.substr(4));
  }
  if (names.empty() || values.size() != names.size()) return std::nullopt;
  UdpDrops d;
  bool have_in = false, have_rcvbuf = false;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(values[i].data(), values[i].data() + values[i].size(), v);
    if (ec != std::errc() || end != values[i].data() + values[i].size()) return std::nullopt;
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
  if (netns.empty()) return parse_snmp_udp(read_all("/proc/self/net/snmp"));
  const int ns = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) return std::nullopt;
  // setns() moves only the calling thread; /proc/thread-self/net is that
  // thread's namespace.  The thread ends with it, the tool stays where it was.
  std::optional<UdpDrops> out;
  std::thread reader([&] {
    if (setns(ns, CLONE_NEWNET) == 0) out = parse_snmp_udp(read_all("/proc/thread-self/net/snmp"));
  });
  reader.join();
  ::close(ns);
  return out;
}

std::uint64_t read_rmem_max() {
  std::istringstream in(read_all("/proc/sys/net/core/rmem_max"));
  std::uint64_t v = 0;
  return (in >> v) ? v : 0;
}

}  // namespace msgw::loadtest
