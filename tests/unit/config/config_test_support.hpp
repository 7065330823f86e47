// SPDX-License-Identifier: GPL-3.0-or-later
// What config_unit's tests share: loading a fragment of a file, the errors
// as text, and the check most of them make (the load failed and named each
// expected error).
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "msgw/config/config.hpp"

using msgw::config::load_string;

// Most tests load a part of a file: only what a deployment needs to start
// (ports, listen) is left out of their checks.
inline msgw::config::LoadResult load_fragment(std::string_view text, const std::string& name) {
  return load_string(text, name, msgw::config::Scope::fragment);
}

// Every error, one "file:line:column: key: message" line each.
inline std::string errors_of(const msgw::config::LoadResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += e.to_string() + "\n";
  return s;
}

// The load failed, and each of `wanted` is part of one of its error lines
// (each missing one reported with all the errors there are).
inline void expect_errors(const msgw::config::LoadResult& r, std::initializer_list<std::string_view> wanted) {
  EXPECT_FALSE(r.ok());
  const std::string all = errors_of(r);
  for (std::string_view want : wanted) EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
}
