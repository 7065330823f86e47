// SPDX-License-Identifier: GPL-3.0-or-later
#include "tap_device.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace msgw::loadtest {
namespace {

int attach(const std::string& where, const std::string& name, MacAddress* mac, std::string* error) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    *error = "TAP name '" + name + "': 1 to " + std::to_string(IFNAMSIZ - 1) + " characters expected";
    return -1;
  }
  if (if_nametoindex(name.c_str()) == 0) {
    *error = "no interface " + name + " in " + where +
             ": create it with its address and routes first (RIG_PORTS=memif scripts/rig.sh up does; by hand: "
             "ip tuntap add dev " + name + " mode tap)";
    return -1;
  }
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *error = std::string("/dev/net/tun: ") + std::strerror(errno);
    return -1;
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.c_str(), name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    *error = "attaching to TAP " + name + " in " + where + ": " + std::strerror(errno) +
             (errno == EBUSY ? " (another process has it open)" : errno == EINVAL ? " (not a TAP device?)" : "");
    ::close(fd);
    return -1;
  }
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq hw{};
  std::memcpy(hw.ifr_name, name.c_str(), name.size());
  if (s < 0 || ioctl(s, SIOCGIFHWADDR, &hw) != 0) {
    *error = "the MAC of " + name + ": " + std::strerror(errno);
    if (s >= 0) ::close(s);
    ::close(fd);
    return -1;
  }
  ::close(s);
  std::memcpy(mac->data(), hw.ifr_hwaddr.sa_data, 6);
  return fd;
}

}  // namespace

int open_tap(const std::string& netns, const std::string& name, MacAddress* mac, std::string* error) {
  if (netns.empty()) return attach("this network namespace", name, mac, error);
  int self_ns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  int ns = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (self_ns < 0 || ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
    *error = "network namespace " + netns + ": " + std::strerror(errno);
    if (ns >= 0) ::close(ns);
    if (self_ns >= 0) ::close(self_ns);
    return -1;
  }
  ::close(ns);
  int fd = attach("namespace " + netns, name, mac, error);
  if (setns(self_ns, CLONE_NEWNET) != 0) {
    *error = std::string("back to our network namespace: ") + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  ::close(self_ns);
  return fd;
}

}  // namespace msgw::loadtest
