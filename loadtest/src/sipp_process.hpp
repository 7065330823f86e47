// SPDX-License-Identifier: GPL-3.0-or-later
// One SIPp process: started (optionally inside a network namespace) with its
// working directory, output in files there; its CPU time read from /proc.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace msgw::loadtest {

class SippProcess {
 public:
  SippProcess() = default;
  SippProcess(const SippProcess&) = delete;
  SippProcess& operator=(const SippProcess&) = delete;
  ~SippProcess();

  // argv[0] is the program; stdout and stderr go to `output_file`.
  bool start(const std::vector<std::string>& argv, const std::string& netns, const std::string& cwd,
             const std::string& output_file, std::string* error);
  bool running();
  // SIGUSR1 (SIPp stops, writing its final statistics), SIGKILL after grace_ms.
  void stop(int grace_ms = 3000);
  // Ends every call without waiting for its scenario: SIGUSR1 (no new calls),
  // 1.2 s for a statistics row, a second SIGUSR1 (SIPp aborts its calls,
  // sending BYE on the established ones). SIPp then lingers over the
  // aborted calls rather than exit: stop() it after a grace time.
  void abort_calls();
  // Waits for the process to exit by itself; false on timeout (still running).
  bool wait(int timeout_ms);
  int exit_status() const { return status_; }
  pid_t pid() const { return pid_; }
  // utime + stime in seconds (0 once reaped; sample before stop()).
  double cpu_seconds() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool reaped_ = true;
};

}  // namespace msgw::loadtest
