// The identity service against a real SQLite file: every store-dependent rule of DOMAIN.md,
// change records in the same transaction, and "a rejected change changes nothing".
#include "idbridge/core/identity_service.hpp"

#include "idbridge/crypto/crypto.hpp"
#include "idbridge/store/sqlite_store.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <tuple>

namespace idbridge::core {
namespace {

class SteppingClock final : public Clock {
 public:
  Timestamp now() const override { return Timestamp(std::chrono::milliseconds(++ticks_)); }

 private:
  mutable std::int64_t ticks_ = 1'700'000'000'000;
};

// A hasher that notes on every call (hash or verify) whether the store's write lock was held:
// scrypt must never run inside a write transaction, where it would stall every writer.
class ProbingHasher final : public PasswordHasher {
 public:
  std::string hash(std::string_view password) override {
    note_write_lock();
    return real_.hash(password);
  }
  bool verify(std::string_view password, std::string_view hash) override {
    note_write_lock();
    ++verifications;
    return real_.verify(password, hash);
  }
  int verifications = 0;
  Store* probe = nullptr;  // a second store on the same file that never waits for the lock
  int calls = 0;
  int calls_under_write_lock = 0;

 private:
  void note_write_lock() {
    ++calls;
    try {
      (void)probe->write();
    } catch (const StoreFailure&) {
      ++calls_under_write_lock;
    }
  }
  crypto::ScryptPasswordHasher real_{10};
};

// Wraps a store; the n-th write call (counted across transactions) throws StoreFailure, as a
// full disk or a lost connection would mid-transaction.
class FailingStore final : public Store {
 public:
  explicit FailingStore(Store& inner) : inner_(inner) {}
  int fail_at = 0;  // 0: never
  int writes = 0;

  std::unique_ptr<StoreReader> read() override { return inner_.read(); }
  std::unique_ptr<StoreWriter> write() override {
    return std::make_unique<Writer>(*this, inner_.write());
  }
  void check() override { inner_.check(); }
  int schema_version() override { return inner_.schema_version(); }

 private:
  class Writer final : public StoreWriter {
   public:
    Writer(FailingStore& store, std::unique_ptr<StoreWriter> inner)
        : store_(store), inner_(std::move(inner)) {}
    // clang-format off
    std::optional<TenantRecord> find_tenant(const TenantId& t) override { return inner_->find_tenant(t); }
    std::vector<TenantRecord> list_tenants() override { return inner_->list_tenants(); }
    std::optional<User> find_user(const TenantId& t, const UserId& id) override { return inner_->find_user(t, id); }
    std::optional<User> find_user_by_user_name(std::string_view n) override { return inner_->find_user_by_user_name(n); }
    std::vector<User> find_users_by_external_id(const TenantId& t, std::string_view e) override { return inner_->find_users_by_external_id(t, e); }
    std::optional<User> find_user_by_primary_email(const TenantId& t, std::string_view e) override { return inner_->find_user_by_primary_email(t, e); }
    std::vector<User> find_users_by_email(const TenantId& t, std::string_view e) override { return inner_->find_users_by_email(t, e); }
    std::optional<User> find_account_owner(const TenantId& t) override { return inner_->find_account_owner(t); }
    std::optional<UserId> find_extension_owner(const TenantId& t, std::string_view n) override { return inner_->find_extension_owner(t, n); }
    Page<User> list_users(const TenantId& t, const PageRequest& p) override { return inner_->list_users(t, p); }
    std::int64_t count_users(const TenantId& t) override { return inner_->count_users(t); }
    void for_each_user(const TenantId& t, const std::function<void(User&)>& each) override { inner_->for_each_user(t, each); }
    void for_each_user_where(const TenantId& t, const std::function<bool(const UserRowKey&)>& wanted, const std::function<void(User&)>& each) override { inner_->for_each_user_where(t, wanted, each); }
    std::optional<std::string> password_hash(const TenantId& t, const UserId& id) override { return inner_->password_hash(t, id); }
    std::optional<Group> find_group(const TenantId& t, const GroupId& id) override { return inner_->find_group(t, id); }
    std::optional<Group> find_group_by_display_name(const TenantId& t, std::string_view n) override { return inner_->find_group_by_display_name(t, n); }
    std::vector<Group> find_groups_by_external_id(const TenantId& t, std::string_view e) override { return inner_->find_groups_by_external_id(t, e); }
    std::optional<Group> find_system_group(const TenantId& t) override { return inner_->find_system_group(t); }
    Page<Group> list_groups(const TenantId& t, const PageRequest& p) override { return inner_->list_groups(t, p); }
    bool is_member(const TenantId& t, const GroupId& g, const MemberRef& m) override { return inner_->is_member(t, g, m); }
    Page<MemberRef> list_members(const TenantId& t, const GroupId& g, const PageRequest& p) override { return inner_->list_members(t, g, p); }
    std::vector<GroupId> groups_containing(const TenantId& t, const MemberRef& m) override { return inner_->groups_containing(t, m); }
    std::vector<ChangeRecord> changes_after(ChangeSequence a, std::size_t l) override { return inner_->changes_after(a, l); }
    ChangeSequence last_change_sequence() override { return inner_->last_change_sequence(); }
    std::vector<sync::DirectoryLink> list_links(std::string_view d) override { return inner_->list_links(d); }
    std::optional<sync::DirectoryLink> find_link(std::string_view d, std::string_view a) override { return inner_->find_link(d, a); }
    std::optional<sync::DirectoryLink> find_link_of_user(std::string_view d, const TenantId& t, const UserId& u) override { return inner_->find_link_of_user(d, t, u); }
    std::string sync_cursor(std::string_view d) override { return inner_->sync_cursor(d); }
    std::vector<sync::RuleGroupDigest> rule_group_digests(std::string_view d) override { return inner_->rule_group_digests(d); }
    std::optional<sync::RuleGroupMembers> find_rule_group(std::string_view d, std::string_view g) override { return inner_->find_rule_group(d, g); }
    std::optional<sync::SyncRun> find_sync_run(std::int64_t id) override { return inner_->find_sync_run(id); }
    std::vector<sync::SyncRun> list_sync_runs(std::string_view d, std::size_t l) override { return inner_->list_sync_runs(d, l); }
    std::vector<writeback::OutboxItem> outbox_items(std::string_view d, std::int64_t a, std::size_t l) override { return inner_->outbox_items(d, a, l); }
    std::vector<writeback::OutboxItem> outbox_items_of_user(std::string_view d, const TenantId& t, const UserId& u) override { return inner_->outbox_items_of_user(d, t, u); }
    std::optional<writeback::OutboxItem> find_outbox_item(std::int64_t id) override { return inner_->find_outbox_item(id); }
    std::vector<std::string> anchors_being_deleted(std::string_view d) override { return inner_->anchors_being_deleted(d); }
    writeback::OutboxStats outbox_stats(std::string_view d) override { return inner_->outbox_stats(d); }
    std::vector<writeback::Conflict> list_conflicts(std::string_view d, std::size_t l) override { return inner_->list_conflicts(d, l); }
    std::int64_t count_conflicts(std::string_view d) override { return inner_->count_conflicts(d); }
    std::string written_revision(std::string_view d, std::string_view a) override { return inner_->written_revision(d, a); }
    bool ensure_tenant(const TenantId& t, Timestamp now) override { count(); return inner_->ensure_tenant(t, now); }
    void insert_user(const User& u) override { count(); inner_->insert_user(u); }
    bool update_user(const User& u, ResourceVersion v) override { count(); return inner_->update_user(u, v); }
    bool update_user(const User& u, const User& stored) override { count(); return inner_->update_user(u, stored); }
    bool delete_user(const TenantId& t, const UserId& id) override { count(); return inner_->delete_user(t, id); }
    void set_password_hash(const TenantId& t, const UserId& id, const std::string& h) override { count(); inner_->set_password_hash(t, id, h); }
    void insert_group(const Group& g) override { count(); inner_->insert_group(g); }
    bool update_group(const Group& g, ResourceVersion v) override { count(); return inner_->update_group(g, v); }
    bool delete_group(const TenantId& t, const GroupId& id) override { count(); return inner_->delete_group(t, id); }
    bool add_member(const TenantId& t, const GroupId& g, const MemberRef& m) override { count(); return inner_->add_member(t, g, m); }
    bool remove_member(const TenantId& t, const GroupId& g, const MemberRef& m) override { count(); return inner_->remove_member(t, g, m); }
    ChangeSequence append_change(const ChangeRecord& r) override { count(); return inner_->append_change(r); }
    void put_link(const sync::DirectoryLink& l) override { count(); inner_->put_link(l); }
    bool delete_link(std::string_view d, std::string_view a) override { count(); return inner_->delete_link(d, a); }
    bool set_link_settled(const sync::DirectoryLink& l) override { count(); return inner_->set_link_settled(l); }
    void set_sync_cursor(std::string_view d, const std::string& c) override { count(); inner_->set_sync_cursor(d, c); }
    void put_rule_group(std::string_view d, const sync::RuleGroupMembers& g) override { count(); inner_->put_rule_group(d, g); }
    bool delete_rule_group(std::string_view d, std::string_view g) override { count(); return inner_->delete_rule_group(d, g); }
    std::int64_t insert_sync_run(const sync::SyncRun& r) override { count(); return inner_->insert_sync_run(r); }
    bool update_sync_run(const sync::SyncRun& r) override { count(); return inner_->update_sync_run(r); }
    std::int64_t enqueue_write(const writeback::OutboxItem& i) override { count(); return inner_->enqueue_write(i); }
    bool update_write(const writeback::OutboxItem& i) override { count(); return inner_->update_write(i); }
    bool remove_write(std::int64_t id) override { count(); return inner_->remove_write(id); }
    std::int64_t insert_conflict(const writeback::Conflict& c) override { count(); return inner_->insert_conflict(c); }
    void set_written_revision(std::string_view d, std::string_view a, const std::string& r) override { count(); inner_->set_written_revision(d, a, r); }
    std::unique_ptr<StoreWriter> nested() override { count(); return std::make_unique<Writer>(store_, inner_->nested()); }
    void commit() override { count(); inner_->commit(); }
    // clang-format on

   private:
    void count() {
      if (++store_.writes == store_.fail_at) {
        throw StoreFailure("injected failure");
      }
    }
    FailingStore& store_;
    std::unique_ptr<StoreWriter> inner_;
  };

  Store& inner_;
};

Principal credential(const std::string& tenant, Role ceiling, bool read_only = false) {
  Principal p;
  p.actor = {ActorKind::credential, tenant + "-okta"};
  p.origin = {OriginKind::scim, ""};
  p.ceiling = ceiling;
  p.tenant_scope = TenantId(tenant);
  p.read_only = read_only;
  return p;
}

UserWrite user_write(const std::string& user_name, const std::string& email = "") {
  UserWrite write;
  write.user.user_name = user_name;
  write.user.name.given_name = "Given";
  write.user.name.family_name = "Family";
  if (!email.empty()) {
    write.user.emails = {{email, "work", true}};
  }
  return write;
}

class IdentityServiceTest : public ::testing::Test {
 protected:
  IdentityServiceTest()
      : store_(store::open_sqlite_store({.path = dir_.file("idbridge.db")})),
        service_({*store_, clock_, ids_, hasher_, zones_}, ProviderSettings{"Provider"},
                 tenants()) {
    EXPECT_TRUE(service_.ensure_tenant(acme_));
    EXPECT_TRUE(service_.ensure_tenant(globex_));
    hasher_.probe = probe_.get();
  }

  static std::vector<TenantSettings> tenants() {
    TenantSettings acme;
    acme.id = TenantId("acme");
    acme.profiles = {{"helpdesk", {"manageUsers"}}};
    TenantSettings globex;
    globex.id = TenantId("globex");
    return {acme, globex};
  }

  User create(const std::string& user_name, Role role = Role::standard_user,
              const std::string& email = "") {
    UserWrite write = user_write(user_name, email);
    write.user.role = role;
    auto result = service_.create_user(owner_, acme_, std::move(write));
    EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().detail);
    return result ? *result : User{};
  }

  ChangeSequence last_change() { return store_->read()->last_change_sequence(); }

  // Asserts the refused call left the store exactly as it was.
  template <class Call>
  Error expect_refused(ErrorCode code, Call&& call) {
    const ChangeSequence before = last_change();
    const auto users_before = store_->read()->list_users(acme_, {0, 1000}).items;
    auto result = call();
    EXPECT_FALSE(result.has_value());
    if (result.has_value()) {
      return {};
    }
    EXPECT_EQ(result.error().code, code)
        << to_string(result.error().code) << ": " << result.error().detail;
    EXPECT_EQ(last_change(), before) << "a refused change must not write a change record";
    EXPECT_EQ(store_->read()->list_users(acme_, {0, 1000}).items, users_before)
        << "a refused change must not change any user";
    return result.error();
  }

  testing::TempDir dir_;
  SteppingClock clock_;
  RandomUuidGenerator ids_;
  ProbingHasher hasher_;
  TzdataZoneCatalog zones_;
  std::unique_ptr<Store> store_;
  IdentityService service_;
  std::unique_ptr<Store> probe_ =
      store::open_sqlite_store({.path = dir_.file("idbridge.db"), .busy_timeout_ms = 0});
  TenantId acme_{"acme"};
  TenantId globex_{"globex"};
  Principal owner_ = credential("acme", Role::account_owner);
  Principal admin_ = credential("acme", Role::administrator);
};

TEST_F(IdentityServiceTest, CreateAssignsIdVersionDefaultRoleProfileAndDisplayName) {
  const User user = create("alice");
  EXPECT_FALSE(user.id.empty());
  EXPECT_EQ(user.version, 1);
  EXPECT_EQ(user.role, Role::standard_user);
  EXPECT_EQ(user.profiles, std::vector<std::string>{"default:standardUser"});
  EXPECT_EQ(user.display_name, "Given Family");
  EXPECT_EQ(service_.get_user(owner_, acme_, user.id).value(), user);
}

TEST_F(IdentityServiceTest, UserNameIsUniqueAcrossTenantsCaseInsensitivelyAndKeepsItsSpelling) {
  const User alice = create("Alice.Smith");
  EXPECT_EQ(alice.user_name, "Alice.Smith");
  const auto globex_owner = credential("globex", Role::account_owner);
  const ChangeSequence before = last_change();
  auto result = service_.create_user(globex_owner, globex_, user_write("alice.SMITH"));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::user_name_taken);
  EXPECT_EQ(result.error().detail.find("acme"), std::string::npos)
      << "the error must not reveal the other tenant";
  EXPECT_EQ(last_change(), before);
}

TEST_F(IdentityServiceTest, UserNameCharactersAreChecked) {
  expect_refused(ErrorCode::user_name_characters,
                 [&] { return service_.create_user(owner_, acme_, user_write("bad name")); });
}

TEST_F(IdentityServiceTest, PrimaryEmailIsUniquePerTenantOnly) {
  create("a1", Role::standard_user, "shared@example.com");
  expect_refused(ErrorCode::email_taken, [&] {
    return service_.create_user(owner_, acme_, user_write("a2", "SHARED@example.com"));
  });
  auto other_tenant = service_.create_user(credential("globex", Role::account_owner), globex_,
                                           user_write("g1", "shared@example.com"));
  EXPECT_TRUE(other_tenant.has_value()) << "another tenant may use the same email";
}

TEST_F(IdentityServiceTest, BackupEmailIsNotSubjectToUniqueness) {
  create("a1", Role::standard_user, "one@example.com");
  UserWrite write = user_write("a2", "two@example.com");
  write.user.emails.push_back({"one@example.com", "home", false});
  EXPECT_TRUE(service_.create_user(owner_, acme_, write).has_value());
}

TEST_F(IdentityServiceTest, PersonNameEmailTimeZoneMfaAndProfileRulesApply) {
  UserWrite bad_name = user_write("n1");
  bad_name.user.name.family_name = "Smith!";
  expect_refused(ErrorCode::person_name_characters,
                 [&] { return service_.create_user(owner_, acme_, bad_name); });
  UserWrite bad_zone = user_write("n2");
  bad_zone.user.timezone = "Moon/Tranquility";
  expect_refused(ErrorCode::time_zone_unknown,
                 [&] { return service_.create_user(owner_, acme_, bad_zone); });
  UserWrite good_zone = user_write("n3");
  good_zone.user.timezone = "Australia/Sydney";
  EXPECT_TRUE(service_.create_user(owner_, acme_, good_zone).has_value());
  UserWrite sms = user_write("n4");
  sms.user.mfa.method = MfaMethod::sms;
  expect_refused(ErrorCode::mfa_rules, [&] { return service_.create_user(owner_, acme_, sms); });
  UserWrite profile = user_write("n5");
  profile.user.profiles = {"nonexistent"};
  expect_refused(ErrorCode::profile_unknown,
                 [&] { return service_.create_user(owner_, acme_, profile); });
  UserWrite emails = user_write("n6", "x@example.com");
  emails.user.emails.push_back({"y@example.com", "home", true});
  expect_refused(ErrorCode::email_rules,
                 [&] { return service_.create_user(owner_, acme_, emails); });
}

TEST_F(IdentityServiceTest, ExtensionsAreUniquePerTenantWithOnePrimary) {
  UserWrite first = user_write("e1");
  first.user.extensions = {{"1001", "HQ", false}};
  const auto created = service_.create_user(owner_, acme_, first);
  ASSERT_TRUE(created.has_value());
  EXPECT_TRUE(created->extensions[0].primary) << "a lone extension is the primary one";
  UserWrite second = user_write("e2");
  second.user.extensions = {{"1001", "HQ", true}};
  expect_refused(ErrorCode::extension_taken,
                 [&] { return service_.create_user(owner_, acme_, second); });
  UserWrite two_primaries = user_write("e3");
  two_primaries.user.extensions = {{"2001", "HQ", true}, {"2002", "HQ", true}};
  expect_refused(ErrorCode::extension_rules,
                 [&] { return service_.create_user(owner_, acme_, two_primaries); });
}

TEST_F(IdentityServiceTest, PasswordIsPolicyCheckedHashedAndRedactedInTheChangeLog) {
  UserWrite weak = user_write("p1");
  weak.password = "short";
  expect_refused(ErrorCode::password_policy,
                 [&] { return service_.create_user(owner_, acme_, weak); });
  UserWrite same = user_write("p2");
  same.password = "P2";
  same.user.user_name = "Pp2345678";
  same.password = "pP2345678";
  expect_refused(ErrorCode::password_policy,
                 [&] { return service_.create_user(owner_, acme_, same); });
  UserWrite good = user_write("p3");
  good.password = "Secr3t-Passw0rd";
  const auto user = service_.create_user(owner_, acme_, good);
  ASSERT_TRUE(user.has_value());
  EXPECT_TRUE(user->password_set);
  const auto hash = store_->read()->password_hash(acme_, user->id);
  ASSERT_TRUE(hash.has_value());
  EXPECT_TRUE(crypto::verify_password("Secr3t-Passw0rd", *hash));
  for (const auto& record : store_->read()->changes_after(0, 1000)) {
    for (const auto& attribute : record.attributes) {
      EXPECT_EQ(attribute.after.value_or("").find("Secr3t"), std::string::npos);
      if (attribute.path == "password") {
        EXPECT_EQ(attribute.after, std::string(redacted_value));
      }
    }
  }
}

TEST_F(IdentityServiceTest, TheWriteLockProbeSeesAHeldLock) {
  auto tx = store_->write();
  (void)hasher_.hash("Secr3t-Passw0rd");
  EXPECT_EQ(hasher_.calls_under_write_lock, 1);
}

TEST_F(IdentityServiceTest, PasswordsAreHashedWithoutHoldingTheWriteLock) {
  UserWrite created = user_write("hashed");
  created.password = "Secr3t-Passw0rd";
  const User user = service_.create_user(owner_, acme_, created).value();
  EXPECT_EQ(hasher_.calls, 1);

  UserWrite replaced{user, "Other-Passw0rd"};
  const User after_put =
      service_.replace_user(owner_, acme_, user.id, replaced, std::nullopt).value();
  EXPECT_EQ(after_put.version, user.version + 1);
  EXPECT_TRUE(
      crypto::verify_password("Other-Passw0rd", *store_->read()->password_hash(acme_, user.id)));

  // The PATCH path: the password comes out of the callback, which sees the stored state.
  const ChangeSequence before = last_change();
  int callback_runs = 0;
  const User after_patch = service_
                               .modify_user(
                                   owner_, acme_, user.id,
                                   [&](const User& current) -> std::optional<UserWrite> {
                                     ++callback_runs;
                                     UserWrite write{current, "Third-Passw0rd"};
                                     write.user.title = current.title + "+";
                                     return write;
                                   },
                                   after_put.version)
                               .value();
  EXPECT_EQ(after_patch.version, after_put.version + 1);
  EXPECT_EQ(after_patch.title, "+") << "the change was applied once, to the stored state";
  EXPECT_GE(callback_runs, 1);
  EXPECT_TRUE(
      crypto::verify_password("Third-Passw0rd", *store_->read()->password_hash(acme_, user.id)));
  const auto records = store_->read()->changes_after(before, 10);
  ASSERT_EQ(records.size(), 1U) << "an abandoned attempt leaves no record";
  EXPECT_EQ(records[0].attributes,
            (std::vector<AttributeChange>{
                {"title", std::nullopt, "+"},
                {"password", std::string(redacted_value), std::string(redacted_value)}}));
  EXPECT_GE(hasher_.calls, 3);
  EXPECT_EQ(hasher_.calls_under_write_lock, 0);
}

TEST_F(IdentityServiceTest, RepeatingTheCurrentPasswordIsNotAChange) {
  UserWrite created = user_write("same-password");
  created.password = "Secr3t-Passw0rd";
  const User user = service_.create_user(owner_, acme_, created).value();
  const auto stored = [&] { return store_->read()->password_hash(acme_, user.id).value(); };
  const std::string hash = stored();
  const ChangeSequence before = last_change();

  const User put =
      service_.replace_user(owner_, acme_, user.id, {user, "Secr3t-Passw0rd"}, user.version)
          .value();
  EXPECT_EQ(put.version, user.version);
  const User patched = service_
                           .modify_user(
                               owner_, acme_, user.id,
                               [](const User& current) -> std::optional<UserWrite> {
                                 return UserWrite{current, "Secr3t-Passw0rd"};
                               },
                               user.version)
                           .value();
  EXPECT_EQ(patched.version, user.version);
  EXPECT_EQ(last_change(), before) << "no change record for an unchanged password";
  EXPECT_EQ(stored(), hash) << "not even re-salted";
  EXPECT_GE(hasher_.verifications, 2);

  // Another attribute alongside the same password: only that attribute is recorded.
  UserWrite retitled{user, "Secr3t-Passw0rd"};
  retitled.user.title = "Lead";
  const User after_title =
      service_.replace_user(owner_, acme_, user.id, retitled, user.version).value();
  EXPECT_EQ(after_title.version, user.version + 1);
  auto records = store_->read()->changes_after(before, 10);
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0].attributes, (std::vector<AttributeChange>{{"title", std::nullopt, "Lead"}}));
  EXPECT_EQ(stored(), hash);

  // A different password still is a change.
  const User changed =
      service_.replace_user(owner_, acme_, user.id, {after_title, "Other-Passw0rd"}, std::nullopt)
          .value();
  EXPECT_EQ(changed.version, after_title.version + 1);
  records = store_->read()->changes_after(records[0].sequence, 10);
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0].attributes,
            (std::vector<AttributeChange>{
                {"password", std::string(redacted_value), std::string(redacted_value)}}));
  EXPECT_TRUE(crypto::verify_password("Other-Passw0rd", stored()));
  EXPECT_EQ(hasher_.calls_under_write_lock, 0);
}

TEST_F(IdentityServiceTest, AtMostOneAccountOwner) {
  create("owner", Role::account_owner);
  expect_refused(ErrorCode::account_owner_exists, [&] {
    UserWrite write = user_write("second-owner");
    write.user.role = Role::account_owner;
    return service_.create_user(owner_, acme_, write);
  });
}

TEST_F(IdentityServiceTest, AssigningAccountOwnerTransfersItAtomically) {
  const User old_owner = create("owner", Role::account_owner);
  const User admin = create("admin", Role::administrator);
  const ChangeSequence before = last_change();
  UserWrite write{admin, std::nullopt};
  write.user.role = Role::account_owner;
  const auto new_owner = service_.replace_user(owner_, acme_, admin.id, write, admin.version);
  ASSERT_TRUE(new_owner.has_value()) << new_owner.error().detail;
  EXPECT_EQ(new_owner->role, Role::account_owner);
  EXPECT_EQ(new_owner->profiles, std::vector<std::string>{"default:accountOwner"});
  const User demoted = service_.get_user(owner_, acme_, old_owner.id).value();
  EXPECT_EQ(demoted.role, Role::administrator);
  EXPECT_EQ(demoted.profiles, std::vector<std::string>{"default:administrator"});
  EXPECT_EQ(demoted.version, old_owner.version + 1);
  EXPECT_EQ(store_->read()->find_account_owner(acme_)->id, admin.id);
  const auto records = store_->read()->changes_after(before, 10);
  ASSERT_EQ(records.size(), 2U) << "one record per user, in the same transaction";
  EXPECT_EQ(records[0].resource_id, old_owner.id.str());
  EXPECT_EQ(records[1].resource_id, admin.id.str());
}

TEST_F(IdentityServiceTest, TransferAccountOwnershipCall) {
  const User old_owner = create("owner", Role::account_owner);
  const User user = create("user");
  const auto result = service_.transfer_account_ownership(owner_, acme_, user.id);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->role, Role::account_owner);
  EXPECT_EQ(service_.get_user(owner_, acme_, old_owner.id)->role, Role::administrator);
  expect_refused(ErrorCode::role_change_not_allowed,
                 [&] { return service_.transfer_account_ownership(admin_, acme_, old_owner.id); });
}

TEST_F(IdentityServiceTest, TheOwnerCannotSimplyDropTheRole) {
  const User owner = create("owner", Role::account_owner);
  expect_refused(ErrorCode::account_owner_required, [&] {
    UserWrite write{owner, std::nullopt};
    write.user.role = Role::administrator;
    return service_.replace_user(owner_, acme_, owner.id, write, std::nullopt);
  });
}

TEST_F(IdentityServiceTest, RoleCeilingLimitsWhatACredentialCreatesAndTouches) {
  expect_refused(ErrorCode::role_ceiling, [&] {
    UserWrite write = user_write("wants-owner");
    write.user.role = Role::account_owner;
    return service_.create_user(admin_, acme_, write);
  });
  const User admin = create("admin", Role::administrator);
  EXPECT_TRUE(service_
                  .create_user(admin_, acme_,
                               [] {
                                 UserWrite w = user_write("std");
                                 w.user.role = Role::administrator;
                                 return w;
                               }())
                  .has_value())
      << "at the ceiling is allowed";
  const User owner = create("owner", Role::account_owner);
  expect_refused(ErrorCode::role_ceiling, [&] {
    return service_.replace_user(admin_, acme_, owner.id, {owner, std::nullopt}, std::nullopt);
  });
  expect_refused(ErrorCode::role_ceiling,
                 [&] { return service_.delete_user(admin_, acme_, owner.id, std::nullopt); });
  (void)admin;
}

TEST_F(IdentityServiceTest, OnlyAnOwnerCapableCredentialChangesRoles) {
  const User user = create("user");
  expect_refused(ErrorCode::role_change_not_allowed, [&] {
    UserWrite write{user, std::nullopt};
    write.user.role = Role::limited_access_user;
    return service_.replace_user(admin_, acme_, user.id, write, std::nullopt);
  });
}

TEST_F(IdentityServiceTest, ChangingTheRoleSwapsTheDefaultProfileAndKeepsOthers) {
  UserWrite write = user_write("swap");
  write.user.profiles = {"helpdesk"};
  const User user = service_.create_user(owner_, acme_, write).value();
  EXPECT_EQ(user.profiles, (std::vector<std::string>{"default:standardUser", "helpdesk"}));
  UserWrite change{user, std::nullopt};
  change.user.role = Role::limited_access_user;
  const User changed = service_.replace_user(owner_, acme_, user.id, change, user.version).value();
  EXPECT_EQ(changed.profiles, (std::vector<std::string>{"default:limitedAccessUser", "helpdesk"}));
  expect_refused(ErrorCode::profile_unknown, [&] {
    UserWrite other{changed, std::nullopt};
    other.user.profiles.push_back("default:administrator");
    return service_.replace_user(owner_, acme_, user.id, other, std::nullopt);
  });
}

TEST_F(IdentityServiceTest, TenantScopeAndReadOnlyCredentials) {
  const User user = create("scoped");
  const auto globex = credential("globex", Role::account_owner);
  const auto read = service_.get_user(globex, acme_, user.id);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::forbidden);
  expect_refused(ErrorCode::forbidden,
                 [&] { return service_.create_user(globex, acme_, user_write("x")); });
  expect_refused(ErrorCode::forbidden,
                 [&] { return service_.delete_user(globex, acme_, user.id, std::nullopt); });
  expect_refused(ErrorCode::read_only, [&] {
    return service_.create_user(credential("acme", Role::account_owner, true), acme_,
                                user_write("y"));
  });
  Principal provider = credential("acme", Role::account_owner);
  provider.tenant_scope.reset();
  EXPECT_TRUE(service_.get_user(provider, acme_, user.id).has_value())
      << "a provider credential reaches every tenant";
  const auto unknown = service_.get_user(provider, TenantId("nope"), user.id);
  EXPECT_EQ(unknown.error().code, ErrorCode::not_found);
}

TEST_F(IdentityServiceTest, StaleVersionIsRefused) {
  const User user = create("versioned");
  UserWrite write{user, std::nullopt};
  write.user.title = "Engineer";
  const User updated = service_.replace_user(owner_, acme_, user.id, write, user.version).value();
  EXPECT_EQ(updated.version, 2);
  write.user.title = "Manager";
  expect_refused(ErrorCode::version_mismatch, [&] {
    return service_.replace_user(owner_, acme_, user.id, write, user.version);
  });
  expect_refused(ErrorCode::version_mismatch,
                 [&] { return service_.delete_user(owner_, acme_, user.id, 1); });
}

TEST_F(IdentityServiceTest, ChangeRecordsCarryWhoWhatAndOriginAndOnlyRealChanges) {
  const User user = create("audited");
  const ChangeSequence before = last_change();
  UserWrite write{user, std::nullopt};
  write.user.title = "CTO";
  const User updated = service_.replace_user(owner_, acme_, user.id, write, std::nullopt).value();
  auto records = store_->read()->changes_after(before, 10);
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0].kind, ChangeKind::updated);
  EXPECT_EQ(records[0].resource_type, ResourceType::user);
  EXPECT_EQ(records[0].resource_id, user.id.str());
  EXPECT_EQ(records[0].version, 2);
  EXPECT_EQ(records[0].actor, owner_.actor);
  EXPECT_EQ(records[0].origin, owner_.origin);
  EXPECT_EQ(records[0].attributes, (std::vector<AttributeChange>{{"title", std::nullopt, "CTO"}}));
  // Replacing with identical content writes nothing and keeps the version (no echo churn).
  const User again =
      service_.replace_user(owner_, acme_, user.id, {updated, std::nullopt}, std::nullopt).value();
  EXPECT_EQ(again.version, 2);
  EXPECT_EQ(last_change(), records[0].sequence);
  ASSERT_TRUE(service_.delete_user(owner_, acme_, user.id, std::nullopt));
  records = store_->read()->changes_after(records[0].sequence, 10);
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0].kind, ChangeKind::deleted);
}

TEST_F(IdentityServiceTest, FailureInsideTheTransactionLeavesNothingBehind) {
  const User member = create("member");
  const Group team =
      service_
          .create_group(
              owner_, acme_,
              {"Team", std::nullopt, GroupKind::team, {{MemberType::user, member.id.str()}}})
          .value();
  FailingStore failing(*store_);
  IdentityService service({failing, clock_, ids_, hasher_, zones_}, ProviderSettings{"Provider"},
                          tenants());
  const auto snapshot = [&] {
    auto reader = store_->read();
    return std::tuple(reader->last_change_sequence(), reader->list_users(acme_, {0, 100}).items,
                      reader->list_groups(acme_, {0, 100}).items,
                      reader->is_member(acme_, team.id, {MemberType::user, member.id.str()}));
  };
  // Fails each write call of the transaction in turn, until the call has no write left to fail.
  const auto fail_each_write = [&](auto&& call) {
    int failed = 0;
    for (int n = 1;; ++n) {
      const auto before = snapshot();
      failing.writes = 0;
      failing.fail_at = n;
      try {
        (void)call();
      } catch (const StoreFailure&) {
        ++failed;
        EXPECT_EQ(snapshot(), before) << "failing write " << n << " left a trace";
        continue;
      }
      return failed;
    }
  };
  UserWrite write = user_write("interrupted", "i@example.com");
  write.password = "Passw0rd-ok";
  EXPECT_GE(fail_each_write([&] { return service.create_user(owner_, acme_, write); }), 4)
      << "insert, All Users, password, record, commit";
  EXPECT_TRUE(store_->read()->find_user_by_user_name("interrupted"));
  EXPECT_GE(
      fail_each_write([&] { return service.delete_user(owner_, acme_, member.id, std::nullopt); }),
      5)
      << "parent group and its record, All Users, delete, record, commit";
  EXPECT_FALSE(store_->read()->find_user(acme_, member.id));
}

TEST_F(IdentityServiceTest, AllUsersExistsContainsEveryoneAndCannotBeChanged) {
  const auto all_users = store_->read()->find_system_group(acme_);
  ASSERT_TRUE(all_users.has_value());
  EXPECT_EQ(all_users->display_name, "All Users");
  EXPECT_EQ(all_users->kind, GroupKind::access);
  const User a = create("member-a");
  const User b = create("member-b");
  const auto members = service_.list_members(owner_, acme_, all_users->id, {0, 10}).value();
  EXPECT_EQ(members.total, 2);
  EXPECT_EQ(members.items[0].id, a.id.str());
  EXPECT_EQ(members.items[1].id, b.id.str());

  const auto with_members = store_->read()->find_system_group(acme_);
  const ChangeSequence before = last_change();
  auto removed = service_.change_members(owner_, acme_, all_users->id,
                                         {{}, {{MemberType::user, a.id.str()}}}, std::nullopt);
  ASSERT_FALSE(removed.has_value());
  EXPECT_EQ(removed.error().code, ErrorCode::system_group_immutable);
  auto renamed =
      service_.replace_group(owner_, acme_, all_users->id,
                             {"Everyone", std::nullopt, GroupKind::access, {}}, std::nullopt);
  ASSERT_FALSE(renamed.has_value());
  EXPECT_EQ(renamed.error().code, ErrorCode::system_group_immutable);
  auto deleted = service_.delete_group(owner_, acme_, all_users->id, std::nullopt);
  ASSERT_FALSE(deleted.has_value());
  EXPECT_EQ(deleted.error().code, ErrorCode::system_group_immutable);
  auto added = service_.change_members(owner_, acme_, all_users->id,
                                       {{{MemberType::user, a.id.str()}}, {}}, std::nullopt);
  EXPECT_TRUE(added.has_value()) << "adding an existing user is a harmless no-op";
  EXPECT_EQ(last_change(), before);
  EXPECT_EQ(store_->read()->find_system_group(acme_), with_members);
}

TEST_F(IdentityServiceTest, AllUsersVersionFollowsUsersCreatedAndDeletedWithoutExtraRecords) {
  const Group initial = store_->read()->find_system_group(acme_).value();
  const ChangeSequence before = last_change();
  const User user = create("counted");
  const Group after_create = store_->read()->find_system_group(acme_).value();
  EXPECT_EQ(after_create.version, initial.version + 1) << "its member list grew";
  EXPECT_EQ(after_create.last_modified, user.created);
  EXPECT_EQ(store_->read()->changes_after(before, 10).size(), 1U)
      << "the user's created record is the only one";
  ASSERT_TRUE(service_.delete_user(owner_, acme_, user.id, std::nullopt));
  const Group after_delete = store_->read()->find_system_group(acme_).value();
  EXPECT_EQ(after_delete.version, initial.version + 2) << "its member list shrank";
  EXPECT_GT(after_delete.last_modified, after_create.last_modified);
  EXPECT_EQ(store_->read()->changes_after(before, 10).size(), 2U);
  EXPECT_EQ(store_->read()->find_system_group(globex_)->version, initial.version)
      << "another tenant's All Users is untouched";
}

TEST_F(IdentityServiceTest, DeletingAMemberBumpsEachParentGroupAndRecordsTheRemoval) {
  const User user = create("leaver");
  const User stays = create("stayer");
  const Group team =
      service_
          .create_group(owner_, acme_,
                        {"Team",
                         std::nullopt,
                         GroupKind::team,
                         {{MemberType::user, user.id.str()}, {MemberType::user, stays.id.str()}}})
          .value();
  const Group parent =
      service_
          .create_group(owner_, acme_,
                        {"Parent",
                         std::nullopt,
                         GroupKind::access,
                         {{MemberType::group, team.id.str()}, {MemberType::user, user.id.str()}}})
          .value();
  const Group bystander =
      service_.create_group(owner_, acme_, {"Bystander", std::nullopt, GroupKind::access, {}})
          .value();

  ChangeSequence before = last_change();
  ASSERT_TRUE(service_.delete_user(owner_, acme_, user.id, std::nullopt));
  auto records = store_->read()->changes_after(before, 10);
  ASSERT_EQ(records.size(), 3U) << "one per parent group, then the user's";
  std::map<std::string, ChangeRecord> by_group;
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(records[i].resource_type, ResourceType::group);
    EXPECT_EQ(records[i].kind, ChangeKind::updated);
    EXPECT_EQ(records[i].actor, owner_.actor);
    EXPECT_EQ(records[i].attributes,
              (std::vector<AttributeChange>{{"members", "user:" + user.id.str(), std::nullopt}}));
    by_group[records[i].resource_id] = records[i];
  }
  EXPECT_EQ(records[2].resource_id, user.id.str());
  EXPECT_EQ(records[2].kind, ChangeKind::deleted);
  const Group team_after = service_.get_group(owner_, acme_, team.id).value();
  const Group parent_after = service_.get_group(owner_, acme_, parent.id).value();
  EXPECT_EQ(team_after.version, team.version + 1);
  EXPECT_EQ(parent_after.version, parent.version + 1);
  EXPECT_GT(team_after.last_modified, team.last_modified);
  EXPECT_EQ(by_group.at(team.id.str()).version, team_after.version);
  EXPECT_EQ(by_group.at(parent.id.str()).version, parent_after.version);
  EXPECT_EQ(service_.get_group(owner_, acme_, bystander.id).value(), bystander);

  before = last_change();
  ASSERT_TRUE(service_.delete_group(owner_, acme_, team.id, std::nullopt));
  records = store_->read()->changes_after(before, 10);
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[0].resource_id, parent.id.str());
  EXPECT_EQ(records[0].attributes,
            (std::vector<AttributeChange>{{"members", "group:" + team.id.str(), std::nullopt}}));
  EXPECT_EQ(records[1].resource_id, team.id.str());
  EXPECT_EQ(records[1].kind, ChangeKind::deleted);
  const Group parent_final = service_.get_group(owner_, acme_, parent.id).value();
  EXPECT_EQ(parent_final.version, parent_after.version + 1);
  EXPECT_EQ(records[0].version, parent_final.version);
  EXPECT_EQ(service_.list_members(owner_, acme_, parent.id, {0, 10})->total, 0);
  EXPECT_EQ(service_.get_group(owner_, acme_, bystander.id).value(), bystander);
}

TEST_F(IdentityServiceTest, GroupsHaveKindsUniqueNamesKnownMembersAndNoCycles) {
  const User a = create("ga");
  auto team = service_.create_group(
      owner_, acme_, {"Support", std::nullopt, GroupKind::team, {{MemberType::user, a.id.str()}}});
  ASSERT_TRUE(team.has_value());
  EXPECT_EQ(team->kind, GroupKind::team);
  auto duplicate =
      service_.create_group(owner_, acme_, {"SUPPORT", std::nullopt, GroupKind::access, {}});
  EXPECT_EQ(duplicate.error().code, ErrorCode::group_name_taken);
  auto all_users_name =
      service_.create_group(owner_, acme_, {"all users", std::nullopt, GroupKind::access, {}});
  EXPECT_EQ(all_users_name.error().code, ErrorCode::group_name_taken);
  auto unknown = service_.create_group(
      owner_, acme_,
      {"Ghosts", std::nullopt, GroupKind::distribution, {{MemberType::user, "nope"}}});
  EXPECT_EQ(unknown.error().code, ErrorCode::member_unknown);
  EXPECT_FALSE(store_->read()->find_group_by_display_name(acme_, "Ghosts"));

  auto parent = service_.create_group(
      owner_, acme_,
      {"Parent", std::nullopt, GroupKind::contact_type, {{MemberType::group, team->id.str()}}});
  ASSERT_TRUE(parent.has_value());
  auto cycle = service_.change_members(owner_, acme_, team->id,
                                       {{{MemberType::group, parent->id.str()}}, {}}, std::nullopt);
  ASSERT_FALSE(cycle.has_value());
  EXPECT_EQ(cycle.error().code, ErrorCode::group_cycle);
  auto self = service_.change_members(owner_, acme_, team->id,
                                      {{{MemberType::group, team->id.str()}}, {}}, std::nullopt);
  EXPECT_EQ(self.error().code, ErrorCode::group_cycle);
}

TEST_F(IdentityServiceTest, MembershipChangesAreRecordedPerMemberAndBumpTheVersion) {
  const User a = create("ma");
  const User b = create("mb");
  const Group group =
      service_.create_group(owner_, acme_, {"Sales", std::nullopt, GroupKind::access, {}}).value();
  const ChangeSequence before = last_change();
  const Group changed =
      service_
          .change_members(owner_, acme_, group.id,
                          {{{MemberType::user, a.id.str()}, {MemberType::user, b.id.str()}}, {}},
                          group.version)
          .value();
  EXPECT_EQ(changed.version, group.version + 1);
  auto records = store_->read()->changes_after(before, 10);
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0].attributes,
            (std::vector<AttributeChange>{{"members", std::nullopt, "user:" + a.id.str()},
                                          {"members", std::nullopt, "user:" + b.id.str()}}));
  const Group renamed =
      service_
          .replace_group(
              owner_, acme_, group.id,
              {"Sales EMEA", std::nullopt, GroupKind::access, {{MemberType::user, b.id.str()}}},
              changed.version)
          .value();
  EXPECT_EQ(renamed.display_name, "Sales EMEA");
  const auto members = service_.list_members(owner_, acme_, group.id, {0, 10}).value();
  ASSERT_EQ(members.total, 1);
  EXPECT_EQ(members.items[0].id, b.id.str());
}

TEST_F(IdentityServiceTest, TenantWithUsersAndNoOwnerIsUnhealthy) {
  EXPECT_TRUE(service_.health(acme_).healthy()) << "an empty tenant is healthy";
  create("lonely");
  EXPECT_FALSE(service_.health(acme_).healthy());
  create("boss", Role::account_owner);
  EXPECT_TRUE(service_.health(acme_).healthy());
}

TEST_F(IdentityServiceTest, EnsureTenantIsIdempotent) {
  const auto group = store_->read()->find_system_group(acme_);
  const ChangeSequence before = last_change();
  ASSERT_TRUE(service_.ensure_tenant(acme_));
  EXPECT_EQ(store_->read()->find_system_group(acme_), group);
  EXPECT_EQ(last_change(), before);
  EXPECT_FALSE(service_.ensure_tenant(TenantId("unconfigured")).has_value());
}

}  // namespace
}  // namespace idbridge::core

namespace idbridge::core {
namespace {

TEST_F(IdentityServiceTest, InvalidUtf8InAnyTextIsRefusedBeforeAnythingIsWritten) {
  UserWrite title = user_write("utf8-title");
  title.user.title = "G\xe9rant";  // Latin-1, as an Excel CSV export writes it
  expect_refused(ErrorCode::invalid_value,
                 [&] { return service_.create_user(owner_, acme_, title); });
  UserWrite address = user_write("utf8-address");
  address.user.addresses = {{"work", "",
                             "Stra\xdf"
                             "e 1",
                             "", "", "", "DE", true}};
  expect_refused(ErrorCode::invalid_value,
                 [&] { return service_.create_user(owner_, acme_, address); });
  auto group =
      service_.create_group(owner_, acme_, {"Bad \xff", std::nullopt, GroupKind::team, {}});
  ASSERT_FALSE(group.has_value());
  EXPECT_EQ(group.error().code, ErrorCode::invalid_value);
}

TEST_F(IdentityServiceTest, AStaleManagerReferenceDoesNotBlockLaterWritesOfTheReport) {
  const User boss = create("boss");
  UserWrite report = user_write("report");
  report.user.enterprise.manager = boss.id;
  const User created = service_.create_user(owner_, acme_, report).value();
  ASSERT_TRUE(service_.delete_user(owner_, acme_, boss.id, std::nullopt));
  UserWrite disable{created, std::nullopt};
  disable.user.active = false;
  const auto disabled = service_.replace_user(owner_, acme_, created.id, disable, std::nullopt);
  ASSERT_TRUE(disabled.has_value()) << disabled.error().detail;
  EXPECT_FALSE(disabled->active);
  UserWrite other = {*disabled, std::nullopt};
  other.user.enterprise.manager = UserId("nobody");
  // A manager being set now is still checked.
  expect_refused(ErrorCode::invalid_value, [&] {
    return service_.replace_user(owner_, acme_, created.id, other, std::nullopt);
  });
}

// ---- create_users: a batch of creates in one transaction ----------------------------------

// Refuses the creation of one userName, after writing something of its own to the transaction
// (a cursor named after the user), as an interceptor may before it decides; lets the others
// through with the same write, which must then commit with them.
class RefusingInterceptor final : public ChangeInterceptor {
 public:
  explicit RefusingInterceptor(std::string refused) : refused_(std::move(refused)) {}
  std::optional<Error> before_write(StoreWriter& tx, const Principal&,
                                    const PendingChange& change) override {
    if (change.resource_type != ResourceType::user || change.after == nullptr) {
      return std::nullopt;
    }
    tx.set_sync_cursor("seen-" + change.after->user_name, "yes");
    if (change.after->user_name == refused_) {
      return make_error(ErrorCode::owned_by_directory, "refused by the interceptor", "userName");
    }
    return std::nullopt;
  }

 private:
  std::string refused_;
};

class CreateUsersTest : public IdentityServiceTest {
 protected:
  // Runs the batch and checks what every batch must leave: one `created` change record per
  // created user (in batch order, for that user and version 1), nothing for a refused write, and
  // All Users bumped once when anything was created. Returns each write's error code, nullopt
  // for a created user.
  std::vector<std::optional<ErrorCode>> create_batch(std::vector<UserWrite> writes,
                                                     IdentityService* service = nullptr) {
    const ChangeSequence before = last_change();
    const auto all_users_before = store_->read()->find_system_group(acme_)->version;
    const auto users_before = store_->read()->count_users(acme_);
    auto results = (service ? *service : service_).create_users(owner_, acme_, std::move(writes));
    std::vector<std::optional<ErrorCode>> codes;
    std::vector<UserId> created;
    for (const auto& result : results) {
      if (result) {
        codes.emplace_back(std::nullopt);
        created.push_back(result->id);
        EXPECT_EQ(store_->read()->find_user(acme_, result->id), *result);
      } else {
        codes.emplace_back(result.error().code);
      }
    }
    const auto records = store_->read()->changes_after(before, 1000);
    EXPECT_EQ(records.size(), created.size()) << "one change record per created user, no other";
    for (std::size_t i = 0; i < std::min(records.size(), created.size()); ++i) {
      EXPECT_EQ(records[i].resource_type, ResourceType::user);
      EXPECT_EQ(records[i].kind, ChangeKind::created);
      EXPECT_EQ(records[i].resource_id, created[i].str());
      EXPECT_EQ(records[i].version, 1);
    }
    EXPECT_EQ(store_->read()->count_users(acme_),
              users_before + static_cast<std::int64_t>(created.size()));
    EXPECT_EQ(store_->read()->find_system_group(acme_)->version,
              all_users_before + (created.empty() ? 0 : 1))
        << "one All Users version per batch";
    return codes;
  }

  using Codes = std::vector<std::optional<ErrorCode>>;
};

TEST_F(CreateUsersTest, ADuplicateUserNameInsideTheBatchFailsAloneAndTheRestCommit) {
  const auto codes = create_batch({user_write("ann", "ann@example.com"), user_write("bob"),
                                   user_write("ANN"), user_write("cat", "cat@example.com")});
  EXPECT_EQ(codes, (Codes{std::nullopt, std::nullopt, ErrorCode::user_name_taken, std::nullopt}));
  EXPECT_EQ(store_->read()->find_user_by_user_name("ann")->user_name, "ann") << "the first wins";
}

TEST_F(CreateUsersTest, ADuplicatePrimaryEmailOrExtensionInsideTheBatchFailsAlone) {
  UserWrite first = user_write("first", "shared@example.com");
  first.user.extensions = {{"100", "HQ", true}};
  UserWrite same_email = user_write("second", "SHARED@example.com");
  UserWrite same_extension = user_write("third", "third@example.com");
  same_extension.user.extensions = {{"100", "HQ", true}};
  EXPECT_EQ(
      create_batch({first, same_email, same_extension, user_write("fourth")}),
      (Codes{std::nullopt, ErrorCode::email_taken, ErrorCode::extension_taken, std::nullopt}));
}

TEST_F(CreateUsersTest, DuplicatesAgainstTheStoreFailAloneAndTheRestCommit) {
  UserWrite existing = user_write("taken", "taken@example.com");
  existing.user.extensions = {{"200", "HQ", true}};
  ASSERT_TRUE(service_.create_user(owner_, acme_, existing));
  ASSERT_TRUE(service_.create_user(credential("globex", Role::account_owner), globex_,
                                   user_write("elsewhere")));
  UserWrite email_clash = user_write("new-one", "TAKEN@example.com");
  UserWrite extension_clash = user_write("new-two");
  extension_clash.user.extensions = {{"200", "HQ", true}};
  EXPECT_EQ(create_batch({user_write("fresh"), user_write("Taken"), email_clash, extension_clash,
                          user_write("ELSEWHERE"), user_write("fresh-too")}),
            (Codes{std::nullopt, ErrorCode::user_name_taken, ErrorCode::email_taken,
                   ErrorCode::extension_taken, ErrorCode::user_name_taken, std::nullopt}));
}

TEST_F(CreateUsersTest, OnlyTheFirstOfTwoAccountOwnerCandidatesGetsTheRole) {
  UserWrite owner_one = user_write("owner-one");
  owner_one.user.role = Role::account_owner;
  UserWrite owner_two = user_write("owner-two");
  owner_two.user.role = Role::account_owner;
  EXPECT_EQ(create_batch({owner_one, user_write("plain"), owner_two}),
            (Codes{std::nullopt, std::nullopt, ErrorCode::account_owner_exists}));
  EXPECT_EQ(store_->read()->find_account_owner(acme_)->user_name, "owner-one");
  EXPECT_TRUE(service_.health(acme_).healthy());

  // With an owner already stored, every candidate of a later batch is refused.
  owner_one.user.user_name = "owner-three";
  EXPECT_EQ(create_batch({owner_one, user_write("plain-two")}),
            (Codes{ErrorCode::account_owner_exists, std::nullopt}));
}

TEST_F(CreateUsersTest, AnInterceptorRefusalUndoesOnlyThatUserAndItsOwnWrites) {
  RefusingInterceptor interceptor("refused");
  IdentityService service({*store_, clock_, ids_, hasher_, zones_, &interceptor},
                          ProviderSettings{"Provider"}, tenants());
  EXPECT_EQ(
      create_batch({user_write("before"), user_write("refused"), user_write("after")}, &service),
      (Codes{std::nullopt, ErrorCode::owned_by_directory, std::nullopt}));
  auto reader = store_->read();
  EXPECT_FALSE(reader->find_user_by_user_name("refused"));
  EXPECT_EQ(reader->sync_cursor("seen-refused"), "")
      << "the refusing interceptor's write is undone";
  EXPECT_EQ(reader->sync_cursor("seen-before"), "yes") << "accepted: commits with the user";
  EXPECT_EQ(reader->sync_cursor("seen-after"), "yes");
}

TEST_F(CreateUsersTest, RuleAndCeilingRefusalsFailAloneAndAllRefusedWritesNothing) {
  UserWrite bad_name = user_write("has space");
  UserWrite bad_zone = user_write("zoned");
  bad_zone.user.timezone = "Mars/Olympus";
  EXPECT_EQ(create_batch({bad_name, user_write("good"), bad_zone}),
            (Codes{ErrorCode::user_name_characters, std::nullopt, ErrorCode::time_zone_unknown}));

  // A batch that creates no one leaves the store untouched (All Users included).
  EXPECT_EQ(create_batch({user_write("good"), bad_name}),
            (Codes{ErrorCode::user_name_taken, ErrorCode::user_name_characters}));

  // The credential's ceiling and scope apply to every write.
  UserWrite too_high = user_write("too-high");
  too_high.user.role = Role::account_owner;
  const auto results = service_.create_users(admin_, acme_, {too_high, user_write("fine")});
  ASSERT_EQ(results.size(), 2U);
  EXPECT_EQ(results[0].error().code, ErrorCode::role_ceiling);
  EXPECT_TRUE(results[1].has_value());
  const auto foreign =
      service_.create_users(credential("globex", Role::account_owner), acme_, {user_write("x")});
  ASSERT_EQ(foreign.size(), 1U);
  EXPECT_EQ(foreign[0].error().code, ErrorCode::forbidden);
}

TEST_F(CreateUsersTest, BatchUsersAreWhatCreateUserWouldHaveMade) {
  UserWrite write = user_write("same");
  write.user.emails = {{"same@example.com", "work", false}};
  write.user.extensions = {{"300", "HQ", false}};
  write.password = "Passw0rd-ok";
  const auto results = service_.create_users(owner_, acme_, {write});
  ASSERT_TRUE(results.at(0).has_value());
  const User& batch = *results[0];
  EXPECT_TRUE(batch.emails[0].primary) << "normalised as create_user does";
  EXPECT_TRUE(batch.extensions[0].primary);
  EXPECT_EQ(batch.profiles, std::vector<std::string>{"default:standardUser"});
  EXPECT_EQ(batch.display_name, "Given Family");
  EXPECT_TRUE(batch.password_set);
  EXPECT_EQ(hasher_.calls_under_write_lock, 0) << "passwords are hashed outside the write slot";
  ASSERT_TRUE(store_->read()->password_hash(acme_, batch.id));
  const auto record = store_->read()->changes_after(last_change() - 1, 1).at(0);
  EXPECT_EQ(record.attributes.back(),
            (AttributeChange{"password", std::nullopt, std::string(redacted_value)}));
}

TEST_F(CreateUsersTest, AFailureOfTheStoreOrOfTheCallerLeavesNothingOfTheBatch) {
  FailingStore failing(*store_);
  IdentityService service({failing, clock_, ids_, hasher_, zones_}, ProviderSettings{"Provider"},
                          tenants());
  const auto state = [&] {
    auto reader = store_->read();
    return std::tuple(reader->last_change_sequence(), reader->list_users(acme_, {0, 100}).items,
                      reader->find_system_group(acme_)->version);
  };
  const std::vector<UserWrite> writes{user_write("one", "one@example.com"), user_write("two")};
  int failed = 0;
  for (int n = 1;; ++n) {
    const auto before = state();
    failing.writes = 0;
    failing.fail_at = n;
    try {
      (void)service.create_users(owner_, acme_, writes);
    } catch (const StoreFailure&) {
      ++failed;
      EXPECT_EQ(state(), before) << "failing write " << n << " left a trace";
      continue;
    }
    break;
  }
  EXPECT_GE(failed, 6) << "two inserts, two records, All Users, commit";
  EXPECT_EQ(store_->read()->count_users(acme_), 2);

  // A caller's after_create that throws abandons the batch.
  const auto before = state();
  EXPECT_THROW(service_.create_users(owner_, acme_, {user_write("three"), user_write("four")},
                                     [](std::size_t index, const User&, StoreWriter&) {
                                       if (index == 1) {
                                         throw StoreFailure("caller failed");
                                       }
                                     }),
               StoreFailure);
  EXPECT_EQ(state(), before);
}

}  // namespace
}  // namespace idbridge::core
