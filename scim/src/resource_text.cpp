// User resources written straight to JSON text for the read path. The member order below is the
// order nlohmann's std::map keeps (byte-wise sorted keys), so the text equals the DOM's dump;
// tests/scim/service_test.cpp compares the two for users with every field, escapes and
// non-ASCII text.
#include "resource_json.hpp"

#include "idbridge/core/json_text.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <iterator>
#include <string_view>

namespace idbridge::scim {
namespace {

// A member name as the writer appends it: quoted, with the colon (compile-time concatenation).
#define KEY(name) "\"" name "\":"

// Whether `text` is copied into a JSON string unchanged (printable ASCII, no quote or backslash).
bool is_plain_json_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
}

// Compact JSON output: commas between members and elements, strings escaped as nlohmann's
// dump(-1, ' ', false) escapes them. Appends to the caller's buffer.
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
  // `quoted` is a key as KEY() spells it, quotes and colon included: one append per key, where
  // three appends per key were a fifth of the writer's time.
  void key(std::string_view quoted) {
    separate();
    out_ += quoted;
    first_ = true;  // the value that follows takes no comma
  }
  // A key held in a constant (a schema URN), which never needs escaping.
  void key_of(std::string_view name) {
    separate();
    out_ += '"';
    out_ += name;
    out_ += "\":";
    first_ = true;
  }
  // A member whose value is a constant JSON text (`quoted` holds its quotes).
  void constant_member(std::string_view quoted_key, std::string_view quoted) {
    key(quoted_key);
    separate();
    out_ += quoted;
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

  void member(std::string_view quoted_key, std::string_view text) {
    key(quoted_key);
    value(text);
  }
  // Named apart from member(): a string literal would convert to bool before string_view.
  void flag(std::string_view quoted_key, bool on) {
    key(quoted_key);
    boolean(on);
  }
  // resource_json's put(): only a non-empty string is written.
  void put(std::string_view quoted_key, const std::string& text) {
    if (!text.empty()) {
      member(quoted_key, std::string_view(text));
    }
  }
  // A member whose value needs no escaping (a timestamp, a number): copied between quotes.
  template <class WriteText>
  void plain_member(std::string_view quoted_key, WriteText write_text) {
    key(quoted_key);
    separate();
    out_ += '"';
    write_text(out_);
    out_ += '"';
  }
  // A URL under the base URL: `base` + `path` + `id`, without building the string first when
  // `base` holds only characters that JSON leaves as they are (the usual case), because the
  // escape of a concatenation is then the concatenation of the escapes.
  void url_member(std::string_view quoted_key, const std::string& base, bool base_is_plain,
                  std::string_view path, const std::string& id) {
    key(quoted_key);
    separate();
    if (!base_is_plain) {
      std::string url;
      url.reserve(base.size() + path.size() + id.size());
      url.append(base).append(path).append(id);
      quote(url);
      return;
    }
    out_ += '"';
    out_ += base;
    out_ += path;
    if (!core::append_json_string_content(out_, id)) {
      valid_ = false;
    }
    out_ += '"';
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
    w.flag(KEY("primary"), v.primary);
    w.put(KEY("type"), v.type);
    w.member(KEY("value"), std::string_view(v.value));
    w.end_object();
  }
  w.end_array();
}

void append_decimal(std::string& out, std::int64_t value) {
  char digits[24];
  const auto end = std::to_chars(std::begin(digits), std::end(digits), value).ptr;
  out.append(digits, end);
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

bool append_user_json_text(std::string& out, const core::User& user, const std::string& base_url,
                           const std::vector<GroupRef>& groups) {
  out.reserve(out.size() + 1536 + 160 * groups.size());
  TextWriter w(out);
  const std::string& id = user.id.str();
  const bool base_is_plain = is_plain_json_text(base_url);
  w.begin_object();
  w.flag(KEY("active"), user.active);
  if (!user.addresses.empty()) {
    w.key(KEY("addresses"));
    w.begin_array();
    for (const auto& a : user.addresses) {
      w.begin_object();
      w.put(KEY("country"), a.country);
      w.put(KEY("formatted"), a.formatted);
      w.put(KEY("locality"), a.locality);
      w.put(KEY("postalCode"), a.postal_code);
      w.flag(KEY("primary"), a.primary);
      w.put(KEY("region"), a.region);
      w.put(KEY("streetAddress"), a.street_address);
      w.put(KEY("type"), a.type);
      w.end_object();
    }
    w.end_array();
  }
  w.put(KEY("displayName"), user.display_name);
  if (!user.emails.empty()) {
    w.key(KEY("emails"));
    write_contacts(w, user.emails);
  }
  if (user.external_id) {
    w.member(KEY("externalId"), std::string_view(*user.external_id));
  }
  w.key(KEY("groups"));
  w.begin_array();
  for (const auto& g : groups) {
    w.begin_object();
    w.url_member(KEY("$ref"), base_url, base_is_plain, "/Groups/", g.id);
    w.member(KEY("display"), std::string_view(g.display));
    w.constant_member(KEY("type"), "\"direct\"");
    w.member(KEY("value"), std::string_view(g.id));
    w.end_object();
  }
  w.end_array();
  w.member(KEY("id"), std::string_view(id));
  w.put(KEY("locale"), user.locale);
  w.key(KEY("meta"));
  w.begin_object();
  w.plain_member(KEY("created"),
                 [&](std::string& text) { core::append_timestamp(text, user.created); });
  w.plain_member(KEY("lastModified"),
                 [&](std::string& text) { core::append_timestamp(text, user.last_modified); });
  w.url_member(KEY("location"), base_url, base_is_plain, "/Users/", id);
  w.constant_member(KEY("resourceType"), "\"User\"");
  // W/"<version>", its quotes escaped.
  w.plain_member(KEY("version"), [&](std::string& text) {
    text += "W/\\\"";
    append_decimal(text, user.version);
    text += "\\\"";
  });
  w.end_object();
  if (has_name(user.name)) {
    w.key(KEY("name"));
    w.begin_object();
    w.put(KEY("familyName"), user.name.family_name);
    w.put(KEY("formatted"), user.name.formatted);
    w.put(KEY("givenName"), user.name.given_name);
    w.put(KEY("honorificPrefix"), user.name.honorific_prefix);
    w.put(KEY("honorificSuffix"), user.name.honorific_suffix);
    w.put(KEY("middleName"), user.name.middle_name);
    w.end_object();
  }
  w.put(KEY("nickName"), user.nick_name);
  if (!user.phone_numbers.empty()) {
    w.key(KEY("phoneNumbers"));
    write_contacts(w, user.phone_numbers);
  }
  w.put(KEY("preferredLanguage"), user.preferred_language);
  w.put(KEY("profileUrl"), user.profile_url);
  const bool enterprise = has_enterprise(user.enterprise);
  w.key(KEY("schemas"));
  w.begin_array();
  w.value(user_schema_urn);
  if (enterprise) {
    w.value(enterprise_user_urn);
  }
  w.value(tenant_user_urn);
  w.end_array();
  w.put(KEY("timezone"), user.timezone);
  w.put(KEY("title"), user.title);
  w.key_of(tenant_user_urn);
  w.begin_object();
  w.key(KEY("extensions"));
  w.begin_array();
  for (const auto& e : user.extensions) {
    w.begin_object();
    w.member(KEY("e911Location"), std::string_view(e.e911_location));
    w.member(KEY("number"), std::string_view(e.number));
    w.flag(KEY("primary"), e.primary);
    w.end_object();
  }
  w.end_array();
  w.key(KEY("mfa"));
  w.begin_object();
  w.key(KEY("emailAddresses"));
  w.strings(user.mfa.email_addresses);
  w.member(KEY("method"), core::to_string(user.mfa.method));
  w.key(KEY("smsNumbers"));
  w.strings(user.mfa.sms_numbers);
  w.end_object();
  w.flag(KEY("mustChangePassword"), user.must_change_password);
  w.key(KEY("profiles"));
  w.strings(user.profiles);
  w.member(KEY("role"), core::to_string(user.role));
  w.end_object();
  if (enterprise) {
    const auto& e = user.enterprise;
    w.key_of(enterprise_user_urn);
    w.begin_object();
    w.put(KEY("costCenter"), e.cost_center);
    w.put(KEY("department"), e.department);
    w.put(KEY("division"), e.division);
    w.put(KEY("employeeNumber"), e.employee_number);
    if (e.manager) {
      w.key(KEY("manager"));
      w.begin_object();
      w.url_member(KEY("$ref"), base_url, base_is_plain, "/Users/", e.manager->str());
      w.member(KEY("value"), std::string_view(e.manager->str()));
      w.end_object();
    }
    w.put(KEY("organization"), e.organization);
    w.end_object();
  }
  w.member(KEY("userName"), std::string_view(user.user_name));
  w.put(KEY("userType"), user.user_type);
  w.end_object();
  return w.valid();
}

std::optional<std::string> user_to_json_text(const core::User& user, const std::string& base_url,
                                             const std::vector<GroupRef>& groups) {
  std::string out;
  if (!append_user_json_text(out, user, base_url, groups)) {
    return std::nullopt;
  }
  return out;
}

void begin_list_response_text(std::string& out) {
  out += "{\"Resources\":[";
}

void end_list_response_text(std::string& out, std::size_t items, std::int64_t total,
                            std::int64_t start_index) {
  out += "],\"itemsPerPage\":";
  append_decimal(out, static_cast<std::int64_t>(items));
  out += ",\"schemas\":[\"";
  out += list_response_urn;
  out += "\"],\"startIndex\":";
  append_decimal(out, start_index);
  out += ",\"totalResults\":";
  append_decimal(out, total);
  out += '}';
}

std::string list_response_text(const std::vector<std::string>& resources, std::int64_t total,
                               std::int64_t start_index) {
  std::size_t size = 160;
  for (const auto& resource : resources) {
    size += resource.size() + 1;
  }
  std::string out;
  out.reserve(size);
  begin_list_response_text(out);
  for (std::size_t i = 0; i < resources.size(); ++i) {
    if (i != 0) {
      out += ',';
    }
    out += resources[i];
  }
  end_list_response_text(out, resources.size(), total, start_index);
  return out;
}

}  // namespace idbridge::scim
