// PATCH (RFC 7644 §3.5.2) on the normalised JSON of a resource, with the forms Okta and Entra
// really send: capitalised ops, path-less replace with dotted and URN keys, value-path targets
// that create the element when none matches, and member removal by value array.
#include "filter_eval.hpp"
#include "handlers.hpp"
#include "idbridge/scim/filter.hpp"

#include <algorithm>

namespace idbridge::scim {
namespace {

using nlohmann::json;

enum class Op { add, replace, remove };

ScimResult<json> ok(json value) {
  return {boost::system::in_place_value, std::move(value)};
}

// Where an attribute lives: the resource root (core schema) or an extension object.
struct Target {
  const AttributeDef* def = nullptr;
  std::string container;  // "" for the root, else the extension URN
  std::string display;    // the path as the client wrote it, for messages
};

const std::vector<const SchemaDef*>& schemas_of(ResourceKind kind) {
  static const std::vector<const SchemaDef*> user{&user_schema(), &enterprise_user_schema(),
                                                  &tenant_user_schema()};
  static const std::vector<const SchemaDef*> group{&group_schema(), &tenant_group_schema()};
  return kind == ResourceKind::user ? user : group;
}

ScimResult<Target> resolve(const AttributePath& path, ResourceKind kind) {
  const auto& schemas = schemas_of(kind);
  const SchemaDef* schema = schemas.front();
  if (path.schema) {
    schema = nullptr;
    for (const SchemaDef* candidate : schemas) {
      if (iequals(candidate->id, *path.schema)) {
        schema = candidate;
      }
    }
    if (schema == nullptr) {
      return invalid_path("unknown schema \"" + *path.schema + "\"");
    }
  }
  const AttributeDef* def = find_attribute(schema->attributes, path.attribute);
  // `meta` is a common attribute of every resource (RFC 7643 §3.1), not in the schema table, and
  // readOnly: a PATCH naming it is a mutability error, not an unknown path.
  if (def == nullptr && schema == schemas.front() && iequals(path.attribute, "meta")) {
    return mutability("\"" + to_string(path) + "\" is read-only");
  }
  if (def == nullptr) {
    return invalid_path("\"" + to_string(path) + "\" is not an attribute of " +
                        std::string(schema->name));
  }
  if (def->mutability == Mutability::read_only) {
    return mutability("\"" + std::string(def->name) + "\" is read-only");
  }
  Target target;
  target.def = def;
  target.container = schema == schemas.front() ? "" : std::string(schema->id);
  target.display = to_string(path);
  return target;
}

json& container_of(json& resource, const Target& target) {
  if (target.container.empty()) {
    return resource;
  }
  json& extension = resource[target.container];
  if (!extension.is_object()) {
    extension = json::object();
  }
  return extension;
}

const AttributeDef* sub_def(const AttributeDef& def, std::string_view name) {
  return find_attribute(def.sub_attributes, name);
}

// Builds the element a value-path names when none exists yet: `emails[type eq "work"]` gives
// {"type":"work"}. nullopt when the filter is not a conjunction of equalities.
std::optional<json> element_from_filter(const Filter& filter) {
  if (const auto* comparison = std::get_if<Comparison>(&filter.node)) {
    if (comparison->op != CompareOp::eq || comparison->path.sub_attribute) {
      return std::nullopt;
    }
    json element = json::object();
    std::visit(
        [&](const auto& value) {
          using V = std::decay_t<decltype(value)>;
          if constexpr (!std::is_same_v<V, std::nullptr_t>) {
            element[comparison->path.attribute] = value;
          }
        },
        comparison->value);
    return element;
  }
  if (const auto* logical = std::get_if<Logical>(&filter.node);
      logical != nullptr && logical->op == LogicalOp::and_) {
    json element = json::object();
    for (const auto& operand : logical->operands) {
      auto part = element_from_filter(operand);
      if (!part) {
        return std::nullopt;
      }
      element.update(*part);
    }
    return element;
  }
  return std::nullopt;
}

bool same_element(const json& a, const json& b) {
  const json* va = find_member(a, "value");
  const json* vb = find_member(b, "value");
  if (va != nullptr && vb != nullptr) {
    return *va == *vb;
  }
  return a == b;
}

// Merges the sub-attributes of `value` into a complex single value (RFC 7644 §3.5.2.3).
void merge_complex(json& slot, const json& value) {
  if (!slot.is_object()) {
    slot = json::object();
  }
  for (const auto& [key, sub] : value.items()) {
    slot[key] = sub;
  }
}

ScimResult<json> normalise_sub(const json& value, const AttributeDef& def, std::string_view sub,
                               const std::string& display) {
  const AttributeDef* sdef = sub_def(def, sub);
  if (sdef == nullptr) {
    return invalid_path("\"" + display + "\" names no sub-attribute \"" + std::string(sub) + "\"");
  }
  if (sdef->mutability == Mutability::read_only) {
    return mutability("\"" + display + "\" is read-only");
  }
  return normalise_value(value, *sdef, display);
}

class Patcher {
 public:
  Patcher(json resource, ResourceKind kind, std::string id)
      : resource_(std::move(resource)), kind_(kind), id_(std::move(id)) {}

  ScimResult<void> apply(Op op, const std::optional<std::string>& path, const json* value) {
    if (!path) {
      return apply_without_path(op, value);
    }
    auto parsed = parse_path(*path);
    if (!parsed) {
      return invalid_path(parsed.error().message);
    }
    return apply_path(op, *parsed, value);
  }

  json take() { return std::move(resource_); }

 private:
  // add/replace with an object value and no path: each key is itself a path (Entra sends
  // dotted and URN keys: "name.givenName", "urn:...:enterprise:2.0:User:employeeNumber").
  ScimResult<void> apply_without_path(Op op, const json* value) {
    if (op == Op::remove) {
      return no_target("remove needs a path");
    }
    if (value == nullptr || !value->is_object()) {
      return invalid_value("an operation without a path needs an object value");
    }
    for (const auto& [key, item] : value->items()) {
      if (iequals(key, "schemas")) {
        continue;
      }
      // An extension URN key with an object value addresses the whole extension.
      const SchemaDef* extension = nullptr;
      for (const SchemaDef* schema : schemas_of(kind_)) {
        if (schema != schemas_of(kind_).front() && iequals(key, schema->id)) {
          extension = schema;
        }
      }
      if (extension != nullptr) {
        if (!item.is_object()) {
          return invalid_value("\"" + key + "\" must be an object");
        }
        for (const auto& [sub_key, sub_item] : item.items()) {
          auto result = apply(op, std::string(extension->id) + ":" + sub_key, &sub_item);
          if (!result) {
            return result;
          }
        }
        continue;
      }
      auto parsed = parse_path(key);
      if (!parsed) {
        return invalid_path(parsed.error().message);
      }
      // Okta's group rename sends {"id": <the group's id>, "displayName": ...}: the same id is
      // harmless, another one would be an attempt to change an immutable id.
      if (iequals(key, "id") && !id_.empty() &&
          !(item.is_string() && item.get_ref<const std::string&>() == id_)) {
        return mutability("\"id\" is read-only and cannot be changed");
      }
      // Unknown and readOnly attributes are ignored here as they are on POST and PUT.
      if (auto target = resolve(parsed->attribute, kind_); !target) {
        continue;
      }
      auto result = apply_path(op, *parsed, &item);
      if (!result) {
        return result;
      }
    }
    return {};
  }

  ScimResult<void> apply_path(Op op, const PatchPath& path, const json* value) {
    auto target = resolve(path.attribute, kind_);
    if (!target) {
      return target.error();
    }
    const AttributeDef& def = *target->def;
    json& container = container_of(resource_, *target);
    const std::string name(def.name);
    if (op != Op::remove && value == nullptr) {
      return invalid_value("\"" + target->display + "\" needs a value");
    }
    if (path.value_filter) {
      return apply_filtered(op, path, *target, container, value);
    }
    if (path.attribute.sub_attribute) {
      const std::string& sub = *path.attribute.sub_attribute;
      if (def.multi_valued) {
        return invalid_path("\"" + target->display +
                            "\": a sub-attribute of a multi-valued attribute needs a filter");
      }
      if (op == Op::remove) {
        if (json* slot = container.contains(name) ? &container[name] : nullptr;
            slot != nullptr && slot->is_object()) {
          for (auto it = slot->begin(); it != slot->end(); ++it) {
            if (iequals(it.key(), sub)) {
              slot->erase(it);
              break;
            }
          }
        }
        return {};
      }
      auto normalised = normalise_sub(*value, def, sub, target->display);
      if (!normalised) {
        return normalised.error();
      }
      json& slot = container[name];
      if (!slot.is_object()) {
        slot = json::object();
      }
      slot[std::string(sub_def(def, sub)->name)] = *normalised;
      return {};
    }
    if (op == Op::remove) {
      // Entra's legacy member removal: {"op":"Remove","path":"members","value":[{"value":id}]}.
      if (def.multi_valued && value != nullptr && !value->is_null()) {
        auto normalised = normalise_value(*value, def, target->display);
        if (!normalised) {
          return normalised.error();
        }
        if (container.contains(name) && container[name].is_array()) {
          json kept = json::array();
          for (const auto& element : container[name]) {
            const bool removed =
                std::any_of(normalised->begin(), normalised->end(),
                            [&](const json& gone) { return same_element(element, gone); });
            if (!removed) {
              kept.push_back(element);
            }
          }
          container[name] = std::move(kept);
        }
        return {};
      }
      if (def.required) {
        return mutability("\"" + target->display + "\" is required and cannot be removed");
      }
      container.erase(name);
      return {};
    }
    auto normalised = normalise_value(*value, def, target->display);
    if (!normalised) {
      return normalised.error();
    }
    // null is "no value" (RFC 7643 §2.5): replace clears, add adds nothing. The Microsoft
    // gallery validator removes a manager with {"op":"replace","path":"…:manager","value":null},
    // which merged into the complex value would otherwise leave the old manager in place.
    if (normalised->is_null()) {
      if (op == Op::replace) {
        container.erase(name);
      }
      return {};
    }
    if (def.multi_valued) {
      if (op == Op::replace || !container.contains(name) || !container[name].is_array()) {
        container[name] = json::array();
      }
      json& list = container[name];
      for (auto& element : *normalised) {
        const bool present = std::any_of(list.begin(), list.end(), [&](const json& existing) {
          return same_element(existing, element);
        });
        if (!present) {
          list.push_back(std::move(element));
        }
      }
      return {};
    }
    if (def.type == AttrType::complex) {
      merge_complex(container[name], *normalised);
      return {};
    }
    container[name] = *std::move(normalised);
    return {};
  }

  ScimResult<void> apply_filtered(Op op, const PatchPath& path, const Target& target,
                                  json& container, const json* value) {
    const AttributeDef& def = *target.def;
    const std::string name(def.name);
    if (!def.multi_valued || def.type != AttrType::complex) {
      return invalid_path("\"" + target.display + "\" is not a multi-valued complex attribute");
    }
    if (!container.contains(name) || !container[name].is_array()) {
      container[name] = json::array();
    }
    json& list = container[name];
    const AttributeRules& rules = default_attribute_rules();
    AttributePath attribute = path.attribute;
    attribute.sub_attribute.reset();
    std::vector<std::size_t> hits;
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (matches_value(*path.value_filter, list[i], attribute, rules)) {
        hits.push_back(i);
      }
    }
    if (op == Op::remove) {
      // Removing what is not there is a no-op, so retried deprovisioning stays idempotent.
      for (auto it = hits.rbegin(); it != hits.rend(); ++it) {
        if (path.sub_attribute) {
          json& element = list[*it];
          for (auto key = element.begin(); key != element.end(); ++key) {
            if (iequals(key.key(), *path.sub_attribute)) {
              element.erase(key);
              break;
            }
          }
        } else {
          list.erase(*it);
        }
      }
      return {};
    }
    json element_value;
    if (path.sub_attribute) {
      auto normalised = normalise_sub(*value, def, *path.sub_attribute, target.display);
      if (!normalised) {
        return normalised.error();
      }
      element_value = json{{std::string(sub_def(def, *path.sub_attribute)->name), *normalised}};
    } else {
      if (!value->is_object()) {
        return invalid_value("\"" + target.display + "\" needs an object value");
      }
      auto normalised = normalise_value(*value, def, target.display);
      if (!normalised) {
        return normalised.error();
      }
      element_value = normalised->empty() ? json::object() : (*normalised)[0];
    }
    if (hits.empty()) {
      // Entra expects add/replace on `emails[type eq "work"].value` to create the element.
      auto created = element_from_filter(*path.value_filter);
      if (!created) {
        return no_target("no value of \"" + target.display + "\" matches the filter");
      }
      auto normalised = normalise_value(*created, def, target.display);
      if (!normalised || normalised->empty()) {
        return no_target("no value of \"" + target.display + "\" matches the filter");
      }
      json element = (*normalised)[0];
      merge_complex(element, element_value);
      list.push_back(std::move(element));
      return {};
    }
    for (const std::size_t i : hits) {
      merge_complex(list[i], element_value);
    }
    return {};
  }

  json resource_;
  ResourceKind kind_;
  std::string id_;  // the resource's id, which a path-less value may repeat but not change
};

ScimResult<std::vector<json>> operations_of(const json& body) {
  if (!body.is_object()) {
    return invalid_syntax("a PATCH body must be a PatchOp JSON object");
  }
  if (const json* schemas = find_member(body, "schemas"); schemas != nullptr) {
    const bool has_patch_op =
        schemas->is_array() && std::any_of(schemas->begin(), schemas->end(), [](const json& s) {
          return s.is_string() && iequals(s.get_ref<const std::string&>(), patch_op_urn);
        });
    if (!has_patch_op) {
      return invalid_syntax("\"schemas\" must list " + std::string(patch_op_urn));
    }
  }
  const json* operations = find_member(body, "Operations");
  if (operations == nullptr || !operations->is_array() || operations->empty()) {
    return invalid_syntax("a PatchOp needs a non-empty \"Operations\" array");
  }
  return std::vector<json>(operations->begin(), operations->end());
}

struct ParsedOp {
  Op op = Op::add;
  std::optional<std::string> path;
  const json* value = nullptr;
};

ScimResult<ParsedOp> parse_op(const json& operation) {
  if (!operation.is_object()) {
    return invalid_syntax("each operation must be an object");
  }
  const json* op = find_member(operation, "op");
  if (op == nullptr || !op->is_string()) {
    return invalid_syntax("each operation needs an \"op\"");
  }
  ParsedOp parsed;
  // Entra sends "Add", "Replace", "Remove" unless its aadOptscim062020 flag is set.
  const auto& text = op->get_ref<const std::string&>();
  if (iequals(text, "add")) {
    parsed.op = Op::add;
  } else if (iequals(text, "replace")) {
    parsed.op = Op::replace;
  } else if (iequals(text, "remove")) {
    parsed.op = Op::remove;
  } else {
    return invalid_syntax("op \"" + text + "\" is not add, replace or remove");
  }
  if (const json* path = find_member(operation, "path"); path != nullptr && !path->is_null()) {
    if (!path->is_string()) {
      return invalid_path("\"path\" must be a string");
    }
    parsed.path = path->get<std::string>();
  }
  parsed.value = find_member(operation, "value");
  return parsed;
}

}  // namespace

ScimResult<json> apply_patch(const json& resource, const json& body, ResourceKind kind,
                             const std::string& id) {
  auto operations = operations_of(body);
  if (!operations) {
    return operations.error();
  }
  Patcher patcher(resource, kind, id);
  for (const auto& operation : *operations) {
    auto parsed = parse_op(operation);
    if (!parsed) {
      return parsed.error();
    }
    if (auto applied = patcher.apply(parsed->op, parsed->path, parsed->value); !applied) {
      return applied.error();
    }
  }
  return ok(patcher.take());
}

std::optional<ScimResult<MemberPatch>> member_only_patch(const json& body) {
  auto operations = operations_of(body);
  if (!operations) {
    return ScimResult<MemberPatch>(operations.error());
  }
  MemberPatch patch;
  // Operations apply in order (RFC 7644 §3.5.2): an add cancels an earlier remove of the same
  // member and a remove an earlier add, so the net sets are disjoint and their order no longer
  // matters when the service applies them.
  const auto add_member = [&patch](const std::string& id, std::optional<core::MemberType> type) {
    std::erase(patch.remove, id);
    const bool present = std::any_of(patch.add.begin(), patch.add.end(),
                                     [&](const auto& added) { return added.first == id; });
    if (!present) {
      patch.add.emplace_back(id, type);
    }
  };
  const auto remove_member = [&patch](const std::string& id) {
    std::erase_if(patch.add, [&](const auto& added) { return added.first == id; });
    if (std::find(patch.remove.begin(), patch.remove.end(), id) == patch.remove.end()) {
      patch.remove.push_back(id);
    }
  };
  for (const auto& operation : *operations) {
    auto parsed = parse_op(operation);
    if (!parsed) {
      return ScimResult<MemberPatch>(parsed.error());
    }
    if (!parsed->path) {
      return std::nullopt;
    }
    auto path = parse_path(*parsed->path);
    if (!path || !iequals(path->attribute.attribute, "members") || path->attribute.schema ||
        path->attribute.sub_attribute || path->sub_attribute) {
      return std::nullopt;
    }
    if (path->value_filter) {
      // members[value eq "id"] with remove: the RFC form of removing one member.
      const auto* comparison = std::get_if<Comparison>(&path->value_filter->node);
      const auto* id =
          comparison != nullptr ? std::get_if<std::string>(&comparison->value) : nullptr;
      if (parsed->op != Op::remove || id == nullptr || comparison->op != CompareOp::eq ||
          !iequals(comparison->path.attribute, "value")) {
        return std::nullopt;
      }
      remove_member(*id);
      continue;
    }
    if (parsed->op == Op::replace) {
      return std::nullopt;  // the whole set: needs the current members
    }
    if (parsed->value == nullptr || parsed->value->is_null()) {
      if (parsed->op == Op::remove) {
        return std::nullopt;  // remove all members
      }
      return ScimResult<MemberPatch>(invalid_value("add to members needs a value"));
    }
    auto normalised = normalise_value(
        *parsed->value, *find_attribute(group_schema().attributes, "members"), "members");
    if (!normalised) {
      return ScimResult<MemberPatch>(normalised.error());
    }
    for (const auto& member : *normalised) {
      const json* id = find_member(member, "value");
      if (id == nullptr || !id->is_string() || id->get_ref<const std::string&>().empty()) {
        return ScimResult<MemberPatch>(invalid_value("every member needs a \"value\""));
      }
      if (parsed->op == Op::remove) {
        remove_member(id->get<std::string>());
        continue;
      }
      std::optional<core::MemberType> type;
      if (const json* t = find_member(member, "type"); t != nullptr && t->is_string()) {
        if (iequals(t->get_ref<const std::string&>(), "User")) {
          type = core::MemberType::user;
        } else if (iequals(t->get_ref<const std::string&>(), "Group")) {
          type = core::MemberType::group;
        } else {
          return ScimResult<MemberPatch>(invalid_value("member type must be User or Group"));
        }
      }
      add_member(id->get<std::string>(), type);
    }
  }
  return ScimResult<MemberPatch>(std::move(patch));
}

}  // namespace idbridge::scim
