// CSV parsing/formatting (RFC 4180) and the user import/export built on the identity service.
// Hand-written: Debian has no maintained C++ CSV library, and RFC 4180 is a 60-line state
// machine.
#include "idbridge/core/csv_io.hpp"

#include "idbridge/core/rules.hpp"

#include <algorithm>
#include <map>

namespace idbridge::core {
namespace {

constexpr char list_separator = ';';

std::string join(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& value : values) {
    out += (out.empty() ? "" : std::string(1, list_separator)) + value;
  }
  return out;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const auto end = std::min(text.find(list_separator, start), text.size());
    std::string item = text.substr(start, end - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) {
      out.push_back(item);
    }
    start = end + 1;
  }
  return out;
}

std::optional<bool> parse_bool(const std::string& text) {
  const std::string folded = fold_case(text);
  if (folded == "true" || folded == "1" || folded == "yes") {
    return true;
  }
  if (folded == "false" || folded == "0" || folded == "no") {
    return false;
  }
  return std::nullopt;
}

void set_contact(std::vector<ContactValue>& list, bool primary, const std::string& value) {
  std::erase_if(list, [&](const ContactValue& c) { return c.primary == primary; });
  if (!value.empty()) {
    ContactValue contact{value, primary ? "work" : "other", primary};
    if (primary) {
      list.insert(list.begin(), contact);
    } else {
      list.push_back(contact);
    }
  }
}

std::string contact_value(const std::vector<ContactValue>& list, bool primary) {
  for (const auto& c : list) {
    if (c.primary == primary) {
      return c.value;
    }
  }
  return {};
}

// Applies one row's present columns to `user`. Returns an error for values of the wrong form.
std::optional<Error> apply_row(User& user, const std::map<std::string, std::string>& row) {
  for (const auto& [column, value] : row) {
    if (column == "userName") {
      user.user_name = value;
    } else if (column == "externalId") {
      user.external_id = value.empty() ? std::nullopt : std::optional<std::string>(value);
    } else if (column == "givenName") {
      user.name.given_name = value;
    } else if (column == "familyName") {
      user.name.family_name = value;
    } else if (column == "displayName") {
      user.display_name = value;
    } else if (column == "email") {
      set_contact(user.emails, true, value);
    } else if (column == "backupEmail") {
      set_contact(user.emails, false, value);
    } else if (column == "phone") {
      set_contact(user.phone_numbers, true, value);
    } else if (column == "title") {
      user.title = value;
    } else if (column == "timezone") {
      user.timezone = value;
    } else if (column == "active" || column == "mustChangePassword") {
      const auto flag = parse_bool(value);
      if (!flag) {
        return make_error(ErrorCode::invalid_value, column + " must be true or false", column);
      }
      (column == "active" ? user.active : user.must_change_password) = *flag;
    } else if (column == "role") {
      const auto role = parse_role(value);
      if (!role) {
        return make_error(ErrorCode::invalid_value,
                          "role \"" + value +
                              "\" is not accountOwner, administrator, standardUser or "
                              "limitedAccessUser",
                          "role");
      }
      user.role = *role;
    } else if (column == "profiles") {
      // Role defaults follow the role; the file lists the tenant-defined profiles.
      std::vector<std::string> profiles = split_list(value);
      for (const auto& held : user.profiles) {
        if (held.rfind("default:", 0) == 0) {
          profiles.push_back(held);
        }
      }
      user.profiles = std::move(profiles);
    } else if (column == "extension" || column == "e911Location") {
      if (user.extensions.empty()) {
        user.extensions.push_back({"", "", true});
      }
      auto primary = std::find_if(user.extensions.begin(), user.extensions.end(),
                                  [](const Extension& e) { return e.primary; });
      if (primary == user.extensions.end()) {
        primary = user.extensions.begin();
      }
      (column == "extension" ? primary->number : primary->e911_location) = value;
      if (primary->number.empty() && primary->e911_location.empty()) {
        user.extensions.erase(primary);
      }
    } else if (column == "mfaMethod") {
      const auto method =
          value.empty() ? std::optional<MfaMethod>(MfaMethod::none) : parse_mfa_method(value);
      if (!method) {
        return make_error(ErrorCode::invalid_value,
                          "mfaMethod \"" + value + "\" is not none, email, sms, totp or webauthn",
                          "mfa");
      }
      user.mfa.method = *method;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<CsvRow>> parse_csv_rows(std::string_view text) {
  std::vector<CsvRow> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  bool field_started = false;
  std::size_t line = 1;
  std::size_t row_line = 1;  // where the row being read started
  std::size_t quote_line = 0;
  const auto end_row = [&] {
    row.push_back(std::move(field));
    field.clear();
    // A blank line is not a row.
    if (!(row.size() == 1 && row[0].empty())) {
      rows.push_back({row_line, std::move(row)});
    }
    row.clear();
    field_started = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        line += c == '\n' ? 1 : 0;
        field += c;
      }
      continue;
    }
    if (c == '"') {
      if (field_started) {
        return make_error(ErrorCode::invalid_value,
                          "line " + std::to_string(line) +
                              ": a quote inside an unquoted field (quote the whole field)");
      }
      quoted = true;
      field_started = true;
      quote_line = line;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      field_started = false;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;
    } else if (c == '\n') {
      end_row();
      ++line;
      row_line = line;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted) {
    return make_error(ErrorCode::invalid_value,
                      "line " + std::to_string(quote_line) + ": a quoted field is not closed");
  }
  if (field_started || !row.empty()) {
    end_row();
  }
  return rows;
}

Result<std::vector<std::vector<std::string>>> parse_csv(std::string_view text) {
  auto rows = parse_csv_rows(text);
  if (!rows) {
    return rows.error();
  }
  std::vector<std::vector<std::string>> fields;
  fields.reserve(rows->size());
  for (auto& row : *rows) {
    fields.push_back(std::move(row.fields));
  }
  return fields;
}

std::string format_csv(const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::string& field = row[i];
      out += i == 0 ? "" : ",";
      const bool needs_quotes = field.find_first_of(",\"\r\n") != std::string::npos ||
                                (!field.empty() && (field.front() == ' ' || field.back() == ' '));
      if (!needs_quotes) {
        out += field;
        continue;
      }
      out += '"';
      for (const char c : field) {
        out += c == '"' ? "\"\"" : std::string(1, c);
      }
      out += '"';
    }
    out += "\r\n";
  }
  return out;
}

const std::vector<std::string>& user_csv_columns() {
  static const std::vector<std::string> columns{"userName",
                                                "externalId",
                                                "givenName",
                                                "familyName",
                                                "displayName",
                                                "email",
                                                "backupEmail",
                                                "phone",
                                                "title",
                                                "timezone",
                                                "active",
                                                "role",
                                                "profiles",
                                                "extension",
                                                "e911Location",
                                                "mfaMethod",
                                                "mustChangePassword"};
  return columns;
}

std::string export_users_csv(StoreReader& reader, const TenantId& tenant) {
  std::vector<std::vector<std::string>> rows{user_csv_columns()};
  PageRequest page{0, 1000};
  while (true) {
    auto chunk = reader.list_users(tenant, page);
    for (const auto& user : chunk.items) {
      std::vector<std::string> own_profiles;
      for (const auto& profile : user.profiles) {
        if (profile.rfind("default:", 0) != 0) {
          own_profiles.push_back(profile);
        }
      }
      const auto primary = std::find_if(user.extensions.begin(), user.extensions.end(),
                                        [](const Extension& e) { return e.primary; });
      const bool has_extension = primary != user.extensions.end();
      rows.push_back(
          {user.user_name, user.external_id.value_or(""), user.name.given_name,
           user.name.family_name, user.display_name, contact_value(user.emails, true),
           contact_value(user.emails, false), contact_value(user.phone_numbers, true), user.title,
           user.timezone, user.active ? "true" : "false", std::string(to_string(user.role)),
           join(own_profiles), has_extension ? primary->number : "",
           has_extension ? primary->e911_location : "", std::string(to_string(user.mfa.method)),
           user.must_change_password ? "true" : "false"});
    }
    if (chunk.items.size() < static_cast<std::size_t>(page.limit)) {
      break;
    }
    page.offset += page.limit;
  }
  return format_csv(rows);
}

std::string_view to_string(RowOutcome outcome) {
  switch (outcome) {
    case RowOutcome::created: return "created";
    case RowOutcome::updated: return "updated";
    case RowOutcome::unchanged: return "unchanged";
    case RowOutcome::refused: return "refused";
  }
  return "refused";
}

std::size_t ImportReport::count(RowOutcome outcome) const {
  return static_cast<std::size_t>(std::count_if(
      rows.begin(), rows.end(), [&](const RowReport& row) { return row.outcome == outcome; }));
}

ImportReport import_users_csv(IdentityService& service, const Principal& who,
                              const TenantId& tenant, std::string_view csv) {
  ImportReport report;
  auto parsed = parse_csv_rows(csv);
  if (!parsed) {
    report.file_error = parsed.error();
    return report;
  }
  if (parsed->empty()) {
    report.file_error = make_error(ErrorCode::required, "the file has no header row");
    return report;
  }
  const auto& header = parsed->front().fields;
  const auto& known = user_csv_columns();
  for (const auto& column : header) {
    if (std::find(known.begin(), known.end(), column) == known.end()) {
      report.file_error =
          make_error(ErrorCode::invalid_value,
                     "unknown column \"" + column + "\" (known: " + join(known) + ")");
      return report;
    }
  }
  if (std::find(header.begin(), header.end(), "userName") == header.end()) {
    report.file_error = make_error(ErrorCode::required, "the header needs a userName column");
    return report;
  }
  for (std::size_t index = 1; index < parsed->size(); ++index) {
    const auto& fields = (*parsed)[index].fields;
    RowReport row;
    row.line = (*parsed)[index].line;
    if (fields.size() != header.size()) {
      row.error =
          make_error(ErrorCode::invalid_value, "the row has " + std::to_string(fields.size()) +
                                                   " fields, the "
                                                   "header " +
                                                   std::to_string(header.size()));
      report.rows.push_back(std::move(row));
      continue;
    }
    std::map<std::string, std::string> values;
    for (std::size_t i = 0; i < header.size(); ++i) {
      values[header[i]] = fields[i];
    }
    row.user_name = values["userName"];
    std::optional<User> existing;
    {
      auto reader = service.store().read();
      existing = reader->find_user_by_user_name(row.user_name);
    }
    if (existing && existing->tenant == tenant) {
      std::optional<Error> refused;
      const ResourceVersion before = existing->version;
      auto updated = service.modify_user(
          who, tenant, existing->id,
          [&](const User& current) -> std::optional<UserWrite> {
            UserWrite write{current, std::nullopt};
            if (auto error = apply_row(write.user, values)) {
              refused = std::move(error);
              return std::nullopt;
            }
            return write;
          },
          std::nullopt);
      if (refused || !updated) {
        row.error = refused ? *refused : updated.error();
      } else {
        row.outcome = updated->version == before ? RowOutcome::unchanged : RowOutcome::updated;
      }
    } else {
      UserWrite write;
      if (auto error = apply_row(write.user, values)) {
        row.error = std::move(error);
      } else if (auto created = service.create_user(who, tenant, std::move(write)); !created) {
        row.error = created.error();
      } else {
        row.outcome = RowOutcome::created;
      }
    }
    report.rows.push_back(std::move(row));
  }
  return report;
}

}  // namespace idbridge::core
