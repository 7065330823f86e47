// libFuzzer: arbitrary text as /sys/devices/system/cpu/isolated and nohz_full.
// The first byte picks the CPU asked about; the rest is split at the first
// 0 byte into the two files.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "msgw/dataplane/cpu_isolation.hpp"

using namespace msgw::dataplane;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const unsigned cpu = data[0];
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t cut = rest.find('\0');
  const std::string a = rest.substr(0, cut);
  const std::string b = cut == std::string::npos ? std::string() : rest.substr(cut + 1);
  if (const auto list = parse_cpu_list(a)) {
    for (size_t i = 0; i < list->size(); ++i) {
      if ((*list)[i] > kMaxCpu || (i > 0 && (*list)[i - 1] >= (*list)[i])) std::abort();
    }
  }
  const std::string line = describe_worker_cpu(1, cpu, a, b);
  if (line.rfind("worker lcore 1 (cpu ", 0) != 0) std::abort();
  return 0;
}
