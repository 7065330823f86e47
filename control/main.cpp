// msgw-control: the B2BUA daemon. One epoll loop over the SIP stack's
// sockets, the management socket and a signalfd; the dataplane's event ring
// has no fd, so it is polled on the loop's short timeout.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "msgw/config/config.hpp"
#include "msgw/control/gateway.hpp"
#include "msgw/control/management.hpp"
#include "msgw/control/media.hpp"
#include "msgw/control/state_store.hpp"
#include "msgw/sip/stack.hpp"

namespace {

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --config FILE [--instance NAME]\n"
               "  --config FILE     the msgw TOML configuration (see config/examples)\n"
               "  --instance NAME   override [instance].name (dataplane segment /dev/shm/msgw-NAME)\n",
               argv0);
  return 2;
}

void make_parent(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_file, instance;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--config" || a == "-c") && i + 1 < argc) config_file = argv[++i];
    else if (a == "--instance" && i + 1 < argc) instance = argv[++i];
    else return usage(argv[0]);
  }
  if (config_file.empty()) return usage(argv[0]);
  auto loaded = msgw::config::load_file(config_file);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "msgw-control: %s\n", e.to_string().c_str());
    return 2;
  }
  msgw::config::Config cfg = *loaded.config;
  if (!instance.empty()) cfg.instance.name = instance;
  if (cfg.sip.listen.empty()) {
    std::fprintf(stderr, "msgw-control: %s: [sip] listen is empty: nothing to serve\n", config_file.c_str());
    return 2;
  }

  // SIGTERM/SIGINT end the loop cleanly; SIGPIPE must not kill us on a
  // management client that went away.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  try {
    make_parent(cfg.sip.state_db);
    make_parent(cfg.sip.management_socket);
    msgw::control::StateStore store(cfg.sip.state_db);
    msgw::control::DataplaneMedia media(cfg.instance.name);
    msgw::control::Gateway gw(cfg, media, &store);

    msgw::sip::StackConfig sc;
    sc.timers.t1 = std::chrono::milliseconds(cfg.sip.t1_ms);
    sc.user_agent = "msgw";
    msgw::sip::Stack stack(sc, &gw);
    gw.set_stack(&stack);
    for (const auto& hp : cfg.sip.listen) {
      for (auto proto : {msgw::sip::Proto::Udp, msgw::sip::Proto::Tcp}) {
        std::string err;
        if (!stack.listen(proto, hp.host, hp.port, &err)) {
          std::fprintf(stderr, "msgw-control: cannot listen on %s %s: %s\n", msgw::sip::proto_name(proto),
                       hp.to_string().c_str(), err.c_str());
          return 1;
        }
      }
    }
    gw.restore();
    if (gw.active_calls())
      std::fprintf(stderr, "msgw-control: %zu call(s) restored from %s\n", gw.active_calls(),
                   cfg.sip.state_db.c_str());

    int ep = epoll_create1(EPOLL_CLOEXEC);
    auto watch = [&](int fd) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    };
    msgw::control::ManagementServer mgmt(cfg.sip.management_socket,
                                         [&](const nlohmann::json& r) { return gw.manage(r); });
    mgmt.on_client_change = [&](int fd, bool added) {
      if (added) watch(fd);
      else epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    };
    watch(stack.fd());
    watch(mgmt.listen_fd());
    if (sfd >= 0) watch(sfd);
    std::fprintf(stderr, "msgw-control: instance '%s': SIP on", cfg.instance.name.c_str());
    for (const auto& hp : cfg.sip.listen) std::fprintf(stderr, " %s", hp.to_string().c_str());
    std::fprintf(stderr, " (UDP+TCP), management %s, dataplane %s\n", cfg.sip.management_socket.c_str(),
                 media.up() ? "attached" : "not attached yet");

    bool running = true;
    epoll_event evs[64];
    while (running) {
      int t = gw.next_timeout_ms();
      int st = stack.next_timeout_ms();
      if (st >= 0 && st < t) t = st;
      int n = epoll_wait(ep, evs, 64, t);
      if (n < 0 && errno != EINTR) {
        std::perror("msgw-control: epoll_wait");
        return 1;
      }
      for (int i = 0; i < n; ++i) {
        int fd = evs[i].data.fd;
        if (fd == sfd) {
          signalfd_siginfo si{};
          while (read(sfd, &si, sizeof si) == ssize_t(sizeof si)) running = false;
        } else if (fd == mgmt.listen_fd()) {
          mgmt.on_listen_ready();
        } else if (fd != stack.fd()) {
          mgmt.on_client_ready(fd);
        }
      }
      // Sockets first (non-blocking), then oSIP2 timers, then our own; what
      // they persist is committed once at the end of the pass.
      store.begin_batch();
      stack.process(0);
      gw.tick();
      std::string db_error;
      if (!store.end_batch(&db_error)) std::fprintf(stderr, "msgw-control: %s\n", db_error.c_str());
    }
    std::fprintf(stderr, "msgw-control: stopping; %zu live call(s) stay in %s for the next start\n",
                 gw.active_calls(), cfg.sip.state_db.c_str());
    close(ep);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "msgw-control: %s\n", e.what());
    return 1;
  }
  return 0;
}
