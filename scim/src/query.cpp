// Query decoding and attribute projection.
#include "query.hpp"

#include "schema.hpp"

#include <algorithm>

namespace idbridge::scim {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

struct SplitName {
  std::string urn;        // "" for the core schema
  std::string attribute;  // top-level attribute (or extension attribute)
  std::string sub;        // "" when the whole attribute is meant
};

// "urn:...:User:manager.value" -> {urn:...:User, manager, value}; "name.givenName" -> {"", name,
// givenName}. A bare extension URN names the whole extension object.
SplitName split_name(const std::string& name, const nlohmann::json& resource) {
  for (const auto& [key, value] : resource.items()) {
    if (key.rfind("urn:", 0) != 0 || !value.is_object()) {
      continue;
    }
    if (iequals(name, key)) {
      return {key, "", ""};
    }
    if (name.size() > key.size() + 1 && iequals(name.substr(0, key.size()), key) &&
        name[key.size()] == ':') {
      const std::string rest = name.substr(key.size() + 1);
      const auto dot = rest.find('.');
      return {key, rest.substr(0, dot), dot == std::string::npos ? "" : rest.substr(dot + 1)};
    }
  }
  std::string rest = name;
  if (iequals(rest.substr(0, std::min(rest.size(), user_schema_urn.size() + 1)),
              std::string(user_schema_urn) + ":")) {
    rest = rest.substr(user_schema_urn.size() + 1);
  } else if (iequals(rest.substr(0, std::min(rest.size(), group_schema_urn.size() + 1)),
                     std::string(group_schema_urn) + ":")) {
    rest = rest.substr(group_schema_urn.size() + 1);
  }
  const auto dot = rest.find('.');
  return {"", rest.substr(0, dot), dot == std::string::npos ? "" : rest.substr(dot + 1)};
}

nlohmann::json::iterator find_key(nlohmann::json& object, std::string_view name) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (iequals(it.key(), name)) {
      return it;
    }
  }
  return object.end();
}

void remove_sub(nlohmann::json& value, const std::string& sub) {
  if (value.is_object()) {
    if (auto it = find_key(value, sub); it != value.end()) {
      value.erase(it);
    }
  } else if (value.is_array()) {
    for (auto& element : value) {
      remove_sub(element, sub);
    }
  }
}

bool always_returned(const std::string& key) {
  return key == "id" || key == "schemas" || key == "meta";
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return std::nullopt;
      }
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) {
        return std::nullopt;
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start <= query.size()) {
    const auto end = std::min(query.find('&', start), query.size());
    const std::string_view pair = query.substr(start, end - start);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      auto key = percent_decode(pair.substr(0, eq), true);
      auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
      if (!key || !value) {
        return std::nullopt;
      }
      out[*key] = *value;
    }
    start = end + 1;
  }
  return out;
}

std::vector<std::string> split_attribute_list(std::string_view list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto end = std::min(list.find(',', start), list.size());
    std::string item(list.substr(start, end - start));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) {
      out.push_back(item);
    }
    start = end + 1;
  }
  return out;
}

void project(nlohmann::json& resource, const std::vector<std::string>& attributes,
             const std::vector<std::string>& excluded) {
  if (!resource.is_object()) {
    return;
  }
  if (!attributes.empty()) {
    nlohmann::json kept = nlohmann::json::object();
    for (const auto& [key, value] : resource.items()) {
      if (always_returned(key)) {
        kept[key] = value;
      }
    }
    for (const auto& name : attributes) {
      const SplitName split = split_name(name, resource);
      nlohmann::json* source = &resource;
      nlohmann::json* target = &kept;
      if (!split.urn.empty()) {
        source = &resource[split.urn];
        if (split.attribute.empty()) {
          kept[split.urn] = *source;
          continue;
        }
        target = &kept[split.urn];
      }
      auto it = find_key(*source, split.attribute);
      if (it == source->end()) {
        continue;
      }
      if (split.sub.empty() || !(it->is_object() || it->is_array())) {
        (*target)[it.key()] = *it;
        continue;
      }
      // Keep one sub-attribute: for objects a one-key object, for lists each element's.
      nlohmann::json& slot = (*target)[it.key()];
      if (it->is_object()) {
        if (auto sub = find_key(*it, split.sub); sub != it->end()) {
          slot[sub.key()] = *sub;
        }
      } else {
        // Element i of the kept list collects every requested sub-attribute of element i, so
        // `emails.value,emails.type` gives one object per email, not two.
        if (!slot.is_array() || slot.size() != it->size()) {
          slot = nlohmann::json::array();
          for (std::size_t i = 0; i < it->size(); ++i) {
            slot.push_back(nlohmann::json::object());
          }
        }
        std::size_t index = 0;
        for (auto& element : *it) {
          if (element.is_object()) {
            if (auto sub = find_key(element, split.sub); sub != element.end()) {
              slot[index][sub.key()] = *sub;
            }
          }
          ++index;
        }
      }
    }
    resource = std::move(kept);
  }
  for (const auto& name : excluded) {
    const SplitName split = split_name(name, resource);
    nlohmann::json* container = &resource;
    if (!split.urn.empty()) {
      if (split.attribute.empty()) {
        resource.erase(split.urn);
        continue;
      }
      container = &resource[split.urn];
    }
    auto it = find_key(*container, split.attribute);
    if (it == container->end() || always_returned(it.key())) {
      continue;
    }
    if (split.sub.empty()) {
      container->erase(it);
    } else {
      remove_sub(*it, split.sub);
    }
  }
}

}  // namespace idbridge::scim
