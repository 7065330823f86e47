// SPDX-License-Identifier: GPL-3.0-or-later
// A call as JSON and as a record: the summary `msgwctl show calls` prints,
// the live state persisted for restart survival (and read back by restore),
// and the CDR fields known before the call ends.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "msgw/control/call.hpp"

namespace msgw::control {

nlohmann::json call_summary_json(const Call& c);
// The live state as JSON text (what StateStore::put_live keeps; restore_call
// reads it back parsed).
std::string live_state_text(const Call& c);

// An answered call from its live state; nullptr with *error set when the
// state cannot be read. The call is registered in services.index.
std::unique_ptr<Call> restore_call(CallServices& services, const std::string& id, const nlohmann::json& state,
                                   std::string* error);

// The CDR fields a call knows before it ends (id, URIs, trunk, times, codecs).
CallRecord call_record(const Call& c);

}  // namespace msgw::control
