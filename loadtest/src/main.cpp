// SPDX-License-Identifier: GPL-3.0-or-later
// msgw-loadtest: SIP load tests (RFC 7501/7502 establishment and registration
// rates) against any SIP target, playing both the phones and the carrier, and
// a DPDK packet-rate test of a dataplane alone. See loadtest/README.md.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "options.hpp"
#include "media_dpdk.hpp"
#include "packet_rate.hpp"
#include "report.hpp"
#include "runner.hpp"

int main(int argc, char** argv) {
  using namespace msgw::loadtest;
  std::string error;
  bool help = false;
  auto options = parse_options(argc, argv, &error, &help);
  if (!options) {
    (help ? std::cout : std::cerr) << error << (help ? "" : "\n");
    return help ? 0 : 2;
  }
  signal(SIGPIPE, SIG_IGN);
  RunResult result = run_test(*options);
  const std::string json = json_report(result);
  if (!options->json_file.empty()) std::ofstream(options->json_file) << json << "\n";
  if (!options->html_file.empty()) std::ofstream(options->html_file) << html_report(result);
  if (!result.error.empty()) std::cerr << "msgw-loadtest: " << result.error << "\n";
  std::cout << json << std::endl;
  const int status = result.error.empty() ? 0 : 1;
  if (options->test == TestKind::packet_rate) packet_rate_after_report(*options, status);
  if (options->media_dpdk) dpdk_media_after_report(options->linger_s, status);
  return status;
}
