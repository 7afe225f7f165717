// Writes against a private slapd: add, modify, rename and delete read back; assertions that hold
// and that fail (nothing changed); pre- and post-read entries that match a later read; the RFC 3062
// password change; the typed refusals; a killed server; a 1,600-value member attribute; and
// pipelined modifies.
#include "idbridge/ldap/client.hpp"
#include "idbridge/testing/slapd.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace idbridge::ldap {
namespace {

using testing::Slapd;
using testing::TempDir;

constexpr const char* people = "ou=people,dc=example,dc=com";
constexpr const char* staff = "ou=staff,dc=example,dc=com";

ConnectionSettings as_root(const Slapd& slapd) {
  ConnectionSettings settings;
  settings.uri = slapd.uri();
  settings.bind = BindMethod::simple;
  settings.bind_dn = slapd.options().root_dn;
  settings.password = Password(slapd.options().root_password);
  settings.network_timeout = std::chrono::seconds(5);
  settings.operation_timeout = std::chrono::seconds(10);
  return settings;
}

std::string user_dn(const std::string& uid, const std::string& base = people) {
  return "uid=" + uid + "," + base;
}

std::string user_ldif(const std::string& uid, const std::string& extra = "") {
  return "dn: " + user_dn(uid) + "\nobjectClass: inetOrgPerson\nuid: " + uid + "\ncn: " + uid +
         "\nsn: " + uid + "\nmail: " + uid + "@example.com\n" + extra + "\n";
}

// A slapd with ou=people and ou=staff.
struct Directory {
  TempDir dir;
  Slapd slapd{dir};
  Directory() {
    slapd.add_ldif("dn: " + std::string(people) +
                   "\nobjectClass: organizationalUnit\nou: people\n\n"
                   "dn: " +
                   std::string(staff) + "\nobjectClass: organizationalUnit\nou: staff\n\n");
  }
  Connection connect() const { return Connection::open(as_root(slapd)).value(); }
};

std::vector<Attribute> person(const std::string& uid) {
  return {{"objectClass", {"inetOrgPerson"}},
          {"uid", {uid}},
          {"cn", {"User " + uid}},
          {"sn", {uid}},
          {"mail", {uid + "@example.com"}}};
}

std::set<std::string> values_of(const Entry& entry, const std::string& attribute) {
  const auto* found = entry.find(attribute);
  return found == nullptr ? std::set<std::string>{}
                          : std::set<std::string>(found->values.begin(), found->values.end());
}

std::string value_of(const Entry& entry, const std::string& attribute) {
  const auto* value = entry.first_value(attribute);
  return value == nullptr ? "<absent>" : *value;
}

TEST(Write, AddModifyRenameDeleteReadBack) {
  Directory directory;
  auto connection = directory.connect();
  // Binary values go through untouched: NUL, 0xff, '\n'.
  const std::string photo("\xff\xd8\x00\x01\n\x7f\xff", 7);
  auto attributes = person("alice");
  attributes.push_back({"jpegPhoto", {photo}});
  attributes.push_back({"telephoneNumber", {"+1 555 0100", "+1 555 0101"}});
  auto added = connection.add(user_dn("alice"), attributes);
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->ldap_code, 0);

  auto read = connection.read(user_dn("alice"), {"*"});
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(value_of(*read, "jpegPhoto"), photo);
  EXPECT_EQ(values_of(*read, "telephoneNumber"),
            (std::set<std::string>{"+1 555 0100", "+1 555 0101"}));

  // One modify: replace, add a value, remove one value, remove a whole attribute.
  auto modified =
      connection.modify(user_dn("alice"), {{ModifyOp::replace, "mail", {"alice@new.example.com"}},
                                           {ModifyOp::add, "title", {"Engineer"}},
                                           {ModifyOp::remove, "telephoneNumber", {"+1 555 0100"}},
                                           {ModifyOp::remove, "jpegPhoto", {}}});
  ASSERT_TRUE(modified) << modified.error().message;
  read = connection.read(user_dn("alice"), {"*"});
  ASSERT_TRUE(read);
  EXPECT_EQ(values_of(*read, "mail"), std::set<std::string>{"alice@new.example.com"});
  EXPECT_EQ(value_of(*read, "title"), "Engineer");
  EXPECT_EQ(values_of(*read, "telephoneNumber"), std::set<std::string>{"+1 555 0101"});
  EXPECT_EQ(read->find("jpegPhoto"), nullptr);

  // Rename in place, the old RDN value removed.
  auto renamed = connection.rename(user_dn("alice"), "uid=alice2", std::nullopt, OldRdn::remove);
  ASSERT_TRUE(renamed) << renamed.error().message;
  auto gone = connection.read(user_dn("alice"), {});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::no_such_object);
  read = connection.read(user_dn("alice2"), {"uid", "mail"});
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(values_of(*read, "uid"), std::set<std::string>{"alice2"});
  EXPECT_EQ(value_of(*read, "mail"), "alice@new.example.com");

  // Move under another parent, keeping the old RDN value.
  renamed = connection.rename(user_dn("alice2"), "uid=alice3", std::string(staff), OldRdn::keep);
  ASSERT_TRUE(renamed) << renamed.error().message;
  EXPECT_FALSE(connection.read(user_dn("alice2"), {}));
  read = connection.read(user_dn("alice3", staff), {"uid"});
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(values_of(*read, "uid"), (std::set<std::string>{"alice2", "alice3"}));

  auto removed = connection.remove(user_dn("alice3", staff));
  ASSERT_TRUE(removed) << removed.error().message;
  gone = connection.read(user_dn("alice3", staff), {});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::no_such_object);
}

TEST(Write, AssertionThatHoldsWritesAndOneThatFailsChangesNothing) {
  Directory directory;
  directory.slapd.add_ldif(user_ldif("bob"));
  auto connection = directory.connect();
  WriteOptions holds;
  holds.assertion = "(mail=bob@example.com)";
  auto modified = connection.modify(
      user_dn("bob"), {{ModifyOp::replace, "mail", {"bob@second.example.com"}}}, holds);
  ASSERT_TRUE(modified) << modified.error().message;

  // The same belief again is stale now: refused, and the entry keeps the newer value.
  auto stale = connection.modify(user_dn("bob"),
                                 {{ModifyOp::replace, "mail", {"bob@third.example.com"}}}, holds);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, ErrorCode::assertion_failed) << stale.error().message;
  EXPECT_EQ(stale.error().ldap_code, 122);
  EXPECT_FALSE(is_transient(stale.error().code));
  auto read = connection.read(user_dn("bob"), {"mail"});
  ASSERT_TRUE(read);
  EXPECT_EQ(values_of(*read, "mail"), std::set<std::string>{"bob@second.example.com"});

  // An assertion on the entry's change sequence number: only this exact version is deleted.
  const auto csn = value_of(connection.read(user_dn("bob"), {"entryCSN"}).value(), "entryCSN");
  WriteOptions old_version;
  old_version.assertion = "(entryCSN=20000101000000.000000Z#000000#000#000000)";
  auto not_deleted = connection.remove(user_dn("bob"), old_version);
  ASSERT_FALSE(not_deleted);
  EXPECT_EQ(not_deleted.error().code, ErrorCode::assertion_failed);
  EXPECT_TRUE(connection.read(user_dn("bob"), {}));
  WriteOptions this_version;
  this_version.assertion = "(entryCSN=" + csn + ")";
  auto renamed =
      connection.rename(user_dn("bob"), "uid=robert", std::nullopt, OldRdn::keep, old_version);
  ASSERT_FALSE(renamed);
  EXPECT_EQ(renamed.error().code, ErrorCode::assertion_failed);
  EXPECT_TRUE(connection.remove(user_dn("bob"), this_version));
  EXPECT_FALSE(connection.read(user_dn("bob"), {}));
}

TEST(Write, PostReadAndPreReadMatchTheEntryAroundTheWrite) {
  Directory directory;
  auto connection = directory.connect();
  const std::vector<std::string> version = {"entryUUID", "entryCSN", "modifyTimestamp"};
  WriteOptions add_options;
  add_options.post_read = version;
  auto added = connection.add(user_dn("carol"), person("carol"), add_options);
  ASSERT_TRUE(added) << added.error().message;
  ASSERT_TRUE(added->post_read);
  EXPECT_FALSE(added->pre_read);
  auto read = connection.read(user_dn("carol"), version);
  ASSERT_TRUE(read);
  EXPECT_TRUE(equal_ignoring_case(added->post_read->dn, user_dn("carol")));
  for (const auto& attribute : version) {
    EXPECT_EQ(value_of(*added->post_read, attribute), value_of(*read, attribute)) << attribute;
  }
  const auto uuid = value_of(*read, "entryUUID");
  EXPECT_EQ(uuid.size(), 36u);

  WriteOptions options;
  options.pre_read = {"mail", "entryCSN"};
  options.post_read = {"mail", "entryCSN", "modifyTimestamp", "entryUUID"};
  auto modified = connection.modify(
      user_dn("carol"), {{ModifyOp::replace, "mail", {"carol@new.example.com"}}}, options);
  ASSERT_TRUE(modified) << modified.error().message;
  ASSERT_TRUE(modified->pre_read);
  ASSERT_TRUE(modified->post_read);
  EXPECT_EQ(value_of(*modified->pre_read, "mail"), "carol@example.com");
  EXPECT_EQ(value_of(*modified->post_read, "mail"), "carol@new.example.com");
  EXPECT_EQ(value_of(*modified->pre_read, "entryCSN"), value_of(*read, "entryCSN"));
  EXPECT_NE(value_of(*modified->post_read, "entryCSN"), value_of(*read, "entryCSN"));
  auto after = connection.read(user_dn("carol"), options.post_read);
  ASSERT_TRUE(after);
  for (const auto& attribute : options.post_read) {
    EXPECT_EQ(value_of(*modified->post_read, attribute), value_of(*after, attribute)) << attribute;
  }
  EXPECT_EQ(value_of(*modified->post_read, "entryUUID"), uuid);

  // A rename's post-read carries the new DN; the entry keeps its entryUUID.
  WriteOptions rename_options;
  rename_options.post_read = {"entryUUID"};
  auto renamed = connection.rename(user_dn("carol"), "uid=caroline", std::string(staff),
                                   OldRdn::remove, rename_options);
  ASSERT_TRUE(renamed) << renamed.error().message;
  ASSERT_TRUE(renamed->post_read);
  EXPECT_TRUE(equal_ignoring_case(renamed->post_read->dn, user_dn("caroline", staff)))
      << renamed->post_read->dn;
  EXPECT_EQ(value_of(*renamed->post_read, "entryUUID"), uuid);

  // A delete's pre-read is the entry as it was.
  WriteOptions delete_options;
  delete_options.pre_read = {"mail"};
  auto removed = connection.remove(user_dn("caroline", staff), delete_options);
  ASSERT_TRUE(removed) << removed.error().message;
  ASSERT_TRUE(removed->pre_read);
  EXPECT_EQ(value_of(*removed->pre_read, "mail"), "carol@new.example.com");
}

TEST(Write, PasswordModifyThenTheNewPasswordBindsAndTheOldDoesNot) {
  Directory directory;
  directory.slapd.add_ldif(user_ldif("dave", "userPassword: old-Secret-1\n"));
  auto connection = directory.connect();
  const Password fresh("new-Secret-2 with spaces");
  auto changed = connection.password_modify(user_dn("dave"), fresh);
  ASSERT_TRUE(changed) << changed.error().message;

  ConnectionSettings as_dave = as_root(directory.slapd);
  as_dave.bind_dn = user_dn("dave");
  as_dave.password = fresh;
  auto dave = Connection::open(as_dave);
  ASSERT_TRUE(dave) << dave.error().message;
  EXPECT_EQ(dave->who_am_i().value(), "dn:" + user_dn("dave"));

  as_dave.password = Password("old-Secret-1");
  auto refused = Connection::open(as_dave);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::invalid_credentials);

  // A refused change names the DN and never the password.
  auto missing = connection.password_modify(user_dn("nobody"), fresh);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(user_dn("nobody")), std::string::npos);
  EXPECT_EQ(missing.error().message.find(fresh.reveal()), std::string::npos);
  EXPECT_EQ(missing.error().code, ErrorCode::no_such_object) << missing.error().message;
}

TEST(Write, RefusalsAreTyped) {
  Directory directory;
  directory.slapd.add_ldif(user_ldif("erin") + user_ldif("frank"));
  auto connection = directory.connect();
  const auto expect_code = [](const auto& result, ErrorCode code, int ldap_code, const char* what) {
    ASSERT_FALSE(result) << what;
    EXPECT_EQ(result.error().code, code) << what << ": " << result.error().message;
    EXPECT_EQ(result.error().ldap_code, ldap_code) << what;
    EXPECT_FALSE(is_transient(result.error().code)) << what;
  };
  const auto missing = user_dn("nobody");
  expect_code(connection.modify(missing, {{ModifyOp::replace, "mail", {"x@example.com"}}}),
              ErrorCode::no_such_object, 32, "modify of a missing entry");
  expect_code(connection.remove(missing), ErrorCode::no_such_object, 32, "delete of a missing");
  expect_code(connection.rename(missing, "uid=other", std::nullopt, OldRdn::remove),
              ErrorCode::no_such_object, 32, "rename of a missing entry");
  expect_code(connection.rename(user_dn("erin"), "uid=erin",
                                std::string("ou=nowhere,dc=example,dc=com"), OldRdn::remove),
              ErrorCode::no_such_object, 32, "move under a missing parent");
  expect_code(connection.add(user_dn("erin"), person("erin")), ErrorCode::already_exists, 68,
              "duplicate add");
  expect_code(connection.rename(user_dn("erin"), "uid=frank", std::nullopt, OldRdn::remove),
              ErrorCode::already_exists, 68, "rename onto an existing DN");
  expect_code(connection.remove(people), ErrorCode::not_allowed_on_non_leaf, 66,
              "delete of a parent");
  expect_code(
      connection.modify(user_dn("erin"), {{ModifyOp::remove, "mail", {"not-hers@example.com"}}}),
      ErrorCode::no_such_attribute, 16, "removing a value that is not there");
  expect_code(connection.modify(user_dn("erin"), {{ModifyOp::add, "mail", {"erin@example.com"}}}),
              ErrorCode::attribute_or_value_exists, 20, "adding a value that is there");
  expect_code(connection.modify(user_dn("erin"), {{ModifyOp::remove, "sn", {}}}),
              ErrorCode::object_class_violation, 65, "removing a required attribute");
  // slapd answers namingViolation here; AD answers notAllowedOnRDN (67, not_allowed_on_rdn).
  expect_code(connection.modify(user_dn("erin"), {{ModifyOp::remove, "uid", {}}}),
              ErrorCode::naming_violation, 64, "removing the RDN value");
  expect_code(connection.modify(user_dn("erin"), {{ModifyOp::add, "noSuchAttribute", {"x"}}}),
              ErrorCode::invalid_attribute, 17, "an attribute outside the schema");
  expect_code(connection.rename(user_dn("erin"), "not an rdn", std::nullopt, OldRdn::remove),
              ErrorCode::invalid_dn, 34, "a new RDN that does not parse");

  // The failed modify that mixed a good change with a bad one applied neither (atomic).
  expect_code(connection.modify(user_dn("erin"), {{ModifyOp::replace, "title", {"Boss"}},
                                                  {ModifyOp::remove, "mail", {"nope"}}}),
              ErrorCode::no_such_attribute, 16, "half-bad modify");
  const auto erin = connection.read(user_dn("erin"), {"*"}).value();
  EXPECT_EQ(erin.find("title"), nullptr);
  EXPECT_EQ(values_of(erin, "mail"), std::set<std::string>{"erin@example.com"});
}

TEST(Write, InvalidRequestsAreRefusedBeforeSending) {
  Directory directory;
  directory.slapd.add_ldif(user_ldif("gina"));
  auto connection = directory.connect();
  const auto expect_invalid = [](const auto& result, const char* what) {
    ASSERT_FALSE(result) << what;
    EXPECT_EQ(result.error().code, ErrorCode::invalid_request)
        << what << ": " << result.error().message;
  };
  expect_invalid(connection.modify("", {{ModifyOp::replace, "mail", {"x"}}}), "empty DN");
  expect_invalid(connection.modify(user_dn("gina"), {}), "no modifications");
  expect_invalid(connection.modify(user_dn("gina"), {{ModifyOp::add, "title", {}}}),
                 "add without values");
  expect_invalid(connection.modify(user_dn("gina"), {{ModifyOp::replace, "", {"x"}}}),
                 "no attribute name");
  expect_invalid(connection.add(user_dn("hank"), {{"objectClass", {}}}),
                 "attribute without values");
  WriteOptions broken;
  broken.assertion = "(mail=gina@example.com";
  expect_invalid(connection.modify(user_dn("gina"), {{ModifyOp::replace, "title", {"x"}}}, broken),
                 "unbalanced assertion filter");
  WriteOptions pre_read;
  pre_read.pre_read = {"mail"};
  expect_invalid(connection.add(user_dn("hank"), person("hank"), pre_read), "pre-read on add");
  WriteOptions post_read;
  post_read.post_read = {"mail"};
  expect_invalid(connection.remove(user_dn("gina"), post_read), "post-read on delete");
  expect_invalid(connection.password_modify(user_dn("gina"), Password("")), "empty password");

  const auto gina = connection.read(user_dn("gina"), {"*"}).value();
  EXPECT_EQ(gina.find("title"), nullptr);
  EXPECT_FALSE(connection.read(user_dn("hank"), {}));
  // The Connection is still fine after refusals.
  EXPECT_TRUE(connection.who_am_i());
}

TEST(Write, PasswordValuesNeverAppearInErrors) {
  Directory directory;
  auto connection = directory.connect();
  const std::string secret = "Sup3r-secret-value";
  // Missing parent: the add fails with userPassword among the attributes.
  auto attributes = person("ivy");
  attributes.push_back({"userPassword", {secret}});
  auto failed = connection.add(user_dn("ivy", "ou=nowhere,dc=example,dc=com"), attributes);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message.find(secret), std::string::npos) << failed.error().message;
  auto modify_failed =
      connection.modify(user_dn("nobody"), {{ModifyOp::replace, "userPassword", {secret}}});
  ASSERT_FALSE(modify_failed);
  EXPECT_EQ(modify_failed.error().message.find(secret), std::string::npos);
}

TEST(Write, KilledServerIsTransientAndTheConnectionStaysDead) {
  Directory directory;
  directory.slapd.add_ldif(user_ldif("jack"));
  auto connection = directory.connect();
  directory.slapd.kill();
  auto lost = connection.modify(user_dn("jack"), {{ModifyOp::replace, "title", {"Lost"}}});
  ASSERT_FALSE(lost);
  EXPECT_TRUE(is_transient(lost.error().code))
      << to_string(lost.error().code) << ": " << lost.error().message;

  // Back on the same data: the old Connection refuses every write without reconnecting, so
  // nothing reaches the server unbound.
  directory.slapd.start();
  auto again = connection.modify(user_dn("jack"), {{ModifyOp::replace, "title", {"Unbound"}}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::unreachable);
  EXPECT_FALSE(connection.add(user_dn("kate"), person("kate")));
  EXPECT_FALSE(connection.remove(user_dn("jack")));
  EXPECT_FALSE(connection.rename(user_dn("jack"), "uid=jacques", std::nullopt, OldRdn::remove));
  EXPECT_FALSE(connection.password_modify(user_dn("jack"), Password("whatever-1")));
  const auto pipelined = connection.modify_pipelined(
      {{user_dn("jack"), {{ModifyOp::replace, "title", {"Piped"}}}, {}}});
  ASSERT_EQ(pipelined.size(), 1u);
  EXPECT_FALSE(pipelined[0]);

  auto fresh = directory.connect();
  const auto jack = fresh.read(user_dn("jack"), {"*"}).value();
  EXPECT_EQ(jack.find("title"), nullptr);
  EXPECT_FALSE(fresh.read(user_dn("kate"), {}));
}

// SIGSTOP is delivered asynchronously: wait until every thread of `pid` is stopped ('T').
bool wait_until_stopped(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  while (std::chrono::steady_clock::now() < deadline) {
    bool all_stopped = true;
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
      std::ifstream stat(task.path() / "stat");
      std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
      const auto after_name = text.rfind(") ");
      all_stopped = all_stopped && after_name != std::string::npos &&
                    after_name + 2 < text.size() && text[after_name + 2] == 'T';
    }
    if (all_stopped) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// A server that stops answering (SIGSTOP: the connection stays open, nothing replies) makes a
// write a timeout within operation_timeout, after which the Connection is dead.
TEST(Write, SilentServerIsATimeoutAndTheConnectionStaysDead) {
  Directory directory;
  directory.slapd.add_ldif(user_ldif("lena") + user_ldif("mike"));
  auto settings = as_root(directory.slapd);
  settings.operation_timeout = std::chrono::milliseconds(700);
  auto connection = Connection::open(settings).value();
  auto pipelined_connection = Connection::open(settings).value();
  ASSERT_EQ(::kill(directory.slapd.pid(), SIGSTOP), 0);
  ASSERT_TRUE(wait_until_stopped(directory.slapd.pid()));
  const auto started = std::chrono::steady_clock::now();
  auto silent = connection.modify(user_dn("lena"), {{ModifyOp::replace, "title", {"Silent"}}});
  const auto waited = std::chrono::steady_clock::now() - started;
  const auto pipelined = pipelined_connection.modify_pipelined(
      {{user_dn("lena"), {{ModifyOp::replace, "title", {"A"}}}, {}},
       {user_dn("mike"), {{ModifyOp::replace, "title", {"B"}}}, {}},
       {user_dn("lena"), {{ModifyOp::replace, "title", {"C"}}}, {}}},
      2);
  ASSERT_EQ(::kill(directory.slapd.pid(), SIGCONT), 0);
  ASSERT_FALSE(silent);
  EXPECT_EQ(silent.error().code, ErrorCode::timeout) << silent.error().message;
  EXPECT_TRUE(is_transient(silent.error().code));
  EXPECT_NE(silent.error().message.find("unknown"), std::string::npos);
  EXPECT_GE(waited, std::chrono::milliseconds(600));
  EXPECT_LT(waited, std::chrono::seconds(5));
  auto after = connection.modify(user_dn("lena"), {{ModifyOp::replace, "title", {"After"}}});
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, ErrorCode::unreachable);

  // The two requests in flight time out; the third (same DN as the first) was never sent.
  ASSERT_EQ(pipelined.size(), 3u);
  ASSERT_FALSE(pipelined[0]);
  EXPECT_EQ(pipelined[0].error().code, ErrorCode::timeout);
  ASSERT_FALSE(pipelined[1]);
  EXPECT_EQ(pipelined[1].error().code, ErrorCode::timeout);
  ASSERT_FALSE(pipelined[2]);
  EXPECT_EQ(pipelined[2].error().code, ErrorCode::unreachable);
  auto fresh = directory.connect();
  EXPECT_NE(value_of(fresh.read(user_dn("lena"), {"title"}).value(), "title"), "C");
}

TEST(Write, LargeMemberAttributeGainsOneAndLosesOne) {
  Directory directory;
  std::string ldif;
  for (int i = 0; i <= 1600; ++i) {
    ldif += user_ldif("member" + std::to_string(i));
  }
  ldif += "dn: cn=everyone,dc=example,dc=com\nobjectClass: groupOfNames\ncn: everyone\n";
  for (int i = 0; i < 1600; ++i) {
    ldif += "member: " + user_dn("member" + std::to_string(i)) + "\n";
  }
  directory.slapd.add_ldif(ldif);
  auto connection = directory.connect();
  const std::string group = "cn=everyone,dc=example,dc=com";
  // No assertion: see SlapdMemberofAppliesTheAssertionToMembers.
  WriteOptions options;
  options.post_read = {"entryCSN"};
  auto modified = connection.modify(group,
                                    {{ModifyOp::add, "member", {user_dn("member1600")}},
                                     {ModifyOp::remove, "member", {user_dn("member0")}}},
                                    options);
  ASSERT_TRUE(modified) << modified.error().message;
  ASSERT_TRUE(modified->post_read);
  const auto read = connection.read(group, {"member"}).value();
  const auto members = values_of(read, "member");
  EXPECT_EQ(members.size(), 1600u);
  EXPECT_EQ(members.count(user_dn("member1600")), 1u);
  EXPECT_EQ(members.count(user_dn("member0")), 0u);
  EXPECT_EQ(members.count(user_dn("member1599")), 1u);
  // The memberof overlay followed the change on both users.
  EXPECT_EQ(values_of(connection.read(user_dn("member1600"), {"memberOf"}).value(), "memberOf"),
            std::set<std::string>{group});
  EXPECT_EQ(connection.read(user_dn("member0"), {"memberOf"}).value().find("memberOf"), nullptr);
}

// Observed on slapd 2.5.13, pinned so that a fix shows up: the memberof overlay runs its
// internal memberOf updates of the member entries with the client's assertion control, so a
// member that does not match the group's assertion silently keeps a stale memberOf. Membership
// write-back therefore sends no assertion: adding a present value (20) and removing an absent
// one (16) already fail on their own.
TEST(Write, SlapdMemberofAppliesTheAssertionToMembers) {
  Directory directory;
  directory.slapd.add_ldif(user_ldif("m1") + user_ldif("m2") + user_ldif("m3") +
                           "dn: cn=team,dc=example,dc=com\nobjectClass: groupOfNames\ncn: "
                           "team\nmember: " +
                           user_dn("m1") + "\n\n");
  auto connection = directory.connect();
  const std::string group = "cn=team,dc=example,dc=com";
  const auto member_of = [&](const std::string& uid) {
    return values_of(connection.read(user_dn(uid), {"memberOf"}).value(), "memberOf");
  };
  WriteOptions group_only;
  group_only.assertion = "(cn=team)";
  ASSERT_TRUE(connection.modify(group, {{ModifyOp::add, "member", {user_dn("m2")}}}, group_only));
  EXPECT_EQ(values_of(connection.read(group, {"member"}).value(), "member").size(), 2u);
  EXPECT_EQ(member_of("m2"), std::set<std::string>{}) << "slapd's memberof was fixed: update "
                                                         "docs/ldap.md (Writing)";
  WriteOptions matches_all;
  matches_all.assertion = "(objectClass=*)";
  ASSERT_TRUE(connection.modify(group, {{ModifyOp::add, "member", {user_dn("m3")}}}, matches_all));
  EXPECT_EQ(member_of("m3"), std::set<std::string>{group});
}

TEST(Write, PipelinedModifiesAreEachAppliedAndReportedInOrder) {
  Directory directory;
  std::string ldif;
  constexpr int users = 300;
  for (int i = 0; i < users; ++i) {
    ldif += user_ldif("p" + std::to_string(i));
  }
  directory.slapd.add_ldif(ldif);
  auto connection = directory.connect();
  std::vector<ModifyRequest> requests;
  for (int i = 0; i < users; ++i) {
    requests.push_back({user_dn("p" + std::to_string(i)),
                        {{ModifyOp::replace, "title", {"title " + std::to_string(i)}}},
                        {}});
  }
  // A missing entry in the middle fails alone; two changes of one DN keep their order.
  requests.insert(requests.begin() + 100,
                  ModifyRequest{user_dn("nobody"), {{ModifyOp::replace, "title", {"x"}}}, {}});
  requests.push_back({user_dn("p7"), {{ModifyOp::replace, "title", {"second"}}}, {}});
  WriteOptions asserted;
  asserted.assertion = "(title=second)";
  asserted.post_read = {"title"};
  requests.push_back({user_dn("p7"), {{ModifyOp::replace, "title", {"third"}}}, asserted});

  const auto results = connection.modify_pipelined(requests, 16);
  ASSERT_EQ(results.size(), requests.size());
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (i == 100) {
      ASSERT_FALSE(results[i]);
      EXPECT_EQ(results[i].error().code, ErrorCode::no_such_object);
      EXPECT_NE(results[i].error().message.find("uid=nobody"), std::string::npos);
    } else {
      EXPECT_TRUE(results[i]) << i << ": " << results[i].error().message;
    }
  }
  ASSERT_TRUE(results.back());
  ASSERT_TRUE(results.back()->post_read);
  EXPECT_EQ(value_of(*results.back()->post_read, "title"), "third");

  SearchRequest search;
  search.base_dn = people;
  search.filter = "(objectClass=inetOrgPerson)";
  search.attributes = {"uid", "title"};
  std::size_t checked = 0;
  const auto outcome = connection.search(search, [&](const std::vector<Entry>& page) {
    for (const auto& entry : page) {
      const auto uid = value_of(entry, "uid");
      const auto expected = uid == "p7" ? "third" : "title " + uid.substr(1);
      EXPECT_EQ(value_of(entry, "title"), expected) << uid;
      ++checked;
    }
  });
  ASSERT_TRUE(outcome.complete()) << outcome.detail;
  EXPECT_EQ(checked, static_cast<std::size_t>(users));
}

}  // namespace
}  // namespace idbridge::ldap
