// Bulk (RFC 7644 §3.7): operations applied in order, each one atomic on its own, through the
// same dispatcher as single requests; bulkId references resolved from earlier creates.
#include "handlers.hpp"
#include "resource_json.hpp"
#include "schema.hpp"

#include <algorithm>
#include <map>

namespace idbridge::scim {
namespace {

using nlohmann::json;

constexpr std::string_view bulk_request_urn = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
constexpr std::string_view bulk_response_urn = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
constexpr std::string_view bulk_prefix = "bulkId:";

// Replaces "bulkId:<id>" strings (anywhere in the data, e.g. members[].value) with the id the
// earlier POST created. Returns the first reference that cannot be resolved.
std::optional<std::string> resolve_references(json& value,
                                              const std::map<std::string, std::string>& created) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.rfind(bulk_prefix, 0) == 0) {
      const auto it = created.find(text.substr(bulk_prefix.size()));
      if (it == created.end()) {
        return text;
      }
      value = it->second;
    }
    return std::nullopt;
  }
  if (value.is_array() || value.is_object()) {
    for (auto& element : value) {
      if (auto missing = resolve_references(element, created)) {
        return missing;
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> resolve_path(std::string& path,
                                        const std::map<std::string, std::string>& created) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos || path.compare(slash + 1, bulk_prefix.size(), bulk_prefix) != 0) {
    return std::nullopt;
  }
  const auto it = created.find(path.substr(slash + 1 + bulk_prefix.size()));
  if (it == created.end()) {
    return path.substr(slash + 1);
  }
  path = path.substr(0, slash + 1) + it->second;
  return std::nullopt;
}

std::optional<std::string> header_value(const Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (iequals(key, name)) {
      return value;
    }
  }
  return std::nullopt;
}

json operation_error(int status, std::string_view scim_type, const std::string& detail) {
  json body{{"schemas", json::array({error_urn})},
            {"status", std::to_string(status)},
            {"detail", detail}};
  if (!scim_type.empty()) {
    body["scimType"] = scim_type;
  }
  return body;
}

}  // namespace

Response run_bulk(const Request& request, const Limits& limits,
                  const std::function<Response(const Request&)>& run_one) {
  const auto fail = [](int status, std::string_view scim_type, const std::string& detail) {
    Response response;
    response.status = status;
    response.body = operation_error(status, scim_type, detail).dump();
    return response;
  };
  if (request.body.size() > limits.max_payload_bytes) {
    return fail(413, "",
                "the bulk request exceeds maxPayloadSize (" +
                    std::to_string(limits.max_payload_bytes) + " bytes)");
  }
  auto parsed = parse_json_body(request.body);
  if (!parsed) {
    return fail(400, "invalidSyntax", parsed.error().detail);
  }
  const json body = *std::move(parsed);
  if (!body.is_object()) {
    return fail(400, "invalidSyntax", "a BulkRequest must be a JSON object");
  }
  if (const json* schemas = find_member(body, "schemas");
      schemas == nullptr || !schemas->is_array() ||
      std::none_of(schemas->begin(), schemas->end(), [](const json& s) {
        return s.is_string() && iequals(s.get_ref<const std::string&>(), bulk_request_urn);
      })) {
    return fail(400, "invalidSyntax", "\"schemas\" must list " + std::string(bulk_request_urn));
  }
  const json* operations = find_member(body, "Operations");
  if (operations == nullptr || !operations->is_array()) {
    return fail(400, "invalidSyntax", "a BulkRequest needs an \"Operations\" array");
  }
  if (operations->size() > limits.bulk_max_operations) {
    return fail(413, "",
                "the bulk request has " + std::to_string(operations->size()) +
                    " operations; maxOperations is " + std::to_string(limits.bulk_max_operations));
  }
  std::optional<std::int64_t> fail_on_errors;
  if (const json* value = find_member(body, "failOnErrors");
      value != nullptr && !value->is_null()) {
    if (!value->is_number_integer() || value->get<std::int64_t>() < 1) {
      return fail(400, "invalidValue", "failOnErrors must be a positive integer");
    }
    fail_on_errors = value->get<std::int64_t>();
  }

  std::map<std::string, std::string> created;  // bulkId -> id
  std::int64_t errors = 0;
  json results = json::array();
  for (const auto& operation : *operations) {
    if (fail_on_errors && errors >= *fail_on_errors) {
      break;  // RFC 7644 §3.7.3: stop once failOnErrors errors have occurred
    }
    json result = json::object();
    const auto record_error = [&](int status, std::string_view scim_type,
                                  const std::string& detail) {
      result["status"] = std::to_string(status);
      result["response"] = operation_error(status, scim_type, detail);
      ++errors;
    };
    const json* method = operation.is_object() ? find_member(operation, "method") : nullptr;
    const json* path = operation.is_object() ? find_member(operation, "path") : nullptr;
    if (method == nullptr || !method->is_string() || path == nullptr || !path->is_string()) {
      record_error(400, "invalidSyntax", "each operation needs a \"method\" and a \"path\"");
      results.push_back(std::move(result));
      continue;
    }
    std::string verb = method->get<std::string>();
    std::transform(verb.begin(), verb.end(), verb.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    result["method"] = verb;
    std::optional<std::string> bulk_id;
    if (const json* id = find_member(operation, "bulkId"); id != nullptr && id->is_string()) {
      bulk_id = id->get<std::string>();
      result["bulkId"] = *bulk_id;
    }
    Request sub;
    sub.method = verb;
    sub.path = path->get<std::string>();
    sub.base_url = request.base_url;
    sub.content_type = request.content_type;
    const bool known_method =
        verb == "POST" || verb == "PUT" || verb == "PATCH" || verb == "DELETE";
    const bool collection = sub.path == "/Users" || sub.path == "/Groups";
    const bool resource = sub.path.rfind("/Users/", 0) == 0 || sub.path.rfind("/Groups/", 0) == 0;
    const bool too_deep = std::count(sub.path.begin(), sub.path.end(), '/') > 2;
    if (!known_method || (verb == "POST" ? !collection : !resource) || too_deep) {
      record_error(400, "invalidValue",
                   verb + " " + sub.path + " is not a bulk operation idbridge accepts");
      results.push_back(std::move(result));
      continue;
    }
    if (verb == "POST" && !bulk_id) {
      record_error(400, "invalidValue", "a POST in a bulk request needs a bulkId");
      results.push_back(std::move(result));
      continue;
    }
    if (auto missing = resolve_path(sub.path, created)) {
      record_error(409, "invalidValue", "unresolved reference " + *missing);
      results.push_back(std::move(result));
      continue;
    }
    if (const json* data = find_member(operation, "data"); data != nullptr) {
      json resolved = *data;
      if (auto missing = resolve_references(resolved, created)) {
        record_error(409, "invalidValue", "unresolved reference " + *missing);
        results.push_back(std::move(result));
        continue;
      }
      sub.body = resolved.dump();
    }
    if (const json* version = find_member(operation, "version");
        version != nullptr && version->is_string()) {
      sub.if_match = version->get<std::string>();
    }
    const Response response = run_one(sub);
    result["status"] = std::to_string(response.status);
    if (auto location = header_value(response, "Location")) {
      result["location"] = *location;
    } else if (response.status < 300 && verb != "DELETE") {
      result["location"] = request.base_url + sub.path;
    }
    if (auto etag = header_value(response, "ETag")) {
      result["version"] = *etag;
    }
    if (response.status >= 400) {
      ++errors;
      result["response"] = json::parse(response.body, nullptr, false);
    } else if (verb == "POST" && bulk_id) {
      const json created_body = json::parse(response.body, nullptr, false);
      if (created_body.is_object() && created_body.contains("id")) {
        created[*bulk_id] = created_body["id"].get<std::string>();
      }
    }
    results.push_back(std::move(result));
  }
  Response response;
  response.status = 200;
  response.body = json{{"schemas", json::array({bulk_response_urn})}, {"Operations", results}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
  return response;
}

}  // namespace idbridge::scim
