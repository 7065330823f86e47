// SPDX-License-Identifier: GPL-3.0-or-later
// Edits one table of a TOML file in place, by line, so every comment and
// every other table stays as the operator wrote it. Where tables and keys
// are comes from the loader (config::LoadResult::positions): a table runs
// from its header to the line before the next header, less trailing blank
// and comment lines (they introduce the next one); a key's lines run to the
// next key's line (a multi-line array included).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "msgw/config/config.hpp"

namespace msgw::mgmt {

// TOML literals for the values msgwctl writes.
std::string toml_string(std::string_view s);
std::string toml_string_list(const std::vector<std::string>& items);

class TomlText {
 public:
  TomlText(const std::string& text, const config::KeyPositions& where);

  // In table `table` ("subscriber[2]"): sets key = value (a TOML literal),
  // replacing its lines or adding a line after the table's last key.
  void set(const std::string& table, const std::string& key, const std::string& value);
  void erase_key(const std::string& table, const std::string& key);
  void erase_table(const std::string& table);
  // A new table at the end of the file ("[[subscriber]]\nuser = ...\n").
  void append(const std::string& block);
  std::string text() const;

 private:
  struct Span {
    size_t first = 0, last = 0;  // 0-based line indexes, inclusive
  };
  Span table_span(const std::string& table) const;
  Span key_span(const std::string& table, const std::string& key, bool* found) const;
  void shift_after(size_t line, long by);

  std::vector<std::string> lines_;
  config::KeyPositions where_;  // line numbers kept current across edits
};

}  // namespace msgw::mgmt
