// SPDX-License-Identifier: GPL-3.0-or-later
// The value syntaxes both daemons and msgwctl share (config.hpp): IPv4
// addresses and prefixes, host:port, PCI addresses, RFC 1123 host names, and
// an Error's text. Apart from the loader (config.cpp) because none of them
// needs the TOML walk.
#include "msgw/config/config.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <sstream>

namespace msgw::config {
std::string Error::to_string() const {
  std::ostringstream out;
  out << file << ':' << line << ':' << column << ": " << key << ": " << message;
  return out.str();
}

std::optional<uint32_t> parse_ipv4(std::string_view text) {
  std::string s(text);
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view text) {
  Ipv4Prefix p;
  auto slash = text.find('/');
  auto addr = parse_ipv4(text.substr(0, slash));
  if (!addr) return std::nullopt;
  p.addr = *addr;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty() || v > 32)
      return std::nullopt;
    p.prefix = static_cast<uint8_t>(v);
  }
  return p;
}

bool is_ip_prefix(std::string_view text) {
  if (parse_ipv4_prefix(text)) return true;
  auto slash = text.find('/');
  std::string ip(text.substr(0, slash));
  in6_addr a{};
  if (inet_pton(AF_INET6, ip.c_str(), &a) != 1) return false;
  if (slash == std::string_view::npos) return true;
  auto digits = text.substr(slash + 1);
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  return ec == std::errc() && ptr == digits.data() + digits.size() && !digits.empty() && v <= 128;
}

std::string format_ipv4(uint32_t addr) {
  in_addr a{htonl(addr)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

std::string HostPort::to_string() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    hp.host = std::string(text.substr(1, close - 1));
    in6_addr a6{};
    if (inet_pton(AF_INET6, hp.host.c_str(), &a6) != 1) return std::nullopt;
    rest = text.substr(close + 1);
  } else {
    auto colon = text.find(':');
    hp.host = std::string(text.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view{} : text.substr(colon);
  }
  if (hp.host.empty()) return std::nullopt;
  for (char c : hp.host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':'))
      return std::nullopt;
  if (!rest.empty()) {
    if (rest.front() != ':' || rest.size() < 2) return std::nullopt;
    auto digits = rest.substr(1);
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || v == 0 || v > 65535)
      return std::nullopt;
    hp.port = static_cast<uint16_t>(v);
    hp.port_given = true;
  }
  return hp;
}

std::optional<std::string> parse_pci_address(std::string_view text) {
  // Fields of fixed width, hex digits only: no sign, no white space.
  auto hex = [](std::string_view f, size_t width, unsigned max, unsigned& out) {
    if (f.size() != width) return false;
    out = 0;
    for (char c : f) {
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      out = out * 16 + unsigned(d);
    }
    return out <= max;
  };
  std::string_view domain = "0000";
  if (text.size() == 12) {
    if (text[4] != ':') return std::nullopt;
    domain = text.substr(0, 4);
    text.remove_prefix(5);
  }
  unsigned dom = 0, bus = 0, dev = 0, fn = 0;
  if (text.size() != 7 || text[2] != ':' || text[5] != '.' || !hex(domain, 4, 0xffff, dom) ||
      !hex(text.substr(0, 2), 2, 0xff, bus) || !hex(text.substr(3, 2), 2, 0x1f, dev) ||
      !hex(text.substr(6, 1), 1, 7, fn))
    return std::nullopt;
  char out[16];
  std::snprintf(out, sizeof out, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
  return std::string(out);
}

std::optional<std::string> port_pci_address(const PortSection& port) {
  if (!port.pci.empty()) return port.pci;
  return parse_pci_address(std::string_view(port.device).substr(0, port.device.find(',')));
}

bool is_host_name(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty() || text.size() > 253) return false;
  bool last_all_digits = false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) dot = text.size();
    std::string_view label = text.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    last_all_digits = true;
    for (char c : label) {
      const bool digit = c >= '0' && c <= '9';
      if (!digit && !std::isalpha(static_cast<unsigned char>(c)) && c != '-') return false;
      if (!digit) last_all_digits = false;
    }
    start = dot + 1;
  }
  return !last_all_digits;
}
}  // namespace msgw::config
