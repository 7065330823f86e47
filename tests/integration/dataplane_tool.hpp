// SPDX-License-Identifier: GPL-3.0-or-later
// What the parts of dataplane_tool (the helper of the dataplane integration
// scripts; its verbs: dataplane_tool.cpp) share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dataplane_tool {

// Prints "dataplane_tool: m" on stderr; returns the failing exit code.
int fail(const std::string& m);

// ---- speech-like audio, G.711 and bcg729 references (dataplane_tool_audio.cpp)
std::vector<int16_t> speech(size_t samples, uint32_t seed);
std::vector<uint8_t> g729_encode(const std::vector<int16_t>& pcm);
std::vector<int16_t> g729_decode(const std::vector<uint8_t>& bits);
double best_correlation(const std::vector<int16_t>& got, const std::vector<int16_t>& ref, int max_lag,
                        int* best_lag);
int rig_media(const std::string& dir, int n);
int rig_check(const std::string& dir);

// ---- the deterministic net_pcap scenarios (dataplane_tool_pcap.cpp)
int pcap_gen(const char* in0, const char* in1);
int pcap_check(const char* out1);
int pcap_check_transcode(const char* in0, const char* in1, const char* out1, const char* out0);

}  // namespace dataplane_tool
