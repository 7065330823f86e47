// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/mgmt/server.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "msgw/mgmt/verbs.hpp"

namespace msgw::mgmt {

Server::Server(const std::string& path, Service& service)
    : Server(path, [&service](const nlohmann::json& r) { return dispatch(service, r); }) {}

Server::Server(const std::string& path, Handler handler) : path_(path), handler_(std::move(handler)) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) throw std::runtime_error(path + ": socket path too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(path + ": socket: " + std::strerror(errno));
  ::unlink(path.c_str());  // a socket file left by a killed process
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listen_fd_, 16) != 0) {
    std::string err = std::strerror(errno);
    ::close(listen_fd_);
    throw std::runtime_error(path + ": " + err);
  }
}

Server::~Server() {
  for (const auto& [fd, c] : clients_) ::close(fd);
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
  }
}

void Server::on_listen_ready() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: accepted all pending
    if (clients_.size() >= kMaxClients) {
      ::close(fd);
      ++bad_requests_;
      continue;
    }
    clients_.emplace(fd, Client{});
    if (on_client_change) on_client_change(fd, Watch::read);
  }
}

void Server::close_client(int fd) {
  if (on_client_change) on_client_change(fd, Watch::none);
  clients_.erase(fd);
  ::close(fd);
}

bool Server::flush(int fd, Client& c) {
  size_t off = 0;
  while (off < c.out.size()) {
    ssize_t n = ::send(fd, c.out.data() + off, c.out.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      close_client(fd);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  c.out.erase(0, off);
  if (c.out.size() > kMaxPendingAnswer) {  // a client that does not read its answers
    close_client(fd);
    return false;
  }
  const bool want_write = !c.out.empty();
  if (want_write != c.watching_write) {
    c.watching_write = want_write;
    if (on_client_change) on_client_change(fd, want_write ? Watch::read_write : Watch::read);
  }
  return true;
}

bool Server::answer(int fd, const nlohmann::json& reply) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return false;
  it->second.out += reply.dump() + "\n";
  return flush(fd, it->second);
}

void Server::on_client_ready(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  if (!it->second.out.empty() && !flush(fd, it->second)) return;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      close_client(fd);
      return;
    }
    if (n < 0) break;
    it->second.in.append(buf, static_cast<size_t>(n));
    if (it->second.in.size() > kMaxRequestBytes) {
      ++bad_requests_;
      if (answer(fd, error_reply("request too long"))) close_client(fd);
      return;
    }
  }
  for (;;) {
    it = clients_.find(fd);
    if (it == clients_.end()) return;
    auto nl = it->second.in.find('\n');
    if (nl == std::string::npos) return;
    std::string line = it->second.in.substr(0, nl);
    it->second.in.erase(0, nl + 1);
    ++requests_;
    nlohmann::json req = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded() || !req.is_object() || !req.contains("cmd") || !req["cmd"].is_string()) {
      ++bad_requests_;
      if (answer(fd, error_reply("request is not a JSON object with a \"cmd\""))) close_client(fd);
      return;
    }
    nlohmann::json reply;
    try {
      reply = handler_(req);
    } catch (const std::exception& e) {
      reply = error_reply(std::string("internal error: ") + e.what());
    }
    if (!answer(fd, reply)) return;
  }
}

}  // namespace msgw::mgmt
