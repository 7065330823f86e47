// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/mgmt/client.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace msgw::mgmt {

Answer ask(const std::string& socket_path, const nlohmann::json& request, int timeout_s) {
  Answer a;
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    a.error = socket_path + ": socket path too long";
    return a;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    a.error = "cannot reach msgw-control at " + socket_path + ": " + std::strerror(errno) +
              " (is it running? see --socket)";
    if (fd >= 0) close(fd);
    return a;
  }
  timeval tv{timeout_s, 0};  // a control plane that does not answer in time is stuck
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string out = request.dump() + "\n";
  if (send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
    a.error = socket_path + ": send: " + std::strerror(errno);
    close(fd);
    return a;
  }
  std::string in;
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
    if (in.find('\n') != std::string::npos) break;
  }
  close(fd);
  auto nl = in.find('\n');
  if (nl == std::string::npos) {
    a.error = socket_path + ": no answer from msgw-control";
    return a;
  }
  a.reply = nlohmann::json::parse(in.substr(0, nl), nullptr, false);
  if (a.reply.is_discarded() || !a.reply.is_object()) {
    a.error = socket_path + ": unreadable answer from msgw-control";
    return a;
  }
  a.delivered = true;
  return a;
}

}  // namespace msgw::mgmt
