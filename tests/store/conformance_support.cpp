// The conformance fixture and the builders for its users, groups and change records.
#include "conformance.hpp"

namespace idbridge::store_test {

void StoreConformance::SetUp() {
  store_ = GetParam().open(dir_.path().string());
  auto writer = store().write();
  writer->ensure_tenant(acme, at_millis(1));
  writer->ensure_tenant(globex, at_millis(2));
  writer->commit();
}

void StoreConformance::reopen() {
  store_.reset();
  store_ = GetParam().open(dir_.path().string());
}

void StoreConformance::insert(const core::User& user) {
  auto writer = store().write();
  writer->insert_user(user);
  writer->commit();
}

void StoreConformance::insert(const core::Group& group) {
  auto writer = store().write();
  writer->insert_group(group);
  writer->commit();
}

std::optional<core::User> StoreConformance::stored_user(const core::TenantId& tenant,
                                                        const std::string& id) {
  return store().read()->find_user(tenant, core::UserId(id));
}

core::Timestamp at_millis(std::int64_t millis) {
  return core::Timestamp(std::chrono::milliseconds(millis));
}

core::User make_user(const std::string& tenant, const std::string& id,
                     const std::string& user_name) {
  core::User user;
  user.id = core::UserId(id);
  user.tenant = core::TenantId(tenant);
  user.user_name = user_name;
  user.display_name = user_name;
  user.profiles = {"default:standardUser"};
  user.version = 1;
  user.created = at_millis(1'700'000'000'000);
  user.last_modified = user.created;
  return user;
}

core::User full_user(const std::string& tenant, const std::string& id,
                     const std::string& user_name) {
  core::User user = make_user(tenant, id, user_name);
  user.external_id = "ext-" + id;
  user.name = {"Dr. Zoë O'Neil-Smith Jr.", "O'Neil-Smith", "Zoë", "Ann", "Dr.", "Jr."};
  user.display_name = "Zoë O'Neil-Smith";
  user.nick_name = "Zo";
  user.profile_url = "https://example.com/u/" + id;
  user.title = "Head of \"Quotes\" \\ Backslashes";
  user.user_type = "Employee";
  user.preferred_language = "en-AU";
  user.locale = "en_AU";
  user.timezone = "Australia/Sydney";
  user.active = false;
  user.emails = {{user_name + "@Example.com", "work", true}, {"backup@example.net", "home", false}};
  user.phone_numbers = {{"+61 2 5550 1234", "mobile", true}, {"+61 2 5550 9999", "", false}};
  user.addresses = {
      {"work", "1 George St\nSydney", "1 George St", "Sydney", "NSW", "2000", "AU", true},
      {"home", "", "2 Pitt St", "Sydney", "NSW", "2001", "AU", false}};
  user.role = core::Role::administrator;
  user.profiles = {"default:administrator", "e911", "international"};
  user.extensions = {{"1" + id.substr(id.size() - 1) + "01", "Level 3, 1 George St", true},
                     {"1" + id.substr(id.size() - 1) + "02", "Home office", false}};
  user.mfa.method = core::MfaMethod::sms;
  user.mfa.email_addresses = {"mfa@example.com"};
  user.mfa.sms_numbers = {"+61400000001", "+61400000002", "+61400000003"};
  user.must_change_password = true;
  user.password_set = true;
  user.enterprise = {"E-42", "CC-7", "Example Pty Ltd", "APAC", "Support", core::UserId("mgr-1")};
  user.version = 7;
  user.created = at_millis(1'600'000'000'123);
  user.last_modified = at_millis(1'700'000'000'456);
  return user;
}

core::Group make_group(const std::string& tenant, const std::string& id,
                       const std::string& display_name) {
  core::Group group;
  group.id = core::GroupId(id);
  group.tenant = core::TenantId(tenant);
  group.display_name = display_name;
  group.kind = core::GroupKind::team;
  group.version = 1;
  group.created = at_millis(1'700'000'000'000);
  group.last_modified = group.created;
  return group;
}

core::ChangeRecord make_change(const std::string& tenant, const std::string& resource_id,
                               core::ResourceVersion version) {
  core::ChangeRecord record;
  record.tenant = core::TenantId(tenant);
  record.resource_type = core::ResourceType::user;
  record.resource_id = resource_id;
  record.kind = core::ChangeKind::updated;
  record.version = version;
  record.actor = {core::ActorKind::credential, "cred-1"};
  record.origin = {core::OriginKind::scim, ""};
  record.at = at_millis(1'700'000'000'000 + version);
  record.attributes = {{"title", "Old", "New"}, {"externalId", std::nullopt, "x"}};
  return record;
}

core::sync::DirectoryLink make_link(const std::string& directory, const std::string& anchor,
                                    const std::string& tenant, const std::string& user_id) {
  return {directory, anchor, core::TenantId(tenant), core::UserId(user_id), std::nullopt};
}

core::sync::SyncRun make_run(const std::string& directory, std::int64_t started_millis) {
  core::sync::SyncRun run;
  run.directory = directory;
  run.kind = core::sync::RunKind::apply_plan;
  run.started = at_millis(started_millis);
  run.finished = at_millis(started_millis + 1500);
  run.outcome = core::sync::RunOutcome::held;
  run.read = 100'000;
  run.planned = 1234;
  run.applied = 1200;
  run.failed = 34;
  run.plan_id = "sha256:0f3a";
  run.plan_file = "/var/lib/idbridge/plans/" + directory + ".json";
  run.error = "user_name_taken: \"zoë\" is already taken";
  return run;
}

}  // namespace idbridge::store_test
