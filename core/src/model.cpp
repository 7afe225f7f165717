// Text forms of the model's enumerations (the spellings SCIM, the config file and the stores
// use), and the system principal.
#include "idbridge/core/model.hpp"

#include "idbridge/core/change.hpp"
#include "idbridge/core/principal.hpp"
#include "idbridge/core/sync/state.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <utility>

namespace idbridge::core {
namespace {

template <class Enum, std::size_t N>
std::optional<Enum> parse_from(const std::array<std::pair<Enum, std::string_view>, N>& table,
                               std::string_view text) {
  for (const auto& [value, name] : table) {
    if (name == text) {
      return value;
    }
  }
  return std::nullopt;
}

template <class Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& table,
                         Enum value) {
  for (const auto& [candidate, name] : table) {
    if (candidate == value) {
      return name;
    }
  }
  return "unknown";
}

constexpr std::array<std::pair<Role, std::string_view>, 4> role_names{{
    {Role::limited_access_user, "limitedAccessUser"},
    {Role::standard_user, "standardUser"},
    {Role::administrator, "administrator"},
    {Role::account_owner, "accountOwner"},
}};

constexpr std::array<std::pair<GroupKind, std::string_view>, 4> group_kind_names{{
    {GroupKind::access, "access"},
    {GroupKind::team, "team"},
    {GroupKind::contact_type, "contactType"},
    {GroupKind::distribution, "distribution"},
}};

constexpr std::array<std::pair<MfaMethod, std::string_view>, 5> mfa_method_names{{
    {MfaMethod::none, "none"},
    {MfaMethod::email, "email"},
    {MfaMethod::sms, "sms"},
    {MfaMethod::totp, "totp"},
    {MfaMethod::webauthn, "webauthn"},
}};

constexpr std::array<std::pair<MemberType, std::string_view>, 2> member_type_names{{
    {MemberType::user, "user"},
    {MemberType::group, "group"},
}};

constexpr std::array<std::pair<ActorKind, std::string_view>, 4> actor_kind_names{{
    {ActorKind::credential, "credential"},
    {ActorKind::sync_run, "syncRun"},
    {ActorKind::cli, "cli"},
    {ActorKind::system, "system"},
}};

constexpr std::array<std::pair<OriginKind, std::string_view>, 4> origin_kind_names{{
    {OriginKind::scim, "scim"},
    {OriginKind::directory_sync, "directorySync"},
    {OriginKind::cli, "cli"},
    {OriginKind::system, "system"},
}};

constexpr std::array<std::pair<ResourceType, std::string_view>, 2> resource_type_names{{
    {ResourceType::user, "user"},
    {ResourceType::group, "group"},
}};

constexpr std::array<std::pair<ChangeKind, std::string_view>, 3> change_kind_names{{
    {ChangeKind::created, "created"},
    {ChangeKind::updated, "updated"},
    {ChangeKind::deleted, "deleted"},
}};

}  // namespace

std::string_view to_string(Role role) {
  return name_of(role_names, role);
}
std::optional<Role> parse_role(std::string_view text) {
  return parse_from(role_names, text);
}

std::string default_profile_name(Role role) {
  return "default:" + std::string(to_string(role));
}

std::string_view to_string(GroupKind kind) {
  return name_of(group_kind_names, kind);
}
std::optional<GroupKind> parse_group_kind(std::string_view text) {
  return parse_from(group_kind_names, text);
}

std::string_view to_string(MfaMethod method) {
  return name_of(mfa_method_names, method);
}
std::optional<MfaMethod> parse_mfa_method(std::string_view text) {
  return parse_from(mfa_method_names, text);
}

const ContactValue* primary_email(const User& user) {
  for (const auto& email : user.emails) {
    if (email.primary) {
      return &email;
    }
  }
  return nullptr;
}

std::string_view to_string(MemberType type) {
  return name_of(member_type_names, type);
}
std::optional<MemberType> parse_member_type(std::string_view text) {
  return parse_from(member_type_names, text);
}

std::string_view to_string(ActorKind kind) {
  return name_of(actor_kind_names, kind);
}
std::optional<ActorKind> parse_actor_kind(std::string_view text) {
  return parse_from(actor_kind_names, text);
}

std::string_view to_string(OriginKind kind) {
  return name_of(origin_kind_names, kind);
}
std::optional<OriginKind> parse_origin_kind(std::string_view text) {
  return parse_from(origin_kind_names, text);
}

std::string_view to_string(ResourceType type) {
  return name_of(resource_type_names, type);
}
std::optional<ResourceType> parse_resource_type(std::string_view text) {
  return parse_from(resource_type_names, text);
}

std::string_view to_string(ChangeKind kind) {
  return name_of(change_kind_names, kind);
}
std::optional<ChangeKind> parse_change_kind(std::string_view text) {
  return parse_from(change_kind_names, text);
}

Principal system_principal() {
  Principal principal;
  principal.actor = Actor{ActorKind::system, "idbridged"};
  principal.origin = Origin{OriginKind::system, ""};
  principal.ceiling = Role::account_owner;
  return principal;
}

namespace {

// gmtime_r and snprintf: the text for instants outside the years 1970-9999, which the digits
// below do not cover (before 1970 the milliseconds come out negative, as they always have).
void append_timestamp_by_libc(std::string& out, Timestamp at) {
  const auto since_epoch = at.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis = (since_epoch - seconds).count();
  const std::time_t t = seconds.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[96];  // sized for any int the format could print, so no truncation warning
  const int length = std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                   tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  out.append(buffer, static_cast<std::size_t>(std::max(length, 0)));
}

void put_digits(char* at, unsigned value, int count) {
  for (int i = count - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

// The calendar arithmetic of <chrono> and fixed-width digits: gmtime_r takes glibc's time zone
// lock and snprintf parses its format, about 7,500 instructions per timestamp, and every SCIM
// resource prints two.
void append_timestamp(std::string& out, Timestamp at) {
  using namespace std::chrono;
  const auto day = floor<days>(at);
  const year_month_day date{day};
  const int year = static_cast<int>(date.year());
  if (at.time_since_epoch().count() < 0 || year > 9999) {
    append_timestamp_by_libc(out, at);
    return;
  }
  const auto in_day = static_cast<unsigned>((at - day).count());  // milliseconds, < 86,400,000
  char text[24];                                                  // "YYYY-MM-DDTHH:MM:SS.mmmZ"
  put_digits(text, static_cast<unsigned>(year), 4);
  text[4] = '-';
  put_digits(text + 5, static_cast<unsigned>(date.month()), 2);
  text[7] = '-';
  put_digits(text + 8, static_cast<unsigned>(date.day()), 2);
  text[10] = 'T';
  put_digits(text + 11, in_day / 3'600'000, 2);
  text[13] = ':';
  put_digits(text + 14, in_day / 60'000 % 60, 2);
  text[16] = ':';
  put_digits(text + 17, in_day / 1'000 % 60, 2);
  text[19] = '.';
  put_digits(text + 20, in_day % 1'000, 3);
  text[23] = 'Z';
  out.append(text, sizeof text);
}

std::string format_timestamp(Timestamp at) {
  std::string out;
  out.reserve(24);
  append_timestamp(out, at);
  return out;
}

namespace sync {
namespace {

constexpr std::array<std::pair<RunKind, std::string_view>, 3> run_kind_names{{
    {RunKind::full, "full"},
    {RunKind::incremental, "incremental"},
    {RunKind::apply_plan, "applyPlan"},
}};

constexpr std::array<std::pair<RunOutcome, std::string_view>, 6> run_outcome_names{{
    {RunOutcome::running, "running"},
    {RunOutcome::applied, "applied"},
    {RunOutcome::unchanged, "unchanged"},
    {RunOutcome::held, "held"},
    {RunOutcome::incomplete, "incomplete"},
    {RunOutcome::failed, "failed"},
}};

}  // namespace

std::string_view to_string(RunKind kind) {
  return name_of(run_kind_names, kind);
}
std::optional<RunKind> parse_run_kind(std::string_view text) {
  return parse_from(run_kind_names, text);
}
std::string_view to_string(RunOutcome outcome) {
  return name_of(run_outcome_names, outcome);
}
std::optional<RunOutcome> parse_run_outcome(std::string_view text) {
  return parse_from(run_outcome_names, text);
}

}  // namespace sync
}  // namespace idbridge::core
