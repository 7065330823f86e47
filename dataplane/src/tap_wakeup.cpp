// SPDX-License-Identifier: GPL-3.0-or-later
// Frames from the kernel end the main lcore's nap through ppoll() on the TAP
// queues, not through net_tap's signal.  net_tap (DPDK 22.11) opens each
// queue with O_ASYNC and F_SETSIG (a real-time signal, SIGRTMIN+1 or the
// next free one, sent to the process): the kernel then signals for every
// frame it writes to the TAP, costing the sender (msgw-control's sendmmsg:
// kill_fasync, ~6 % of its profile) and the dataplane (a signal frame on
// whichever thread takes it: the EAL interrupt and telemetry threads woke
// ~250 times a second each at 500 calls/s), and the main lcore was not even
// woken unless the signal happened to land on it.  Its rx burst reads a queue
// only after the handler bumped a trigger counter; so after ppoll() reports a
// queue readable, the main lcore calls that handler itself (a plain function
// call) and reads only the ports whose queue is readable.  Setup code.
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "msgw/common/log.hpp"
#include "runtime.hpp"

namespace msgw::dataplane {

TapWakeup::TapWakeup() { std::fill(std::begin(ready_), std::end(ready_), true); }

bool TapWakeup::take_over(const Runtime& rt, std::string* why) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    *why = std::string("/proc/self/fd: ") + std::strerror(errno);
    return false;
  }
  std::vector<pollfd> fds;
  std::vector<uint16_t> ports;
  int signo = 0;
  void (*trigger)(int) = nullptr;
  bool ok = true;
  while (const dirent* e = readdir(dir)) {
    const int fd = std::atoi(e->d_name);
    if (fd <= 2 || fd == dirfd(dir)) continue;
    char link[64];
    const std::string path = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t len = readlink(path.c_str(), link, sizeof link - 1);
    if (len <= 0) continue;
    link[len] = '\0';
    if (std::strcmp(link, "/dev/net/tun") != 0) continue;
    const int flags = fcntl(fd, F_GETFL);
    // The rx and tx fds of a queue are dups: one open file, one O_ASYNC,
    // cleared below when the first of them is seen.
    if (flags < 0 || (flags & O_ASYNC) == 0) continue;
    // Each TAP has two: its rx/tx queue and net_tap's keep-alive queue,
    // detached (it never carries frames, so never polls readable; nothing
    // the kernel shows tells the two apart, so both are polled).
    ifreq ifr{};
    if (ioctl(fd, TUNGETIFF, &ifr) != 0) continue;
    uint16_t port = uint16_t(rt.ports.size());
    for (uint16_t p = 0; p < rt.ports.size(); ++p)
      if (rt.ports[p].tap_ifname == ifr.ifr_name) port = p;
    const int sig = fcntl(fd, F_GETSIG);
    struct sigaction sa {};
    if (port == rt.ports.size() || sig <= 0 || sigaction(sig, nullptr, &sa) != 0 ||
        (sa.sa_flags & SA_SIGINFO) != 0 || sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN ||
        (signo != 0 && (sig != signo || sa.sa_handler != trigger))) {
      *why = std::string("TAP ") + ifr.ifr_name + ": not the signal set-up this code knows";
      ok = false;
      break;
    }
    signo = sig;
    trigger = sa.sa_handler;
    if (fcntl(fd, F_SETFL, flags & ~O_ASYNC) != 0) {
      *why = std::string("fcntl: ") + std::strerror(errno);
      ok = false;
      break;
    }
    MSGW_LOG(debug, "exception path: TAP queue polled", {"tap", ifr.ifr_name}, {"fd", fd});
    fds.push_back(pollfd{fd, POLLIN, 0});
    ports.push_back(port);
  }
  closedir(dir);
  for (uint16_t p = 0; ok && p < rt.ports.size(); ++p)
    if (std::find(ports.begin(), ports.end(), p) == ports.end()) {
      *why = "no TAP queue found for port " + std::to_string(p);
      ok = false;
    }
  if (!ok) {
    for (const pollfd& p : fds) fcntl(p.fd, F_SETFL, fcntl(p.fd, F_GETFL) | O_ASYNC);
    return false;
  }
  fds_ = std::move(fds);
  port_of_ = std::move(ports);
  trigger_ = trigger;
  signo_ = signo;
  std::fill(std::begin(ready_), std::end(ready_), false);
  // Frames queued before the take-over are read on the first round.
  for (uint16_t p : port_of_) ready_[p] = true;
  return true;
}

void TapWakeup::after_poll(int ready) {
  if (fds_.empty()) return;
  bool any = false;
  for (size_t i = 0; i < fds_.size(); ++i) {
    const short ev = ready > 0 ? fds_[i].revents : 0;
    ready_[port_of_[i]] = (ev & POLLIN) != 0;
    any = any || (ev & POLLIN) != 0;
    if ((ev & (POLLERR | POLLHUP | POLLNVAL)) != 0 && (ev & POLLIN) == 0) {
      // Not expected of an attached queue; give every queue back to net_tap's
      // signal (and the main lcore to its blind nap) rather than spin on it.
      MSGW_LOG(warn, "exception path: a TAP queue polls as an error; back to net_tap's signal",
               {"port", port_of_[i]}, {"revents", int(ev)});
      for (const pollfd& p : fds_) fcntl(p.fd, F_SETFL, fcntl(p.fd, F_GETFL) | O_ASYNC);
      fds_.clear();
      port_of_.clear();
      std::fill(std::begin(ready_), std::end(ready_), true);
      return;
    }
  }
  if (any) trigger_(signo_);
}

}  // namespace msgw::dataplane
