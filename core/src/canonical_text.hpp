// A minimal JSON writer for the canonical text of attribute values in change records. core may
// not depend on a JSON library, and these values only ever need writing, never parsing here.
#pragma once

#include <string>
#include <string_view>

namespace idbridge::core::detail {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view text);
  // Without this a string literal would pick the bool overload (a standard conversion wins over
  // string_view's constructor) and be written as true.
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(bool flag);
  // Writes `name: text` only when text is non-empty, so absent attributes stay absent.
  JsonWriter& field(std::string_view name, std::string_view text);
  JsonWriter& field(std::string_view name, const char* text) {
    return field(name, std::string_view(text));
  }
  JsonWriter& field(std::string_view name, bool flag);
  std::string take() { return std::move(out_); }
  // What was written since the last call, for output in pieces; the writer's place (nesting,
  // pending comma) is kept.
  std::string take_pending() {
    std::string piece = std::move(out_);
    out_.clear();
    return piece;
  }

 private:
  void separate();
  std::string out_;
  bool need_comma_ = false;
};

void append_json_string(std::string& out, std::string_view text);

}  // namespace idbridge::core::detail
