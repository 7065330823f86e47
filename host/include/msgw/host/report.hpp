// SPDX-License-Identifier: GPL-3.0-or-later
// What msgwctl prints for `host check` and `host prepare`: text for an
// operator, or one JSON object (--json).
#pragma once

#include <iosfwd>
#include <vector>

#include <nlohmann/json.hpp>

#include "msgw/host/check.hpp"
#include "msgw/host/prepare.hpp"

namespace msgw::host {

// {"ok":..,"summary":{"ok":N,"warn":N,"fail":N},"items":[{"check","subject","status","message","fix"}]}
nlohmann::json check_json(const std::vector<Item>& items);
// One line per item ("ok    hugepages  node0: ..."), a "fix:" line under each
// that is not ok, and a summary.
void print_check(const std::vector<Item>& items, std::ostream& out);

// {"ok":..,"dry_run":..,"actions":[{"subject","why","command","state","error"}],"refused":[{"subject","reason"}]}
nlohmann::json plan_json(const Plan& plan, bool dry_run);
// Dry run: a shell script (each action's why as a comment, then its
// command); otherwise each action with what happened. Refusals last.
void print_plan(const Plan& plan, bool dry_run, std::ostream& out);

}  // namespace msgw::host
