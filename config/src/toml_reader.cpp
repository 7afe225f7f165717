// Diagnostics and TableReader: typed access to toml++ tables with located error messages.
#include "toml_reader.hpp"

#include <algorithm>
#include <numeric>
#include <tuple>
#include <utility>

namespace idbridge::config::detail {
namespace {

bool is_bare_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

SourceLocation Diagnostics::location(const toml::source_region& region) const {
  return SourceLocation{file_, static_cast<int>(region.begin.line),
                        static_cast<int>(region.begin.column)};
}

void Diagnostics::add(const toml::source_region& where, std::string key_path, std::string message) {
  add(location(where), std::move(key_path), std::move(message));
}

void Diagnostics::add(const SourceLocation& where, std::string key_path, std::string message) {
  errors_.push_back(ConfigError{where.file.empty() ? file_ : where.file, where.line, where.column,
                                std::move(key_path), std::move(message)});
}

std::vector<ConfigError> Diagnostics::take() {
  // Unlocated errors (line 0) describe the whole file and go last.
  const auto order = [](const ConfigError& e) {
    return std::make_tuple(e.line == 0, e.line, e.column);
  };
  std::stable_sort(errors_.begin(), errors_.end(),
                   [&](const ConfigError& a, const ConfigError& b) { return order(a) < order(b); });
  return std::move(errors_);
}

std::string_view type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

std::string join_path(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) {
    out += '.';
  }
  if (is_bare_key(key)) {
    out += key;
    return out;
  }
  out += '"';
  for (const char c : key) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

TableReader::TableReader(const toml::table& table, std::string path, Diagnostics& diagnostics)
    : table_(table), path_(std::move(path)), diagnostics_(diagnostics) {}

const toml::node* TableReader::get(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
    known_.emplace_back(key);
  }
  return table_.get(key);
}

void TableReader::report_missing(std::string_view key) {
  diagnostics_.add(table_.source(), path_of(key), "required key is missing");
}

void TableReader::report_value(std::string_view key, std::string message) {
  const toml::node* node = table_.get(key);
  diagnostics_.add(node != nullptr ? node->source() : table_.source(), path_of(key),
                   std::move(message));
}

void TableReader::report_type(std::string_view key, const toml::node& node,
                              std::string_view expected) {
  // Names the types only: the value itself may be a secret written in the wrong place.
  diagnostics_.add(
      node.source(), path_of(key),
      "expected " + std::string(expected) + ", found " + std::string(type_name(node.type())));
}

std::optional<std::string> TableReader::string(std::string_view key) {
  const toml::node* node = get(key);
  if (node == nullptr) {
    return std::nullopt;
  }
  if (const auto* value = node->as_string()) {
    return value->get();
  }
  report_type(key, *node, "string");
  return std::nullopt;
}

std::optional<bool> TableReader::boolean(std::string_view key) {
  const toml::node* node = get(key);
  if (node == nullptr) {
    return std::nullopt;
  }
  if (const auto* value = node->as_boolean()) {
    return value->get();
  }
  report_type(key, *node, "boolean");
  return std::nullopt;
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, std::int64_t min,
                                                 std::int64_t max) {
  const toml::node* node = get(key);
  if (node == nullptr) {
    return std::nullopt;
  }
  const auto* value = node->as_integer();
  if (value == nullptr) {
    report_type(key, *node, "integer");
    return std::nullopt;
  }
  const std::int64_t number = value->get();
  if (number < min || number > max) {
    diagnostics_.add(node->source(), path_of(key),
                     "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                         ", found " + std::to_string(number));
    return std::nullopt;
  }
  return number;
}

const toml::table* TableReader::table(std::string_view key) {
  const toml::node* node = get(key);
  if (node == nullptr) {
    return nullptr;
  }
  if (const auto* value = node->as_table()) {
    return value;
  }
  report_type(key, *node, "table");
  return nullptr;
}

std::vector<const toml::table*> TableReader::array_of_tables(std::string_view key) {
  std::vector<const toml::table*> tables;
  const toml::node* node = get(key);
  if (node == nullptr) {
    return tables;
  }
  const auto* array = node->as_array();
  if (array == nullptr) {
    report_type(key, *node, "array of tables");
    return tables;
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    if (const auto* table = element.as_table()) {
      tables.push_back(table);
    } else {
      diagnostics_.add(element.source(), path_of(key) + "[" + std::to_string(i) + "]",
                       "expected table, found " + std::string(type_name(element.type())));
      tables.push_back(nullptr);
    }
  }
  return tables;
}

void TableReader::finish() {
  for (auto&& [key, node] : table_) {
    const std::string_view name = key.str();
    if (std::find(known_.begin(), known_.end(), name) != known_.end()) {
      continue;
    }
    std::string message = "unknown key";
    std::string_view closest;
    std::size_t best = 3;  // suggest only near misses: a typo or two, or a shortened key
    for (const auto& candidate : known_) {
      const bool shortened = name.size() >= 3 && std::string_view(candidate).starts_with(name);
      const std::size_t distance = shortened ? 1 : edit_distance(name, candidate);
      if (distance < best) {
        best = distance;
        closest = candidate;
      }
    }
    if (!closest.empty()) {
      message += "; did you mean \"" + std::string(closest) + "\"?";
    }
    diagnostics_.add(key.source(), path_of(name), std::move(message));
  }
}

}  // namespace idbridge::config::detail
