// Structured logging: one JSON object per line ({"ts","level","msg",...fields}) on stderr.
// Log text is for operators; it never carries secrets, tokens or request bodies.
#pragma once

#include "idbridge/config/config.hpp"

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace idbridge::daemon {

// One key/value of a log line. Integers of every width become JSON numbers.
struct LogField {
  using Value = std::variant<std::string, std::int64_t, std::uint64_t, double, bool>;

  LogField(std::string_view k, std::string_view v) : key(k), value(std::string(v)) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string(v)) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool>) LogField(std::string_view k, I v)
      : key(k) {
    if constexpr (std::is_signed_v<I>) {
      value = static_cast<std::int64_t>(v);
    } else {
      value = static_cast<std::uint64_t>(v);
    }
  }

  std::string key;
  Value value;
};

using LogLevel = config::LogLevel;

std::string_view to_string(LogLevel level);

// Thread-safe; each line is written and flushed whole, so lines from several threads never mix.
class Logger {
 public:
  // `out` must outlive the logger; std::cerr by default.
  explicit Logger(LogLevel min_level = LogLevel::info, std::ostream* out = nullptr);

  bool enabled(LogLevel level) const { return level >= min_level_; }
  void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});

  void debug(std::string_view msg, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::debug, msg, fields);
  }
  void info(std::string_view msg, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::info, msg, fields);
  }
  void warning(std::string_view msg, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::warning, msg, fields);
  }
  void error(std::string_view msg, std::initializer_list<LogField> fields = {}) {
    log(LogLevel::error, msg, fields);
  }

 private:
  LogLevel min_level_;
  std::ostream* out_;
  std::mutex mutex_;
};

}  // namespace idbridge::daemon
