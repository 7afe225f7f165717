// Reading typed values out of toml++ tables while collecting every problem: the error sink
// (Diagnostics) and a per-table reader that remembers which keys the schema asked for, so that
// everything else can be reported as an unknown key.
#pragma once

#include "idbridge/config/config.hpp"

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace idbridge::config::detail {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  SourceLocation location(const toml::source_region& region) const;
  void add(const toml::source_region& where, std::string key_path, std::string message);
  void add(const SourceLocation& where, std::string key_path, std::string message);
  bool empty() const { return errors_.empty(); }
  // The errors in file order (line, then column; unlocated ones last).
  std::vector<ConfigError> take();

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// "string", "integer", "table", ... as a reader of the config would name them.
std::string_view type_name(toml::node_type type);

// `parent.key`, quoting the key when it is not a bare TOML key.
std::string join_path(std::string_view parent, std::string_view key);

class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, Diagnostics& diagnostics);
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;

  const std::string& path() const { return path_; }
  std::string path_of(std::string_view key) const { return join_path(path_, key); }
  const toml::source_region& where() const { return table_.source(); }
  SourceLocation location() const { return diagnostics_.location(table_.source()); }
  Diagnostics& diagnostics() const { return diagnostics_; }

  // The node under `key`, or nullptr when absent. Every key asked for counts as known.
  const toml::node* get(std::string_view key);

  // Typed reads: nullopt / nullptr when absent or of the wrong type (the latter is reported).
  std::optional<std::string> string(std::string_view key);
  std::optional<bool> boolean(std::string_view key);
  // Also reports values outside [min, max].
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max);
  const toml::table* table(std::string_view key);
  // An array whose every element is a table (a `[[key]]` array); elements of another type are
  // reported and kept as nullptr, so indices match the file's.
  std::vector<const toml::table*> array_of_tables(std::string_view key);

  void report_missing(std::string_view key);
  void report_value(std::string_view key, std::string message);  // at the value's location
  void report_type(std::string_view key, const toml::node& node, std::string_view expected);

  // Reports every key that no get() asked for. Call once, after reading.
  void finish();

 private:
  const toml::table& table_;
  std::string path_;
  Diagnostics& diagnostics_;
  std::vector<std::string> known_;
};

}  // namespace idbridge::config::detail
