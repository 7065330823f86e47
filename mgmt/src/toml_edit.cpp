// SPDX-License-Identifier: GPL-3.0-or-later
#include "toml_edit.hpp"

#include <cstdio>
#include <sstream>

namespace msgw::mgmt {

namespace {

bool blank_or_comment(const std::string& line) {
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == '\r') continue;
    return c == '#';
  }
  return true;
}

// "subscriber[2]" or "sip": a table's own entry, not a key in it.
bool is_table_entry(const std::string& path) {
  const auto dot = path.find('.');
  if (dot != std::string::npos) return false;
  const auto open = path.find('[');
  return open == std::string::npos || path.find('[', open + 1) == std::string::npos;
}

}  // namespace

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string toml_string_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + toml_string(items[i]);
  return out + "]";
}

TomlText::TomlText(const std::string& text, const config::KeyPositions& where) : where_(where) {
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) lines_.push_back(line);
}

std::string TomlText::text() const {
  std::string out;
  for (const auto& l : lines_) out += l + "\n";
  return out;
}

TomlText::Span TomlText::table_span(const std::string& table) const {
  const auto it = where_.find(table);
  if (it == where_.end() || it->second.line == 0) return {1, 0};  // empty
  const size_t first = it->second.line - 1;
  size_t next = lines_.size();
  for (const auto& [path, pos] : where_)
    if (is_table_entry(path) && pos.line > 0 && pos.line - 1 > first && pos.line - 1 < next) next = pos.line - 1;
  size_t last = next - 1;
  while (last > first && blank_or_comment(lines_[last])) --last;
  return {first, last};
}

TomlText::Span TomlText::key_span(const std::string& table, const std::string& key, bool* found) const {
  const Span t = table_span(table);
  const auto it = where_.find(table + "." + key);
  *found = it != where_.end() && it->second.line > 0;
  if (!*found) return {t.last + 1, t.last};  // where a new key goes
  const size_t first = it->second.line - 1;
  size_t next = t.last + 1;
  const std::string prefix = table + ".";
  for (const auto& [path, pos] : where_)
    if (path.rfind(prefix, 0) == 0 && path.find('.', prefix.size()) == std::string::npos &&
        path.find('[', prefix.size()) == std::string::npos && pos.line > 0 && pos.line - 1 > first &&
        pos.line - 1 < next)
      next = pos.line - 1;
  size_t last = next - 1;
  while (last > first && blank_or_comment(lines_[last])) --last;
  return {first, last};
}

void TomlText::shift_after(size_t line, long by) {
  for (auto& [path, pos] : where_)
    if (pos.line > 0 && pos.line - 1 > line) pos.line = static_cast<uint32_t>(long(pos.line) + by);
}

void TomlText::set(const std::string& table, const std::string& key, const std::string& value) {
  bool found = false;
  const Span k = key_span(table, key, &found);
  const std::string line = key + " = " + value;
  if (found) {
    lines_.erase(lines_.begin() + long(k.first), lines_.begin() + long(k.last) + 1);
    lines_.insert(lines_.begin() + long(k.first), line);
    shift_after(k.first, 1 - long(k.last - k.first + 1));
    return;
  }
  lines_.insert(lines_.begin() + long(k.first), line);
  shift_after(k.first - 1, 1);
  where_[table + "." + key] = {static_cast<uint32_t>(k.first + 1), 1};
}

void TomlText::erase_key(const std::string& table, const std::string& key) {
  bool found = false;
  const Span k = key_span(table, key, &found);
  if (!found) return;
  lines_.erase(lines_.begin() + long(k.first), lines_.begin() + long(k.last) + 1);
  where_.erase(table + "." + key);
  shift_after(k.first, -long(k.last - k.first + 1));
}

void TomlText::erase_table(const std::string& table) {
  const Span t = table_span(table);
  if (t.last < t.first) return;
  lines_.erase(lines_.begin() + long(t.first), lines_.begin() + long(t.last) + 1);
  for (auto it = where_.begin(); it != where_.end();)
    it = it->first == table || it->first.rfind(table + ".", 0) == 0 ? where_.erase(it) : std::next(it);
  shift_after(t.first, -long(t.last - t.first + 1));
}

void TomlText::append(const std::string& block) {
  while (!lines_.empty() && lines_.back().empty()) lines_.pop_back();
  if (!lines_.empty()) lines_.push_back("");
  std::string line;
  std::istringstream in(block);
  while (std::getline(in, line)) lines_.push_back(line);
}

}  // namespace msgw::mgmt
