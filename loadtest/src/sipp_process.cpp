// SPDX-License-Identifier: GPL-3.0-or-later
#include "sipp_process.hpp"

#include "text_file.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace msgw::loadtest {

SippProcess::~SippProcess() { stop(500); }

bool SippProcess::start(const std::vector<std::string>& argv, const std::string& netns, const std::string& cwd,
                        const std::string& output_file, std::string* error) {
  int ns = -1;
  if (!netns.empty()) {
    ns = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      *error = "network namespace " + netns + ": " + std::strerror(errno);
      return false;
    }
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    if (ns >= 0) ::close(ns);
    return false;
  }
  if (pid == 0) {
    if (ns >= 0 && setns(ns, CLONE_NEWNET) != 0) _exit(126);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    int out = ::open(output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execvp(args[0], args.data());
    _exit(127);
  }
  if (ns >= 0) ::close(ns);
  pid_ = pid;
  reaped_ = false;
  status_ = -1;
  return true;
}

bool SippProcess::running() {
  if (reaped_) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

bool SippProcess::wait(int timeout_ms) {
  for (int waited = 0; running(); waited += 20) {
    if (waited >= timeout_ms) return false;
    timespec d{0, 20 * 1000000L};
    nanosleep(&d, nullptr);
  }
  return true;
}

void SippProcess::stop(int grace_ms) {
  if (!running()) return;
  kill(pid_, SIGUSR1);
  if (wait(grace_ms)) return;
  kill(pid_, SIGKILL);
  wait(2000);
}

void SippProcess::abort_calls() {
  if (!running()) return;
  kill(pid_, SIGUSR1);  // stop creating calls
  // SIPp does not write a last statistics row when it aborts: wait for one
  // periodic row (-fd 1) after the last call was created, so that the
  // count of calls created is complete.
  wait(1200);
  if (running()) kill(pid_, SIGUSR1);  // a second one: abort the calls in progress
}

double SippProcess::cpu_seconds() const {
  if (reaped_) return 0;
  const std::string all = read_text_file("/proc/" + std::to_string(pid_) + "/stat");
  auto close = all.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream in(all.substr(close + 2));
  std::string field;
  unsigned long ut = 0, st = 0;
  for (int i = 3; in >> field; ++i) {
    if (i == 14) ut = std::stoul(field);
    if (i == 15) {
      st = std::stoul(field);
      break;
    }
  }
  return static_cast<double>(ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace msgw::loadtest
