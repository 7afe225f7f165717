// User resources written straight to JSON text for the read path. The member order below is the
// order nlohmann's std::map keeps (byte-wise sorted keys), so the text equals the DOM's dump;
// tests/scim/service_test.cpp compares the two for users with every field, escapes and
// non-ASCII text.
#include "resource_json.hpp"

#include "idbridge/core/json_text.hpp"

#include <array>
#include <string_view>

namespace idbridge::scim {
namespace {

// Compact JSON output: commas between members and elements, strings escaped as nlohmann's
// dump(-1, ' ', false) escapes them.
class TextWriter {
 public:
  explicit TextWriter(std::string& out) : out_(out) {}

  bool valid() const { return valid_; }

  void begin_object() {
    separate();
    out_ += '{';
    first_ = true;
  }
  void end_object() {
    out_ += '}';
    first_ = false;
  }
  void begin_array() {
    separate();
    out_ += '[';
    first_ = true;
  }
  void end_array() {
    out_ += ']';
    first_ = false;
  }
  // `name` is an attribute name or schema URN of this file, which never needs escaping; quoting
  // it was a third of the writer's time.
  void key(std::string_view name) {
    separate();
    out_ += '"';
    out_ += name;
    out_ += "\":";
    first_ = true;  // the value that follows takes no comma
  }
  void value(std::string_view text) {
    separate();
    quote(text);
  }
  void boolean(bool flag) {
    separate();
    out_ += flag ? "true" : "false";
  }
  void strings(const std::vector<std::string>& list) {
    begin_array();
    for (const auto& item : list) {
      value(std::string_view(item));
    }
    end_array();
  }

  void member(std::string_view name, std::string_view text) {
    key(name);
    value(text);
  }
  // Named apart from member(): a string literal would convert to bool before string_view.
  void flag(std::string_view name, bool on) {
    key(name);
    boolean(on);
  }
  // resource_json's put(): only a non-empty string is written.
  void put(std::string_view name, const std::string& text) {
    if (!text.empty()) {
      member(name, std::string_view(text));
    }
  }

 private:
  void separate() {
    if (!first_) {
      out_ += ',';
    }
    first_ = false;
  }

  void quote(std::string_view text) {
    if (!core::append_json_string_literal(out_, text)) {
      valid_ = false;
    }
  }

  std::string& out_;
  bool first_ = true;
  bool valid_ = true;
};

// contacts_to_json: {"primary", "type" when set, "value"}.
void write_contacts(TextWriter& w, const std::vector<core::ContactValue>& values) {
  w.begin_array();
  for (const auto& v : values) {
    w.begin_object();
    w.flag("primary", v.primary);
    w.put("type", v.type);
    w.member("value", std::string_view(v.value));
    w.end_object();
  }
  w.end_array();
}

bool has_name(const core::PersonName& name) {
  return !name.formatted.empty() || !name.family_name.empty() || !name.given_name.empty() ||
         !name.middle_name.empty() || !name.honorific_prefix.empty() ||
         !name.honorific_suffix.empty();
}

bool has_enterprise(const core::EnterpriseInfo& e) {
  return !e.employee_number.empty() || !e.cost_center.empty() || !e.organization.empty() ||
         !e.division.empty() || !e.department.empty() || e.manager.has_value();
}

}  // namespace

std::optional<std::string> user_to_json_text(const core::User& user, const std::string& base_url,
                                             const std::vector<GroupRef>& groups) {
  std::string out;
  out.reserve(1536 + 160 * groups.size());
  TextWriter w(out);
  const std::string id = user.id.str();
  w.begin_object();
  w.flag("active", user.active);
  if (!user.addresses.empty()) {
    w.key("addresses");
    w.begin_array();
    for (const auto& a : user.addresses) {
      w.begin_object();
      w.put("country", a.country);
      w.put("formatted", a.formatted);
      w.put("locality", a.locality);
      w.put("postalCode", a.postal_code);
      w.flag("primary", a.primary);
      w.put("region", a.region);
      w.put("streetAddress", a.street_address);
      w.put("type", a.type);
      w.end_object();
    }
    w.end_array();
  }
  w.put("displayName", user.display_name);
  if (!user.emails.empty()) {
    w.key("emails");
    write_contacts(w, user.emails);
  }
  if (user.external_id) {
    w.member("externalId", std::string_view(*user.external_id));
  }
  w.key("groups");
  w.begin_array();
  for (const auto& g : groups) {
    w.begin_object();
    w.member("$ref", base_url + "/Groups/" + g.id);
    w.member("display", std::string_view(g.display));
    w.member("type", "direct");
    w.member("value", std::string_view(g.id));
    w.end_object();
  }
  w.end_array();
  w.member("id", std::string_view(id));
  w.put("locale", user.locale);
  w.key("meta");
  w.begin_object();
  w.member("created", format_timestamp(user.created));
  w.member("lastModified", format_timestamp(user.last_modified));
  w.member("location", base_url + "/Users/" + id);
  w.member("resourceType", "User");
  w.member("version", etag(user.version));
  w.end_object();
  if (has_name(user.name)) {
    w.key("name");
    w.begin_object();
    w.put("familyName", user.name.family_name);
    w.put("formatted", user.name.formatted);
    w.put("givenName", user.name.given_name);
    w.put("honorificPrefix", user.name.honorific_prefix);
    w.put("honorificSuffix", user.name.honorific_suffix);
    w.put("middleName", user.name.middle_name);
    w.end_object();
  }
  w.put("nickName", user.nick_name);
  if (!user.phone_numbers.empty()) {
    w.key("phoneNumbers");
    write_contacts(w, user.phone_numbers);
  }
  w.put("preferredLanguage", user.preferred_language);
  w.put("profileUrl", user.profile_url);
  const bool enterprise = has_enterprise(user.enterprise);
  w.key("schemas");
  w.begin_array();
  w.value(user_schema_urn);
  if (enterprise) {
    w.value(enterprise_user_urn);
  }
  w.value(tenant_user_urn);
  w.end_array();
  w.put("timezone", user.timezone);
  w.put("title", user.title);
  w.key(tenant_user_urn);
  w.begin_object();
  w.key("extensions");
  w.begin_array();
  for (const auto& e : user.extensions) {
    w.begin_object();
    w.member("e911Location", std::string_view(e.e911_location));
    w.member("number", std::string_view(e.number));
    w.flag("primary", e.primary);
    w.end_object();
  }
  w.end_array();
  w.key("mfa");
  w.begin_object();
  w.key("emailAddresses");
  w.strings(user.mfa.email_addresses);
  w.member("method", core::to_string(user.mfa.method));
  w.key("smsNumbers");
  w.strings(user.mfa.sms_numbers);
  w.end_object();
  w.flag("mustChangePassword", user.must_change_password);
  w.key("profiles");
  w.strings(user.profiles);
  w.member("role", core::to_string(user.role));
  w.end_object();
  if (enterprise) {
    const auto& e = user.enterprise;
    w.key(enterprise_user_urn);
    w.begin_object();
    w.put("costCenter", e.cost_center);
    w.put("department", e.department);
    w.put("division", e.division);
    w.put("employeeNumber", e.employee_number);
    if (e.manager) {
      w.key("manager");
      w.begin_object();
      w.member("$ref", base_url + "/Users/" + e.manager->str());
      w.member("value", std::string_view(e.manager->str()));
      w.end_object();
    }
    w.put("organization", e.organization);
    w.end_object();
  }
  w.member("userName", std::string_view(user.user_name));
  w.put("userType", user.user_type);
  w.end_object();
  if (!w.valid()) {
    return std::nullopt;
  }
  return out;
}

std::string list_response_text(const std::vector<std::string>& resources, std::int64_t total,
                               std::int64_t start_index) {
  std::size_t size = 160;
  for (const auto& resource : resources) {
    size += resource.size() + 1;
  }
  std::string out;
  out.reserve(size);
  out += "{\"Resources\":[";
  for (std::size_t i = 0; i < resources.size(); ++i) {
    if (i != 0) {
      out += ',';
    }
    out += resources[i];
  }
  out += "],\"itemsPerPage\":";
  out += std::to_string(resources.size());
  out += ",\"schemas\":[\"";
  out += list_response_urn;
  out += "\"],\"startIndex\":";
  out += std::to_string(start_index);
  out += ",\"totalResults\":";
  out += std::to_string(total);
  out += '}';
  return out;
}

}  // namespace idbridge::scim
