// SPDX-License-Identifier: GPL-3.0-or-later
// The SIPp scenarios the tool runs, written as text into its work directory:
// the phone (UAC: INVITE, digest after a 401/407, 200, ACK, hold, BYE), the
// carrier (UAS: 100, 200 with SDP, BYE; optionally a 503 to every Nth INVITE),
// the phone's end of a call refused with 503 (logged "lt reject", counted failed),
// registration and re-registration, and the loopback target of --self-test.
// Response-time measurements ("rtd") name what the report shows: setup
// (RFC 6076 SRD: the first INVITE to its 200), disconnect (SDD: BYE to its
// 200), register / reregister (REGISTER to its 200).
#pragma once

#include <cstdint>
#include <string>

namespace msgw::loadtest {

struct SdpCodec {
  std::uint8_t payload_type = 0;
  std::string name = "PCMU";  // rtpmap encoding name
  std::string fmtp;           // a=fmtp value, empty for none
};

struct CallScenarioParams {
  SdpCodec codec;
  std::string user = "spa1";          // digest user and From user
  std::string password;               // empty: no challenge expected
  std::string media_ip;               // c= of our SDP
  std::uint16_t media_port = 0;       // m= of our SDP (one socket for every call)
  std::uint32_t hold_ms = 1000;
  bool hold_from_command_line = false;  // UAC: hold for SIPp's -d (set per run) instead of hold_ms
  bool media_events = false;          // log "lt start/stop" lines for the media engine
  std::uint32_t reject_every = 0;     // UAS: 503 to every Nth INVITE (1..100 dividing 100); 0 = never
};

std::string uac_call_scenario(const CallScenarioParams& p);
std::string uas_call_scenario(const CallScenarioParams& p);
// The loopback target of --self-test: challenges with 407, answers, takes the BYE.
std::string self_target_scenario(const CallScenarioParams& p);

struct RegisterScenarioParams {
  std::string user = "spa1";
  std::string password;
  std::uint32_t expires_s = 3600;
  bool reregister = false;  // register (untimed), then the timed re-REGISTER
};
std::string register_scenario(const RegisterScenarioParams& p);

// The regular expression (on the decimal call number) that selects every Nth
// call; empty when N does not divide 100 (SIPp has no modulo action).
std::string every_nth_regex(std::uint32_t n);

}  // namespace msgw::loadtest
