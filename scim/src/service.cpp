// The SCIM request dispatcher and the User, Group, search and discovery handlers.
#include "idbridge/scim/service.hpp"

#include "discovery.hpp"
#include "handlers.hpp"
#include "query.hpp"
#include "resource_json.hpp"
#include "schema.hpp"
#include "scim_error.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <map>

namespace idbridge::scim {
namespace {

using nlohmann::json;

Response json_response(int status, const json& body,
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
  Response response;
  response.status = status;
  // Invalid UTF-8 from a client never reaches here unreplaced: replace rather than throw.
  response.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  response.headers = std::move(headers);
  return response;
}

Response to_response(const ScimError& error) {
  return error_response(error.status, error.scim_type, error.detail);
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start < path.size()) {
    const auto end = std::min(path.find('/', start), path.size());
    if (end > start) {
      segments.emplace_back(path.substr(start, end - start));
    }
    start = end + 1;
  }
  return segments;
}

// W/"12" or "12" -> 12; "*" -> nullopt (any version); anything else -> -1 (matches nothing).
std::optional<core::ResourceVersion> parse_if_match(const std::optional<std::string>& header) {
  if (!header) {
    return std::nullopt;
  }
  std::string_view text = *header;
  while (!text.empty() && text.front() == ' ') {
    text.remove_prefix(1);
  }
  if (text == "*") {
    return std::nullopt;
  }
  if (text.rfind("W/", 0) == 0) {
    text.remove_prefix(2);
  }
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);
  }
  core::ResourceVersion version = -1;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc{} || ptr != text.data() + text.size()) {
    return -1;
  }
  return version;
}

bool none_match(const std::optional<std::string>& header, core::ResourceVersion version) {
  if (!header) {
    return false;
  }
  if (*header == "*") {
    return true;
  }
  return parse_if_match(header) == version;
}

ScimResult<json> parse_body(const Request& request) {
  if (request.body.empty()) {
    return invalid_syntax("the request needs a JSON body");
  }
  return parse_json_body(request.body);
}

class Handler {
 public:
  Handler(core::IdentityService& identity, core::Store& store, const Limits& limits,
          const core::Principal& who, const core::TenantId& tenant, const Request& request,
          std::map<std::string, std::string> query)
      : identity_(identity),
        store_(store),
        limits_(limits),
        who_(who),
        tenant_(tenant),
        request_(request),
        query_(std::move(query)) {}

  Response dispatch() {
    const auto segments = split_path(request_.path);
    const std::string& method = request_.method;
    if (segments.empty()) {
      return to_response(not_found("no resource at the service root"));
    }
    const std::string& first = segments[0];
    // Refuse another tenant's credential before any handler parses the body or looks up ids:
    // otherwise a lookup (a group PATCH resolving member ids) answers first and says what the
    // other tenant holds.
    if (first == "Users" || first == "Groups" || first == "Bulk" || first == ".search") {
      if (auto denied = check_read()) {
        return *denied;
      }
    }
    if (segments.size() == 1 && first == "ServiceProviderConfig") {
      return get_only(json_response(200, service_provider_config(limits_, request_.base_url)));
    }
    const bool discovery =
        first == "ResourceTypes" || first == "Schemas" || first == "ServiceProviderConfig";
    if (discovery && !query_value(query_, "filter").empty()) {
      // RFC 7644 §4: discovery endpoints do not filter; 403 says so rather than ignoring it.
      return error_response(403, "", "filtering is not supported on " + first);
    }
    if (first == "ResourceTypes" || first == "Schemas") {
      if (method != "GET") {
        return method_not_allowed("GET");
      }
      const bool types = first == "ResourceTypes";
      if (segments.size() == 1) {
        return json_response(
            200, types ? resource_types(request_.base_url) : schemas(request_.base_url));
      }
      if (segments.size() == 2) {
        const json doc = types ? resource_type(segments[1], request_.base_url)
                               : schema(segments[1], request_.base_url);
        if (doc.is_null()) {
          return to_response(not_found(first + " " + segments[1] + " not found"));
        }
        return json_response(200, doc);
      }
    }
    if (segments.size() == 1 && first == "Me") {
      // RFC 7644 §3.11: bearer tokens here identify provisioning clients, not users.
      return error_response(501, "", "/Me is not supported: credentials are not users");
    }
    if (segments.size() == 1 && first == "Bulk") {
      if (method != "POST") {
        return method_not_allowed("POST");
      }
      return run_bulk(request_, limits_, [this](const Request& operation) {
        Handler handler(identity_, store_, limits_, who_, tenant_, operation, {});
        return handler.dispatch();
      });
    }
    if (segments.size() == 1 && first == ".search") {
      if (method != "POST") {
        return method_not_allowed("POST");
      }
      return search_all();
    }
    if (first == "Users" || first == "Groups") {
      const bool users = first == "Users";
      if (segments.size() == 1) {
        if (method == "GET") {
          return users ? list_users(query_) : list_groups(query_);
        }
        if (method == "POST") {
          return users ? create_user() : create_group();
        }
        return method_not_allowed("GET, POST");
      }
      if (segments.size() == 2 && segments[1] == ".search") {
        if (method != "POST") {
          return method_not_allowed("POST");
        }
        auto params = search_params();
        if (!params) {
          return to_response(params.error());
        }
        return users ? list_users(*params) : list_groups(*params);
      }
      if (segments.size() == 2) {
        const std::string& id = segments[1];
        if (method == "GET") {
          return users ? get_user(id) : get_group(id);
        }
        if (method == "PUT") {
          return users ? replace_user(id) : replace_group(id);
        }
        if (method == "PATCH") {
          return users ? patch_user(id) : patch_group(id);
        }
        if (method == "DELETE") {
          return users ? delete_user(id) : delete_group(id);
        }
        return method_not_allowed("GET, PUT, PATCH, DELETE");
      }
    }
    return to_response(not_found("no SCIM endpoint at " + request_.path));
  }

 private:
  Response get_only(Response response) {
    if (request_.method != "GET") {
      return method_not_allowed("GET");
    }
    return response;
  }

  Response method_not_allowed(std::string allow) {
    Response response = error_response(405, "", request_.method + " is not allowed here");
    response.headers.emplace_back("Allow", std::move(allow));
    return response;
  }

  std::string query_value(const std::map<std::string, std::string>& params,
                          std::string_view key) const {
    for (const auto& [k, v] : params) {
      if (iequals(k, key)) {
        return v;
      }
    }
    return {};
  }

  // SearchRequest body (RFC 7644 §3.4.3) as if it were query parameters.
  ScimResult<std::map<std::string, std::string>> search_params() {
    auto body = parse_body(request_);
    if (!body) {
      return body.error();
    }
    if (!body->is_object()) {
      return invalid_syntax("a SearchRequest must be a JSON object");
    }
    std::map<std::string, std::string> params;
    for (const auto& [key, value] : body->items()) {
      if (value.is_string()) {
        params[key] = value.get<std::string>();
      } else if (value.is_number_integer()) {
        params[key] = std::to_string(value.get<std::int64_t>());
      } else if (value.is_array()) {
        std::string joined;
        for (const auto& item : value) {
          if (!item.is_string()) {
            return invalid_value("\"" + key + "\" must list attribute names");
          }
          joined += (joined.empty() ? "" : ",") + item.get<std::string>();
        }
        params[key] = joined;
      } else if (!iequals(key, "schemas")) {
        return invalid_value("\"" + key + "\" has a value of the wrong type");
      }
    }
    return params;
  }

  struct Paging {
    std::int64_t start_index = 1;
    std::int64_t count = 100;
  };

  ScimResult<Paging> paging(const std::map<std::string, std::string>& params) {
    Paging paging;
    paging.count = static_cast<std::int64_t>(limits_.default_count);
    const auto parse = [](const std::string& text, std::int64_t& out) {
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
      return ec == std::errc{} && ptr == text.data() + text.size();
    };
    if (const auto text = query_value(params, "startIndex"); !text.empty()) {
      if (!parse(text, paging.start_index)) {
        return invalid_value("startIndex must be an integer");
      }
      paging.start_index = std::max<std::int64_t>(paging.start_index, 1);  // RFC 7644 §3.4.2.4
    }
    if (const auto text = query_value(params, "count"); !text.empty()) {
      if (!parse(text, paging.count)) {
        return invalid_value("count must be an integer");
      }
      paging.count =
          std::clamp<std::int64_t>(paging.count, 0, static_cast<std::int64_t>(limits_.max_results));
    }
    return paging;
  }

  ScimResult<ListQuery> list_query(const std::map<std::string, std::string>& params,
                                   const Paging& page) {
    ListQuery query;
    query.filter = query_value(params, "filter");
    query.sort_by = query_value(params, "sortBy");
    const std::string order = query_value(params, "sortOrder");
    if (!order.empty() && !iequals(order, "ascending") && !iequals(order, "descending")) {
      return invalid_value("sortOrder must be \"ascending\" or \"descending\"");
    }
    query.descending = iequals(order, "descending");
    query.offset = page.start_index - 1;
    query.count = page.count;
    return query;
  }

  void apply_projection(json& resource, const std::map<std::string, std::string>& params) {
    project(resource, split_attribute_list(query_value(params, "attributes")),
            split_attribute_list(query_value(params, "excludedAttributes")));
  }

  bool wants_members(const std::map<std::string, std::string>& params) {
    for (const auto& name : split_attribute_list(query_value(params, "excludedAttributes"))) {
      if (iequals(name, "members") || iequals(name, std::string(group_schema_urn) + ":members")) {
        return false;
      }
    }
    const auto attributes = split_attribute_list(query_value(params, "attributes"));
    if (attributes.empty()) {
      return true;
    }
    return std::any_of(attributes.begin(), attributes.end(), [](const std::string& name) {
      return iequals(name.substr(0, 7), "members") ||
             iequals(name, std::string(group_schema_urn) + ":members");
    });
  }

  std::vector<GroupRef> groups_of(core::StoreReader& reader, const core::User& user) {
    auto names = reader.group_names_of_user(tenant_, user.id);
    std::vector<GroupRef> refs;
    refs.reserve(names.size());
    for (auto& group : names) {
      refs.push_back({std::move(group.id).release(), std::move(group.display_name)});
    }
    return refs;
  }

  json user_json(core::StoreReader& reader, const core::User& user) {
    return user_to_json(user, request_.base_url, groups_of(reader, user));
  }

  // Whether `attributes` or `excludedAttributes` asks for a projection (which needs the DOM).
  bool projects(const std::map<std::string, std::string>& params) const {
    return !split_attribute_list(query_value(params, "attributes")).empty() ||
           !split_attribute_list(query_value(params, "excludedAttributes")).empty();
  }

  // The user as text appended to `out` without the DOM when nothing is projected (the hot read
  // path); false (`out` then holds a partial text) when the DOM must answer instead.
  bool append_user_text(std::string& out, core::StoreReader& reader, const core::User& user,
                        const std::map<std::string, std::string>& params) {
    if (projects(params)) {
      return false;
    }
    return append_user_json_text(out, user, request_.base_url, groups_of(reader, user));
  }

  // A single user resource: resource_response(status, user_json(...)) with the same bytes.
  Response user_response(int status, core::StoreReader& reader, const core::User& user,
                         bool with_location) {
    Response response;
    if (!append_user_text(response.body, reader, user, query_)) {
      return resource_response(status, user_json(reader, user), user.version, with_location);
    }
    response.status = status;
    response.headers.reserve(with_location ? 2 : 1);
    response.headers.emplace_back("ETag", etag(user.version));
    if (with_location) {
      response.headers.emplace_back("Location", request_.base_url + "/Users/" + user.id.str());
    }
    return response;
  }

  std::vector<core::MemberRef> members_of(core::StoreReader& reader, const core::Group& group) {
    std::vector<core::MemberRef> members;
    core::PageRequest page{0, 5000};
    while (true) {
      core::Page<core::MemberRef> chunk;
      if (group.system) {
        const auto users = reader.list_users(tenant_, page);
        chunk.total = users.total;
        for (const auto& user : users.items) {
          chunk.items.push_back({core::MemberType::user, user.id.str()});
        }
      } else {
        chunk = reader.list_members(tenant_, group.id, page);
      }
      members.insert(members.end(), chunk.items.begin(), chunk.items.end());
      if (chunk.items.empty() || static_cast<std::int64_t>(members.size()) >= chunk.total) {
        return members;
      }
      page.offset += static_cast<std::int64_t>(chunk.items.size());
    }
  }

  json group_json(core::StoreReader& reader, const core::Group& group, bool with_members) {
    if (!with_members) {
      return group_to_json(group, request_.base_url, nullptr);
    }
    const auto members = members_of(reader, group);
    return group_to_json(group, request_.base_url, &members);
  }

  // A single resource, projected by the request's attributes/excludedAttributes (RFC 7644
  // §3.9 applies them to POST, PUT and PATCH responses as well as to GET).
  Response resource_response(int status, json resource, core::ResourceVersion version,
                             bool with_location) {
    apply_projection(resource, query_);
    std::vector<std::pair<std::string, std::string>> headers{{"ETag", etag(version)}};
    if (with_location) {
      headers.emplace_back("Location", resource["meta"]["location"].get<std::string>());
    }
    return json_response(status, resource, std::move(headers));
  }

  json list_response(json resources, std::int64_t total, std::int64_t start_index) {
    const auto items = static_cast<std::int64_t>(resources.size());
    return json{{"schemas", json::array({list_response_urn})},
                {"totalResults", total},
                {"startIndex", start_index},
                {"itemsPerPage", items},
                {"Resources", std::move(resources)}};
  }

  // ---- Users ----

  // GET /Users and GET /Groups (and their .search): filter, sort and page in one snapshot.
  // `append_text` may append an item as text to a string (false: use `render` and the DOM for
  // the whole list).
  template <class Select, class Render, class AppendText>
  Response list_resources(const std::map<std::string, std::string>& params, Select select,
                          Render render, AppendText append_text) {
    if (auto e = check_read()) {
      return *e;
    }
    auto page = paging(params);
    if (!page) {
      return to_response(page.error());
    }
    auto query = list_query(params, *page);
    if (!query) {
      return to_response(query.error());
    }
    auto reader = store_.read();
    auto selection = select(*reader, tenant_, *query);
    if (!selection) {
      return to_response(selection.error());
    }
    {
      Response response;
      std::string& text = response.body;
      begin_list_response_text(text);
      bool as_text = true;
      for (std::size_t i = 0; i < selection->items.size() && as_text; ++i) {
        if (i != 0) {
          text += ',';
        }
        as_text = append_text(text, *reader, selection->items[i]);
      }
      if (as_text) {
        end_list_response_text(text, selection->items.size(), selection->total, page->start_index);
        response.status = 200;
        return response;
      }
    }
    json resources = json::array();
    for (const auto& item : selection->items) {
      json resource = render(*reader, item);
      apply_projection(resource, params);
      resources.push_back(std::move(resource));
    }
    return json_response(200,
                         list_response(std::move(resources), selection->total, page->start_index));
  }

  Response list_users(const std::map<std::string, std::string>& params) {
    return list_resources(
        params, select_users,
        [this](core::StoreReader& reader, const core::User& user) {
          return user_json(reader, user);
        },
        [this, &params](std::string& out, core::StoreReader& reader, const core::User& user) {
          return append_user_text(out, reader, user, params);
        });
  }

  // One read transaction for the user and its groups (the hot read path: a second snapshot
  // would cost a BEGIN/ROLLBACK pair and could disagree with the first).
  Response get_user(const std::string& id) {
    if (auto e = check_read()) {
      return *e;
    }
    auto reader = store_.read();
    auto user = reader->find_user(tenant_, core::UserId(id));
    if (!user) {
      return to_response(not_found("not_found: user " + id + " not found"));
    }
    if (none_match(request_.if_none_match, user->version)) {
      return not_modified(user->version);
    }
    return user_response(200, *reader, *user, false);
  }

  // `asserts_tenant_attributes` tells whether the body carried the idbridge tenant extension.
  ScimResult<core::UserWrite> user_write_from_body(bool* asserts_tenant_attributes = nullptr) {
    auto body = parse_body(request_);
    if (!body) {
      return body.error();
    }
    auto normalised = normalise_resource(*body, ResourceKind::user);
    if (!normalised) {
      return normalised.error();
    }
    if (asserts_tenant_attributes != nullptr) {
      *asserts_tenant_attributes = normalised->contains(tenant_user_urn);
    }
    return user_from_json(*normalised);
  }

  Response create_user() {
    auto write = user_write_from_body();
    if (!write) {
      return to_response(write.error());
    }
    auto created = identity_.create_user(who_, tenant_, *std::move(write));
    if (!created) {
      return to_response(from_core(created.error()));
    }
    auto reader = store_.read();
    return user_response(201, *reader, *created, true);
  }

  Response replace_user(const std::string& id) {
    bool asserts_tenant_attributes = false;
    auto write = user_write_from_body(&asserts_tenant_attributes);
    if (!write) {
      return to_response(write.error());
    }
    // Okta and Entra PUT the core and enterprise attributes they know; they never send the
    // idbridge tenant extension. A PUT without it does not assert those attributes (RFC 7644
    // §3.5.1), so role, profiles, extensions, MFA and mustChangePassword keep their values
    // instead of falling back to defaults (which would demote an administrator).
    auto replaced = identity_.modify_user(
        who_, tenant_, core::UserId(id),
        [&](const core::User& current) -> std::optional<core::UserWrite> {
          core::UserWrite result = *write;
          if (!asserts_tenant_attributes) {
            result.user.role = current.role;
            result.user.profiles = current.profiles;
            result.user.extensions = current.extensions;
            result.user.mfa = current.mfa;
            result.user.must_change_password = current.must_change_password;
          }
          return result;
        },
        parse_if_match(request_.if_match));
    if (!replaced) {
      return to_response(from_core(replaced.error()));
    }
    auto reader = store_.read();
    return user_response(200, *reader, *replaced, false);
  }

  Response patch_user(const std::string& id) {
    auto body = parse_body(request_);
    if (!body) {
      return to_response(body.error());
    }
    // The patch is applied inside the service's write transaction to the stored state, so a
    // concurrent writer can neither be overwritten nor make this PATCH fail; If-Match still
    // pins a version (412 when stale).
    const auto patch = [&](const core::User& current) -> ScimResult<core::UserWrite> {
      auto normalised =
          normalise_resource(user_to_json(current, request_.base_url, {}), ResourceKind::user);
      if (!normalised) {
        return normalised.error();
      }
      auto patched = apply_patch(*normalised, *body, ResourceKind::user, current.id.str());
      if (!patched) {
        return patched.error();
      }
      return user_from_json(*patched);
    };
    // The JSON work is done first on a snapshot, outside the write slot that serialises every
    // write. A patch is a function of the stored user alone, and every stored change bumps the
    // version, so inside the transaction the result is reused when the version is unchanged
    // and recomputed otherwise.
    std::optional<core::ResourceVersion> snapshot_version;
    std::optional<core::UserWrite> snapshot_write;
    if (auto snapshot = store_.read()->find_user(tenant_, core::UserId(id))) {
      if (auto write = patch(*snapshot)) {
        snapshot_version = snapshot->version;
        snapshot_write = *std::move(write);
      }
    }
    std::optional<ScimError> refused;
    auto patched_user = identity_.modify_user(
        who_, tenant_, core::UserId(id),
        [&](const core::User& current) -> std::optional<core::UserWrite> {
          if (snapshot_write && snapshot_version == current.version) {
            return *snapshot_write;  // a copy: the service may call this again on a retry
          }
          auto write = patch(current);
          if (!write) {
            refused = write.error();
            return std::nullopt;
          }
          return *std::move(write);
        },
        parse_if_match(request_.if_match));
    if (refused) {
      return to_response(*refused);
    }
    if (!patched_user) {
      return to_response(from_core(patched_user.error()));
    }
    auto reader = store_.read();
    return user_response(200, *reader, *patched_user, false);
  }

  Response delete_user(const std::string& id) {
    auto deleted =
        identity_.delete_user(who_, tenant_, core::UserId(id), parse_if_match(request_.if_match));
    if (!deleted) {
      return to_response(from_core(deleted.error()));
    }
    Response response;
    response.status = 204;
    return response;
  }

  // ---- Groups ----

  Response list_groups(const std::map<std::string, std::string>& params) {
    const bool with_members = wants_members(params);
    return list_resources(
        params, select_groups,
        [this, with_members](core::StoreReader& reader, const core::Group& group) {
          return group_json(reader, group, with_members);
        },
        [](std::string&, core::StoreReader&, const core::Group&) { return false; });
  }

  Response get_group(const std::string& id) {
    if (auto e = check_read()) {
      return *e;
    }
    auto reader = store_.read();
    auto group = reader->find_group(tenant_, core::GroupId(id));
    if (!group) {
      return to_response(not_found("not_found: group " + id + " not found"));
    }
    if (none_match(request_.if_none_match, group->version)) {
      return not_modified(group->version);
    }
    return resource_response(200, group_json(*reader, *group, wants_members(query_)),
                             group->version, false);
  }

  static Response not_modified(core::ResourceVersion version) {
    Response response;
    response.status = 304;
    response.headers.emplace_back("ETag", etag(version));
    return response;
  }

  // Members without a type are looked up: a user id first, then a group id.
  ScimResult<std::vector<core::MemberRef>> resolve_members(
      const std::vector<std::pair<std::string, std::optional<core::MemberType>>>& given) {
    std::vector<core::MemberRef> members;
    auto reader = store_.read();
    for (const auto& [id, type] : given) {
      if (type) {
        members.push_back({*type, id});
      } else if (reader->find_user(tenant_, core::UserId(id))) {
        members.push_back({core::MemberType::user, id});
      } else if (reader->find_group(tenant_, core::GroupId(id))) {
        members.push_back({core::MemberType::group, id});
      } else {
        return invalid_value("member_unknown: member " + id +
                             " is not a user or group of this tenant");
      }
    }
    return members;
  }

  ScimResult<core::GroupWrite> group_write_from_body(const core::Group* existing) {
    auto body = parse_body(request_);
    if (!body) {
      return body.error();
    }
    auto normalised = normalise_resource(*body, ResourceKind::group);
    if (!normalised) {
      return normalised.error();
    }
    auto input = group_from_json(*normalised);
    if (!input) {
      return input.error();
    }
    auto members = resolve_members(input->members);
    if (!members) {
      return members.error();
    }
    core::GroupWrite write;
    write.display_name = input->display_name;
    write.external_id = input->external_id;
    write.kind =
        input->kind.value_or(existing != nullptr ? existing->kind : core::GroupKind::access);
    write.members = *std::move(members);
    return write;
  }

  Response create_group() {
    auto write = group_write_from_body(nullptr);
    if (!write) {
      return to_response(write.error());
    }
    auto created = identity_.create_group(who_, tenant_, *std::move(write));
    if (!created) {
      return to_response(from_core(created.error()));
    }
    auto reader = store_.read();
    return resource_response(201, group_json(*reader, *created, true), created->version, true);
  }

  Response replace_group(const std::string& id) {
    auto existing = identity_.get_group(who_, tenant_, core::GroupId(id));
    if (!existing) {
      return to_response(from_core(existing.error()));
    }
    auto write = group_write_from_body(&*existing);
    if (!write) {
      return to_response(write.error());
    }
    auto replaced = identity_.replace_group(who_, tenant_, core::GroupId(id), *std::move(write),
                                            parse_if_match(request_.if_match));
    if (!replaced) {
      return to_response(from_core(replaced.error()));
    }
    auto reader = store_.read();
    return resource_response(200, group_json(*reader, *replaced, true), replaced->version, false);
  }

  Response patch_group(const std::string& id) {
    auto body = parse_body(request_);
    if (!body) {
      return to_response(body.error());
    }
    const auto if_match = parse_if_match(request_.if_match);
    if (auto members_only = member_only_patch(*body)) {
      if (!*members_only) {
        return to_response(members_only->error());
      }
      auto add = resolve_members((*members_only)->add);
      if (!add) {
        return to_response(add.error());
      }
      core::MembershipChange change;
      change.add = *std::move(add);
      for (const auto& member_id : (*members_only)->remove) {
        // Removal needs no lookup: try both kinds; removing an absent member is a no-op.
        change.remove.push_back({core::MemberType::user, member_id});
        change.remove.push_back({core::MemberType::group, member_id});
      }
      auto changed = identity_.change_members(who_, tenant_, core::GroupId(id), change, if_match);
      if (!changed) {
        return to_response(from_core(changed.error()));
      }
      return patched_group_response(*changed);
    }
    std::optional<ScimError> refused;
    auto patched_group = identity_.modify_group(
        who_, tenant_, core::GroupId(id),
        [&](const core::Group& current,
            const std::vector<core::MemberRef>& members) -> std::optional<core::GroupWrite> {
          auto normalised = normalise_resource(group_to_json(current, request_.base_url, &members),
                                               ResourceKind::group);
          if (!normalised) {
            refused = normalised.error();
            return std::nullopt;
          }
          auto patched = apply_patch(*normalised, *body, ResourceKind::group, current.id.str());
          if (!patched) {
            refused = patched.error();
            return std::nullopt;
          }
          auto input = group_from_json(*patched);
          if (!input) {
            refused = input.error();
            return std::nullopt;
          }
          auto resolved = resolve_members(input->members);
          if (!resolved) {
            refused = resolved.error();
            return std::nullopt;
          }
          return core::GroupWrite{input->display_name, input->external_id,
                                  input->kind.value_or(current.kind), *std::move(resolved)};
        },
        if_match);
    if (refused) {
      return to_response(*refused);
    }
    if (!patched_group) {
      return to_response(from_core(patched_group.error()));
    }
    return patched_group_response(*patched_group);
  }

  // Entra recommends 204 for group PATCH; the resource is returned only when asked for with
  // `attributes`, which keeps a 10,000-member group from being serialised on every change.
  Response patched_group_response(const core::Group& group) {
    if (query_value(query_, "attributes").empty()) {
      Response response;
      response.status = 204;
      response.headers.emplace_back("ETag", etag(group.version));
      return response;
    }
    auto reader = store_.read();
    json resource = group_json(*reader, group, wants_members(query_));
    apply_projection(resource, query_);
    return resource_response(200, resource, group.version, false);
  }

  Response delete_group(const std::string& id) {
    auto deleted =
        identity_.delete_group(who_, tenant_, core::GroupId(id), parse_if_match(request_.if_match));
    if (!deleted) {
      return to_response(from_core(deleted.error()));
    }
    Response response;
    response.status = 204;
    return response;
  }

  // POST /.search: users then groups, filtered by the same expression.
  Response search_all() {
    if (auto e = check_read()) {
      return *e;
    }
    auto params = search_params();
    if (!params) {
      return to_response(params.error());
    }
    auto page = paging(*params);
    if (!page) {
      return to_response(page.error());
    }
    auto query = list_query(*params, *page);
    if (!query) {
      return to_response(query.error());
    }
    auto reader = store_.read();
    // The result is the concatenation [users..., groups...]; each part is paged on its own.
    auto users = select_users(*reader, tenant_, *query);
    if (!users) {
      return to_response(users.error());
    }
    ListQuery group_query = *query;
    group_query.offset = std::max<std::int64_t>(0, query->offset - users->total);
    group_query.count = query->count - static_cast<std::int64_t>(users->items.size());
    auto groups = select_groups(*reader, tenant_, group_query);
    if (!groups) {
      return to_response(groups.error());
    }
    const std::int64_t total = users->total + groups->total;
    json resources = json::array();
    for (const auto& user : users->items) {
      json resource = user_json(*reader, user);
      apply_projection(resource, *params);
      resources.push_back(std::move(resource));
    }
    for (const auto& group : groups->items) {
      json resource = group_json(*reader, group, wants_members(*params));
      apply_projection(resource, *params);
      resources.push_back(std::move(resource));
    }
    return json_response(200, list_response(std::move(resources), total, page->start_index));
  }

  std::optional<Response> check_read() {
    // Scope before existence, as in core: a scoped credential cannot tell other tenants apart
    // from tenants that do not exist.
    if (!who_.may_access(tenant_)) {
      return to_response(from_core(core::make_error(
          core::ErrorCode::forbidden, "this credential may not act on tenant " + tenant_.str())));
    }
    if (identity_.tenant(tenant_) == nullptr) {
      return to_response(from_core(
          core::make_error(core::ErrorCode::not_found, "tenant " + tenant_.str() + " not found")));
    }
    return std::nullopt;
  }

  core::IdentityService& identity_;
  core::Store& store_;
  const Limits& limits_;
  const core::Principal& who_;
  const core::TenantId& tenant_;
  const Request& request_;
  std::map<std::string, std::string> query_;
};

}  // namespace

Service::Service(core::IdentityService& identity, core::Store& store, Limits limits)
    : identity_(identity), store_(store), limits_(limits) {}

Response Service::handle(const core::Principal& who, const core::TenantId& tenant,
                         const Request& request) {
  if (request.body.size() > limits_.max_payload_bytes) {
    return error_response(
        413, "",
        "the request body exceeds " + std::to_string(limits_.max_payload_bytes) + " bytes");
  }
  auto query = parse_query(request.query);
  if (!query) {
    return error_response(400, "invalidSyntax", "the query string is not valid percent-encoding");
  }
  Handler handler(identity_, store_, limits_, who, tenant, request, *std::move(query));
  return handler.dispatch();
}

namespace {

// `userName eq "value"` exactly, with no escapes in the value: what select_users answers with
// one probe of the unique userName index. Anything else (and/or, other operators) is not claimed.
bool is_user_name_equality(std::string_view filter) {
  const auto skip_spaces = [&filter] {
    const auto first = filter.find_first_not_of(' ');
    filter.remove_prefix(first == std::string_view::npos ? filter.size() : first);
  };
  const auto take_word = [&filter, &skip_spaces](std::string_view word) {
    skip_spaces();
    if (filter.size() <= word.size() || !iequals(filter.substr(0, word.size()), word) ||
        filter[word.size()] != ' ') {
      return false;
    }
    filter.remove_prefix(word.size());
    return true;
  };
  if (!take_word("userName") || !take_word("eq")) {
    return false;
  }
  skip_spaces();
  while (!filter.empty() && filter.back() == ' ') {
    filter.remove_suffix(1);
  }
  if (filter.size() < 2 || filter.front() != '"' || filter.back() != '"') {
    return false;
  }
  const auto value = filter.substr(1, filter.size() - 2);
  return value.find_first_of("\"\\") == std::string_view::npos;
}

}  // namespace

bool is_indexed_user_read(std::string_view method, std::string_view path, std::string_view query) {
  if (method != "GET") {
    return false;
  }
  const auto segments = split_path(path);
  if (segments.empty() || segments[0] != "Users" || segments.size() > 2) {
    return false;
  }
  if (segments.size() == 2) {
    return segments[1] != ".search";
  }
  const auto params = parse_query(query);
  if (!params) {
    return false;
  }
  bool user_name_filter = false;
  for (const auto& [key, value] : *params) {
    if (iequals(key, "filter")) {
      user_name_filter = is_user_name_equality(value);
    } else if (!iequals(key, "attributes") && !iequals(key, "excludedAttributes") &&
               !iequals(key, "startIndex") && !iequals(key, "count")) {
      return false;  // sortBy and anything unknown: not claimed
    }
  }
  return user_name_filter;
}

Response error_response(int status, std::string_view scim_type, std::string_view detail) {
  json body{{"schemas", json::array({error_urn})},
            {"status", std::to_string(status)},
            {"detail", detail}};
  if (!scim_type.empty()) {
    body["scimType"] = scim_type;
  }
  return json_response(status, body);
}

}  // namespace idbridge::scim
