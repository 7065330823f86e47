// SPDX-License-Identifier: GPL-3.0-or-later
// The live host's side of HostEnv: what a fixture tree cannot fake.
#include "msgw/host/environment.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

extern char** environ;

namespace msgw::host {

namespace {

Memlock own_memlock() {
  Memlock m;
  rlimit rl{};
  if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) m.limit_bytes = uint64_t(rl.rlim_cur);
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("CapEff:", 0) == 0) m.cap_ipc_lock = (std::strtoull(line.c_str() + 7, nullptr, 16) >> 14) & 1;
  return m;
}

// IPv4 and global IPv6 addresses of `ifname`; an IPv6 link-local address is
// on every interface that is up and says nothing about management.
std::vector<std::string> live_addresses(const std::string& ifname) {
  std::vector<std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || ifname != a->ifa_name) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
      out.emplace_back(text);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      const in6_addr& v6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr;
      if (IN6_IS_ADDR_LINKLOCAL(&v6)) continue;
      inet_ntop(AF_INET6, &v6, text, sizeof text);
      out.emplace_back(text);
    }
  }
  freeifaddrs(list);
  return out;
}

std::string spawn_and_wait(const std::vector<std::string>& argv) {
  if (argv.empty()) return "empty command";
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (const int rc = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ); rc != 0)
    return argv[0] + ": " + std::strerror(rc);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return std::string("waitpid: ") + std::strerror(errno);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status)) return argv[0] + " exited with status " + std::to_string(WEXITSTATUS(status));
  return argv[0] + " was killed by signal " + std::to_string(WTERMSIG(status));
}

}  // namespace

HostEnv HostEnv::live(std::filesystem::path root) {
  HostEnv env;
  const bool live_tree = std::filesystem::path(root).lexically_normal() == "/";
  env.root = std::move(root);
  env.memlock = own_memlock();
  if (live_tree) {
    env.addresses = live_addresses;
    env.run = spawn_and_wait;
  } else {
    env.addresses = [](const std::string&) { return std::vector<std::string>{}; };
    env.run = [](const std::vector<std::string>&) {
      return std::string("not run: commands act on the live host, and --root names another tree");
    };
  }
  return env;
}

}  // namespace msgw::host
