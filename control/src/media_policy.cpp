// SPDX-License-Identifier: GPL-3.0-or-later
#include "msgw/control/media_policy.hpp"

#include <algorithm>

namespace msgw::control {

namespace {
bool contains(const std::vector<CodecId>& v, CodecId c) {
  return std::find(v.begin(), v.end(), c) != v.end();
}
}  // namespace

std::vector<CodecId> usable_offer(const std::vector<CodecId>& offered,
                                  const std::vector<CodecId>& subscriber_prefs) {
  std::vector<CodecId> out;
  for (CodecId c : subscriber_prefs)
    if (contains(offered, c)) out.push_back(c);
  return out;
}

std::vector<CodecId> trunk_offer(const std::vector<CodecId>& a_usable,
                                 const std::vector<CodecId>& trunk_prefs) {
  std::vector<CodecId> out;
  for (CodecId c : trunk_prefs)
    if (contains(a_usable, c)) out.push_back(c);
  for (CodecId c : trunk_prefs)
    if (!contains(a_usable, c)) out.push_back(c);
  return out;
}

std::optional<AnswerPlan> plan_answer(const std::vector<CodecId>& a_usable, CodecId b_codec) {
  if (a_usable.empty()) return std::nullopt;
  if (contains(a_usable, b_codec)) return AnswerPlan{b_codec, b_codec, false};
  return AnswerPlan{a_usable.front(), b_codec, true};
}

}  // namespace msgw::control
