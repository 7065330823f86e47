// SPDX-License-Identifier: GPL-3.0-or-later
// GET /metrics on libmicrohttpd's external epoll mode (http_server.hpp).
#include "msgw/metrics/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include <microhttpd.h>

#include "msgw/metrics/exposition.hpp"

namespace msgw::metrics {

namespace {

constexpr unsigned kConnectionLimit = 16;   // a scraper or two, and curl
constexpr unsigned kConnectionTimeoutS = 10;

MHD_Result queue(MHD_Connection* c, unsigned status, std::string_view body, std::string_view content_type,
                 bool allow_get) {
  MHD_Response* r =
      MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, std::string(content_type).c_str());
  if (allow_get) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET");
  const MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

MHD_Result access_handler(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                          const char*, size_t*, void**) {
  return MHD_Result(HttpServer::on_request(cls, c, url, method));
}

}  // namespace

int HttpServer::on_request(void* self_ptr, MHD_Connection* c, const char* url, const char* method) {
  auto& self = *static_cast<HttpServer*>(self_ptr);
  // Answered at the first call, before any body: /metrics takes none, and a
  // refusal need not read one (MHD closes the connection after it).
  MHD_Result r;
  if (std::string_view(method) != MHD_HTTP_METHOD_GET) {
    ++self.stats_.method_not_allowed;
    r = queue(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n", "text/plain; charset=utf-8", true);
  } else if (std::string_view(url) != "/metrics") {
    ++self.stats_.not_found;
    r = queue(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", "text/plain; charset=utf-8", false);
  } else {
    ++self.stats_.ok;  // counted before rendering: the scrape sees itself
    const std::string body = self.render_();
    r = queue(c, MHD_HTTP_OK, body, kContentType, false);
  }
  if (r != MHD_YES) ++self.stats_.failed;
  return r;
}

std::unique_ptr<HttpServer> HttpServer::start(uint32_t ip, uint16_t port, Render render, std::string* error) {
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->render_ = std::move(render);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(ip);
  sa.sin_port = htons(port);
  errno = 0;
  // No MHD_USE_INTERNAL_POLLING_THREAD: the caller's loop drives MHD_run.
  s->daemon_ = MHD_start_daemon(
      MHD_USE_EPOLL, 0, nullptr, nullptr, &access_handler, s.get(), MHD_OPTION_SOCK_ADDR, &sa,
      MHD_OPTION_CONNECTION_LIMIT, kConnectionLimit, MHD_OPTION_CONNECTION_TIMEOUT, kConnectionTimeoutS, MHD_OPTION_END);
  if (s->daemon_ == nullptr) {
    char addr[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof addr);
    *error = std::string("cannot serve HTTP on ") + addr + ":" + std::to_string(port) +
             (errno != 0 ? std::string(": ") + std::strerror(errno) : std::string());
    return nullptr;
  }
  return s;
}

HttpServer::~HttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

int HttpServer::fd() const {
  const MHD_DaemonInfo* i = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
  return i != nullptr ? i->epoll_fd : -1;
}

void HttpServer::run() { MHD_run(daemon_); }

int HttpServer::next_timeout_ms() const {
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (MHD_get_timeout(daemon_, &ms) != MHD_YES) return -1;
  return ms > 60000 ? 60000 : int(ms);
}

uint16_t HttpServer::port() const {
  const MHD_DaemonInfo* i = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  return i != nullptr ? i->port : 0;
}

}  // namespace msgw::metrics
