// Write-back end to end (issue 5): a private slapd, the real daemon with a [directories] section
// that takes writes, SCIM over a real socket. A SCIM change reaches the directory and the next
// sync turns it into nothing; a write to a directory-owned attribute is refused; a SCIM-created
// user becomes an entry and is linked to it; with slapd stopped SCIM keeps answering and the
// queued writes arrive in order once it is back; a concurrent directory edit of an attribute the
// directory owns wins and the SCIM value is kept in a conflict record.
#include "idbridge/testing/http_client.hpp"
#include "idbridge/testing/process.hpp"
#include "idbridge/testing/slapd.hpp"
#include "idbridge/testing/temp_dir.hpp"
#include "idbridge/testing/test_pki.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace idbridge::testing {
namespace {

using ::testing::HasSubstr;

const std::string kBinary = IDBRIDGED_PATH;
const std::string kToken = "writeback-token-0123456789abcdef";

std::string person(const std::string& uid, const std::string& title) {
  return "dn: uid=" + uid +
         ",ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: " + uid + "\ncn: " + uid +
         " Person\ngivenName: " + uid + "\nsn: Person\nmail: " + uid +
         "@example.com\ntitle: " + title + "\n\n";
}

template <class Probe>
bool eventually(Probe&& probe, std::chrono::seconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

struct Scim {
  explicit Scim(std::uint16_t port) : http("127.0.0.1", port) {}
  HttpConnection http;
  Headers auth{{"Authorization", "Bearer " + kToken}, {"Content-Type", "application/scim+json"}};

  nlohmann::json find(const std::string& user_name) {
    const auto response = http.request(
        "GET", "/scim/v2/tenants/acme/Users?filter=userName%20eq%20%22" + user_name + "%22", {},
        auth);
    const auto body = nlohmann::json::parse(response.body);
    return body.value("totalResults", 0) == 1 ? body["Resources"][0] : nlohmann::json();
  }
  HttpResponse patch(const std::string& id, const std::string& path, const std::string& value) {
    const nlohmann::json body = {
        {"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
        {"Operations", {{{"op", "replace"}, {"path", path}, {"value", value}}}}};
    return http.request("PATCH", "/scim/v2/tenants/acme/Users/" + id, body.dump(), auth);
  }
  // The id of the tenant group named `display_name`, "" when there is none.
  std::string group_id(const std::string& display_name) {
    const auto body = nlohmann::json::parse(
        http.request(
                "GET",
                "/scim/v2/tenants/acme/Groups?filter=displayName%20eq%20%22" + display_name + "%22",
                {}, auth)
            .body);
    return body.value("totalResults", 0) == 1 ? body["Resources"][0].value("id", "") : "";
  }
  nlohmann::json status() {
    return nlohmann::json::parse(http.request("GET", "/status", {}, auth).body)["directories"][0];
  }
};

class WriteBackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    slapd_.add_ldif(
        "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n" +
        person("ann", "Engineer") + person("bob", "Analyst"));
  }

  // `operations`: the writeback.operations list; `writeback` more lines for that table;
  // `tables`: more tables of the directory (rules), placed before [directories.corp.writeback].
  std::string config(const std::string& authority,
                     const std::string& operations = "\"create\", \"modify\"",
                     const std::string& writeback = "", const std::string& tables = "") {
    const auto password_file = dir_.write("ldap.password", slapd_.options().root_password + "\n");
    const auto token_file = dir_.write("tenant.token", kToken + "\n");
    return "state_dir = \"" + dir_.file("state") +
           "\"\n\n[server]\nlisten = \"127.0.0.1:0\"\nplain_http = true\n\n"
           "[logging]\nlevel = \"info\"\n\n[tenants.acme]\ndisplay_name = \"Acme\"\n\n"
           "[[tenants.acme.credentials]]\nname = \"okta\"\ntoken = { file = \"" +
           token_file +
           "\" }\nrole_ceiling = \"administrator\"\n\n"
           "[directories.corp]\ntenant = \"acme\"\nkind = \"openldap\"\nuri = \"" +
           slapd_.uri() + "\"\nbind_dn = \"" + slapd_.options().root_dn +
           "\"\nbind_password = { file = \"" + password_file +
           "\" }\ntimeout_seconds = 5\nfull_sync_interval_seconds = 0\n"
           "incremental_sync_interval_seconds = " +
           std::to_string(incremental_interval_) +
           "\n\n"
           "[directories.corp.users]\nbase_dns = [\"ou=people,dc=example,dc=com\"]\n"
           "[directories.corp.users.attributes]\nuserName = \"{uid}\"\n"
           "name.givenName = \"{givenName}\"\nname.familyName = \"{sn}\"\n"
           "emails.primary = \"{mail}\"\ntitle = \"{title}\"\n"
           "displayName = \"{cn}\"\n\n" +
           tables + "[directories.corp.writeback]\noperations = [" + operations + "]\n" +
           writeback +
           "user_dn = \"uid={userName},ou=people,dc=example,dc=com\"\n"
           "object_classes = [\"inetOrgPerson\"]\n"
           "accept_scim_writes = [\"displayName\", \"userName\"]\n"
           "[directories.corp.writeback.create_attributes]\nsn = \"{name.familyName}\"\n"
           "cn = \"{displayName}\"\n\n"
           "[directories.corp.authority]\n" +
           authority;
  }

  // Every value of one attribute of the entry `dn`, through ldapsearch as the rootdn (none when
  // the entry or the attribute is absent).
  std::vector<std::string> ldap_values(const std::string& dn, const std::string& attribute) {
    const auto result =
        run_command({"/usr/bin/ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", slapd_.uri(),
                     "-D", slapd_.options().root_dn, "-w", slapd_.options().root_password, "-b", dn,
                     "-s", "base", attribute});
    std::vector<std::string> values;
    const std::string prefix = "\n" + attribute + ": ";
    for (auto at = result.out.find(prefix); at != std::string::npos;
         at = result.out.find(prefix, at + 1)) {
      const auto start = at + prefix.size();
      values.push_back(result.out.substr(start, result.out.find('\n', start) - start));
    }
    return values;
  }

  // One attribute of uid=`uid`,ou=people ("" when absent).
  std::string ldap_value(const std::string& uid, const std::string& attribute) {
    const auto values = ldap_values("uid=" + uid + ",ou=people,dc=example,dc=com", attribute);
    return values.empty() ? std::string() : values.front();
  }

  void ldap_modify(const std::string& ldif) { slapd_.modify_ldif(ldif); }

  // Starts the daemon on `toml` (after stopping a running one) and waits until its first sync
  // made ann and bob tenant users.
  void start(const std::string& toml) {
    scim_.reset();
    daemon_.reset();
    daemon_.emplace(kBinary, dir_, toml);
    const auto port = daemon_->wait_listening();
    ASSERT_NE(port, 0) << daemon_->stderr_text();
    scim_.emplace(port);
    ASSERT_TRUE(eventually([&] {
      return !scim_->find("ann").is_null() && !scim_->find("bob").is_null();
    })) << daemon_->stderr_text();
  }

  int incremental_interval_ = 1;  // seconds between scheduled incremental syncs
  TempDir dir_;
  TempDir slapd_dir_;
  Slapd slapd_{slapd_dir_};
  std::optional<DaemonProcess> daemon_;
  std::optional<Scim> scim_;
};

TEST_F(WriteBackTest, AScimChangeReachesTheDirectoryAndTheNextSyncChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(start(config("title = \"scim\"\n")));
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;
  const auto ann = scim.find("ann");

  const auto patched = scim.patch(ann["id"], "title", "Staff Engineer");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_TRUE(eventually([&] { return ldap_value("ann", "title") == "Staff Engineer"; }))
      << daemon.stderr_text();

  // The next incremental runs read ann's entry (its modifyTimestamp moved) and find nothing to
  // do: the directory now holds what the tenant holds.
  nlohmann::json corp;
  ASSERT_TRUE(eventually([&] {
    corp = scim.status();
    const auto& runs = corp["recentRuns"];
    return runs.size() >= 3 && runs[0]["outcome"] == "unchanged" &&
           runs[1]["outcome"] == "unchanged" && corp["writeBack"]["pending"] == 0;
  })) << corp.dump(2);
  EXPECT_EQ(scim.find("ann")["title"], "Staff Engineer");
  EXPECT_EQ(scim.find("ann")["meta"]["version"],
            nlohmann::json::parse(patched.body)["meta"]["version"])
      << "no sync rewrote the user after the write-back";
  EXPECT_EQ(corp["writeBack"]["enabled"], true);
  EXPECT_EQ(corp["writeBack"]["parked"], 0);
  EXPECT_EQ(corp["writeBack"]["conflicts"], 0);
}

TEST_F(WriteBackTest, AWriteToADirectoryOwnedAttributeIsRefusedAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(start(config("title = \"scim\"\n")));
  Scim& scim = *scim_;
  const auto ann = scim.find("ann");

  const auto refused = scim.patch(ann["id"], "name.givenName", "Annette");
  EXPECT_EQ(refused.status, 400) << refused.body;
  const auto error = nlohmann::json::parse(refused.body);
  EXPECT_EQ(error["scimType"], "mutability");
  EXPECT_THAT(error["detail"].get<std::string>(), HasSubstr("owned by directory 'corp'"));
  EXPECT_EQ(scim.find("ann")["name"]["givenName"], "ann");
  EXPECT_EQ(scim.find("ann")["meta"]["version"], ann["meta"]["version"]);
  EXPECT_EQ(ldap_value("ann", "givenName"), "ann");
  EXPECT_EQ(scim.status()["writeBack"]["pending"], 0) << "nothing was queued";
}

TEST_F(WriteBackTest, AScimCreatedUserBecomesAnEntryAndIsLinkedToIt) {
  ASSERT_NO_FATAL_FAILURE(start(config("title = \"scim\"\n")));
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;

  // A userName that needs DN escaping must not change the entry's place in the tree.
  const nlohmann::json carol = {
      {"schemas", {"urn:ietf:params:scim:schemas:core:2.0:User"}},
      {"userName", "carol+x"},
      {"name", {{"givenName", "Carol"}, {"familyName", "Jones"}}},
      {"displayName", "Carol Jones"},
      {"title", "Buyer"},
      {"emails", {{{"value", "carol@example.com"}, {"type", "work"}, {"primary", true}}}}};
  const auto created =
      scim.http.request("POST", "/scim/v2/tenants/acme/Users", carol.dump(), scim.auth);
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_TRUE(eventually([&] { return ldap_value("carol\\+x", "sn") == "Jones"; }))
      << daemon.stderr_text();
  EXPECT_EQ(ldap_value("carol\\+x", "mail"), "carol@example.com");
  EXPECT_EQ(ldap_value("carol\\+x", "title"), "Buyer");
  EXPECT_EQ(ldap_value("carol\\+x", "cn"), "Carol Jones");

  // Linked: later syncs see the entry as this user's (no second user, no adoption refusal).
  nlohmann::json corp;
  ASSERT_TRUE(eventually([&] {
    corp = scim.status();
    return corp["recentRuns"].size() >= 2 && corp["recentRuns"][0]["outcome"] == "unchanged" &&
           corp["writeBack"]["pending"] == 0;
  })) << corp.dump(2);
  const auto listed = nlohmann::json::parse(
      scim.http.request("GET", "/scim/v2/tenants/acme/Users?count=0", {}, scim.auth).body);
  EXPECT_EQ(listed["totalResults"], 3);
  EXPECT_EQ(scim.find("carol%2Bx")["id"], nlohmann::json::parse(created.body)["id"]);
}

TEST_F(WriteBackTest, AScimChangeWakesDeliveryAtOnceInsteadOfWaitingForThePoll) {
  // The worker looks at the outbox on its own only every 30 s; its first look was at start.
  ASSERT_NO_FATAL_FAILURE(
      start(config("title = \"scim\"\n", "\"modify\"", "poll_interval_seconds = 30\n")));
  Scim& scim = *scim_;
  const std::string ann = scim.find("ann")["id"];
  for (const std::string title : {"Lead", "Principal"}) {
    ASSERT_EQ(scim.patch(ann, "title", title).status, 200);
    const auto answered = std::chrono::steady_clock::now();
    ASSERT_TRUE(
        eventually([&] { return ldap_value("ann", "title") == title; }, std::chrono::seconds(5)))
        << "not delivered within 5 s: " << daemon_->stderr_text();
    EXPECT_LT(std::chrono::steady_clock::now() - answered, std::chrono::seconds(5));
  }
  EXPECT_EQ(scim.status()["writeBack"]["pending"], 0);
}

TEST_F(WriteBackTest, WritesQueuedWhileTheDirectoryIsDownArriveInOrderOnceItIsBack) {
  ASSERT_NO_FATAL_FAILURE(start(config("title = \"scim\"\n")));
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;
  const std::string ann = scim.find("ann")["id"];
  const std::string bob = scim.find("bob")["id"];

  slapd_.stop();
  const auto started = std::chrono::steady_clock::now();
  for (const std::string title : {"One", "Two", "Three"}) {
    EXPECT_EQ(scim.patch(ann, "title", "Ann " + title).status, 200);
    EXPECT_EQ(scim.patch(bob, "title", "Bob " + title).status, 200);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2))
      << "SCIM only queues: a stopped directory does not slow it down";
  const auto queued = scim.status()["writeBack"];
  EXPECT_EQ(queued["pending"], 6) << queued.dump();
  EXPECT_TRUE(queued.contains("oldestPendingAgeSeconds")) << queued.dump();

  slapd_.start();
  ASSERT_TRUE(eventually([&] { return scim.status()["writeBack"]["pending"] == 0; },
                         std::chrono::seconds(40)))
      << daemon.stderr_text();
  EXPECT_EQ(ldap_value("ann", "title"), "Ann Three") << "the last write is the one that stays";
  EXPECT_EQ(ldap_value("bob", "title"), "Bob Three");
  EXPECT_EQ(scim.status()["writeBack"]["parked"], 0);
  EXPECT_EQ(scim.status()["writeBack"]["conflicts"], 0)
      << "each write asserted the previous one's value: in order, nothing conflicted";
}

TEST_F(WriteBackTest, AConcurrentDirectoryEditOfADirectoryOwnedAttributeWinsWithAConflictRecord) {
  // displayName is the directory's, but it accepts SCIM writes (accept_scim_writes). No
  // scheduled sync after the first: both edits happen "between two syncs".
  incremental_interval_ = 3600;
  ASSERT_NO_FATAL_FAILURE(start(config("title = \"scim\"\n")));
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;
  const std::string ann = scim.find("ann")["id"];

  // The directory's admin edits the attribute, then Okta does, before any sync saw the first.
  ldap_modify(
      "dn: uid=ann,ou=people,dc=example,dc=com\nchangetype: modify\nreplace: cn\n"
      "cn: Ann from AD\n\n");
  ASSERT_EQ(scim.patch(ann, "displayName", "Ann from Okta").status, 200);
  ASSERT_TRUE(eventually([&] { return scim.status()["writeBack"]["pending"] == 0; },
                         std::chrono::seconds(40)))
      << daemon.stderr_text();
  EXPECT_EQ(ldap_value("ann", "cn"), "Ann from AD") << "the owner's value stays";
  const auto corp = scim.status();
  EXPECT_EQ(corp["writeBack"]["conflicts"], 1) << corp.dump(2);
  // The next sync gives the tenant the directory's value.
  const auto synced = run_command(
      {kBinary, "sync", "--config", daemon.config_path(), "--directory", "corp", "--incremental"},
      std::chrono::seconds(60));
  EXPECT_EQ(synced.status.code, 0) << synced.out << synced.err;
  EXPECT_EQ(scim.find("ann")["displayName"], "Ann from AD");
  const auto conflicts = run_command(
      {kBinary, "writeback", "--config", daemon.config_path(), "--conflicts", "--json"});
  ASSERT_EQ(conflicts.status.code, 0) << conflicts.err;
  const auto listed = nlohmann::json::parse(conflicts.out);
  ASSERT_EQ(listed.size(), 1U) << conflicts.out;
  EXPECT_EQ(listed[0]["attribute"], "displayName");
  EXPECT_EQ(listed[0]["kept"], "Ann from AD");
  EXPECT_EQ(listed[0]["lost"], "Ann from Okta");
  EXPECT_EQ(listed[0]["owner"], "directory");
}

TEST_F(WriteBackTest, ADirectoryEditOfWhatSCIMOwnsIsUndoneInTheDirectoryWithAConflictRecord) {
  // title is SCIM's. A directory admin changes it with nothing queued: the owner's value goes
  // back into the entry, the directory's is kept as a conflict, and the tenant never moves.
  ASSERT_NO_FATAL_FAILURE(start(config("title = \"scim\"\n")));
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;
  const auto ann = scim.find("ann");
  const auto patched = scim.patch(ann["id"], "title", "Staff Engineer");
  ASSERT_EQ(patched.status, 200) << patched.body;
  ASSERT_TRUE(eventually([&] { return ldap_value("ann", "title") == "Staff Engineer"; }))
      << daemon.stderr_text();

  ldap_modify(
      "dn: uid=ann,ou=people,dc=example,dc=com\nchangetype: modify\nreplace: title\n"
      "title: Director\n\n");
  nlohmann::json corp;
  ASSERT_TRUE(eventually([&] {
    corp = scim.status();
    return corp["writeBack"]["conflicts"] == 1 && corp["writeBack"]["pending"] == 0 &&
           ldap_value("ann", "title") == "Staff Engineer";
  })) << corp.dump(2)
      << daemon.stderr_text();
  EXPECT_EQ(scim.find("ann")["title"], "Staff Engineer");
  EXPECT_EQ(scim.find("ann")["meta"]["version"],
            nlohmann::json::parse(patched.body)["meta"]["version"])
      << "the tenant user was not rewritten: only the directory was corrected";
  const auto conflicts = run_command(
      {kBinary, "writeback", "--config", daemon.config_path(), "--conflicts", "--json"});
  ASSERT_EQ(conflicts.status.code, 0) << conflicts.err;
  const auto listed = nlohmann::json::parse(conflicts.out);
  ASSERT_EQ(listed.size(), 1U) << conflicts.out;
  EXPECT_EQ(listed[0]["attribute"], "title");
  EXPECT_EQ(listed[0]["kept"], "Staff Engineer");
  EXPECT_EQ(listed[0]["lost"], "Director");
  EXPECT_EQ(listed[0]["owner"], "scim");

  // Corrected once: the following runs find the entry as the tenant has it.
  ASSERT_TRUE(eventually([&] {
    corp = scim.status();
    const auto& runs = corp["recentRuns"];
    return runs.size() >= 2 && runs[0]["outcome"] == "unchanged" &&
           runs[1]["outcome"] == "unchanged";
  })) << corp.dump(2);
  EXPECT_EQ(scim.status()["writeBack"]["conflicts"], 1);
}

TEST_F(WriteBackTest, EveryKindOfWriteRoundTripsAndTheNextSyncChangesNothing) {
  slapd_.add_ldif(
      "dn: ou=groups,dc=example,dc=com\nobjectClass: organizationalUnit\nou: groups\n\n"
      "dn: cn=staff,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: staff\n"
      "member: uid=ann,ou=people,dc=example,dc=com\n\n");
  const std::string staff_dn = "cn=staff,ou=groups,dc=example,dc=com";
  ASSERT_NO_FATAL_FAILURE(
      start(config("title = \"scim\"\n",
                   "\"create\", \"modify\", \"rename\", \"disable\", \"remove\", \"groups\"",
                   "disable = \"attribute\"\ndisable_attribute = \"employeeType\"\n"
                   "disabled_value = \"disabled\"\n",
                   "[directories.corp.disabled]\nkind = \"attribute_equals\"\n"
                   "attribute = \"employeeType\"\nvalue = \"disabled\"\n\n"
                   "[[directories.corp.groups]]\ngroup = \"" +
                       staff_dn + "\"\ntenant_group = \"Staff\"\n\n")));
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;
  const std::string ann = scim.find("ann")["id"];
  const std::string bob = scim.find("bob")["id"];
  const std::string staff = scim.group_id("Staff");
  ASSERT_FALSE(staff.empty());

  // Rename: userName is the entry's naming attribute, so a modRDN.
  ASSERT_EQ(scim.patch(bob, "userName", "robert").status, 200);
  // Disable: active=false as Okta and Entra deprovision.
  const nlohmann::json deactivate = {
      {"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
      {"Operations", {{{"op", "replace"}, {"value", {{"active", false}}}}}}};
  ASSERT_EQ(
      scim.http.request("PATCH", "/scim/v2/tenants/acme/Users/" + ann, deactivate.dump(), scim.auth)
          .status,
      200);
  // Group membership: robert joins Staff.
  const nlohmann::json join = {
      {"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
      {"Operations", {{{"op", "add"}, {"path", "members"}, {"value", {{{"value", bob}}}}}}}};
  const auto joined =
      scim.http.request("PATCH", "/scim/v2/tenants/acme/Groups/" + staff, join.dump(), scim.auth);
  ASSERT_LT(joined.status, 300) << joined.body;
  // Create then delete.
  const nlohmann::json dave = {{"schemas", {"urn:ietf:params:scim:schemas:core:2.0:User"}},
                               {"userName", "dave"},
                               {"name", {{"givenName", "Dave"}, {"familyName", "Doe"}}},
                               {"displayName", "Dave Doe"}};
  const auto created =
      scim.http.request("POST", "/scim/v2/tenants/acme/Users", dave.dump(), scim.auth);
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_TRUE(eventually([&] { return ldap_value("dave", "sn") == "Doe"; }))
      << daemon.stderr_text();
  const std::string dave_id = nlohmann::json::parse(created.body)["id"];
  ASSERT_TRUE(eventually([&] { return scim.status()["writeBack"]["pending"] == 0; }));
  EXPECT_EQ(
      scim.http.request("DELETE", "/scim/v2/tenants/acme/Users/" + dave_id, {}, scim.auth).status,
      204);

  EXPECT_TRUE(eventually([&] { return ldap_value("robert", "uid") == "robert"; }))
      << daemon.stderr_text();
  EXPECT_EQ(ldap_value("bob", "uid"), "") << "renamed, not copied";
  EXPECT_TRUE(eventually([&] { return ldap_value("ann", "employeeType") == "disabled"; }));
  EXPECT_TRUE(eventually([&] {
    const auto members = ldap_values(staff_dn, "member");
    return std::find(members.begin(), members.end(), "uid=robert,ou=people,dc=example,dc=com") !=
           members.end();
  })) << daemon.stderr_text();
  EXPECT_TRUE(eventually([&] { return ldap_value("dave", "uid").empty(); }));

  // Two syncs after everything landed find nothing to change, and the tenant is as SCIM left it.
  nlohmann::json corp;
  ASSERT_TRUE(eventually([&] {
    corp = scim.status();
    const auto& runs = corp["recentRuns"];
    return corp["writeBack"]["pending"] == 0 && runs.size() >= 2 &&
           runs[0]["outcome"] == "unchanged" && runs[1]["outcome"] == "unchanged";
  })) << corp.dump(2);
  EXPECT_EQ(corp["writeBack"]["parked"], 0) << corp.dump(2);
  EXPECT_EQ(corp["writeBack"]["conflicts"], 0) << corp.dump(2);
  EXPECT_EQ(scim.find("robert")["id"], bob);
  EXPECT_EQ(scim.find("ann")["active"], false);
  EXPECT_TRUE(scim.find("dave").is_null());
  const auto members = nlohmann::json::parse(
      scim.http.request("GET", "/scim/v2/tenants/acme/Groups/" + staff, {}, scim.auth).body);
  EXPECT_EQ(members["members"].size(), 2U) << members.dump();
}

TEST_F(WriteBackTest, EnableMembershipRemovalAndAMoveInsteadOfADeleteRoundTrip) {
  slapd_.add_ldif(
      "dn: ou=groups,dc=example,dc=com\nobjectClass: organizationalUnit\nou: groups\n\n"
      "dn: ou=gone,dc=example,dc=com\nobjectClass: organizationalUnit\nou: gone\n\n"
      "dn: cn=staff,ou=groups,dc=example,dc=com\nobjectClass: groupOfNames\ncn: staff\n"
      "member: uid=ann,ou=people,dc=example,dc=com\n"
      "member: uid=bob,ou=people,dc=example,dc=com\n\n");
  const std::string staff_dn = "cn=staff,ou=groups,dc=example,dc=com";
  ASSERT_NO_FATAL_FAILURE(start(
      config("title = \"scim\"\n", "\"modify\", \"disable\", \"remove\", \"groups\"",
             "disable = \"attribute\"\ndisable_attribute = \"employeeType\"\n"
             "disabled_value = \"disabled\"\nmove_deleted_to = \"ou=gone,dc=example,dc=com\"\n",
             "[directories.corp.disabled]\nkind = \"attribute_equals\"\n"
             "attribute = \"employeeType\"\nvalue = \"disabled\"\n\n"
             "[[directories.corp.groups]]\ngroup = \"" +
                 staff_dn + "\"\ntenant_group = \"Staff\"\n\n")));
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;
  const std::string ann = scim.find("ann")["id"];
  const std::string bob = scim.find("bob")["id"];
  const auto active = [&](bool value) {
    const nlohmann::json body = {
        {"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
        {"Operations", {{{"op", "replace"}, {"path", "active"}, {"value", value}}}}};
    return scim.http.request("PATCH", "/scim/v2/tenants/acme/Users/" + ann, body.dump(), scim.auth)
        .status;
  };
  ASSERT_EQ(active(false), 200);
  ASSERT_TRUE(eventually([&] { return ldap_value("ann", "employeeType") == "disabled"; }))
      << daemon.stderr_text();
  ASSERT_EQ(active(true), 200);
  EXPECT_TRUE(eventually([&] { return ldap_value("ann", "employeeType").empty(); }))
      << "enabled: the attribute is removed (enabled_value is empty)";

  std::string staff;
  ASSERT_TRUE(eventually([&] { return !(staff = scim.group_id("Staff")).empty(); }));
  const nlohmann::json leave = {
      {"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
      {"Operations", {{{"op", "remove"}, {"path", "members[value eq \"" + bob + "\"]"}}}}};
  const auto left =
      scim.http.request("PATCH", "/scim/v2/tenants/acme/Groups/" + staff, leave.dump(), scim.auth);
  ASSERT_LT(left.status, 300) << left.body;
  EXPECT_TRUE(eventually([&] {
    return ldap_values(staff_dn, "member") ==
           std::vector<std::string>{"uid=ann,ou=people,dc=example,dc=com"};
  })) << daemon.stderr_text();

  EXPECT_EQ(scim.http.request("DELETE", "/scim/v2/tenants/acme/Users/" + bob, {}, scim.auth).status,
            204);
  EXPECT_TRUE(eventually([&] {
    return ldap_values("uid=bob,ou=gone,dc=example,dc=com", "uid") ==
           std::vector<std::string>{"bob"};
  })) << daemon.stderr_text();
  EXPECT_EQ(ldap_value("bob", "uid"), "") << "moved, not copied";

  nlohmann::json corp;
  ASSERT_TRUE(eventually([&] {
    corp = scim.status();
    const auto& runs = corp["recentRuns"];
    return corp["writeBack"]["pending"] == 0 && runs.size() >= 2 &&
           runs[0]["outcome"] == "unchanged" && runs[1]["outcome"] == "unchanged";
  })) << corp.dump(2);
  EXPECT_EQ(corp["writeBack"]["conflicts"], 0);
  EXPECT_EQ(corp["writeBack"]["parked"], 0);
  EXPECT_EQ(scim.find("ann")["active"], true);
  EXPECT_TRUE(scim.find("bob").is_null());
}

TEST_F(WriteBackTest, AfterASigkillDuringDeliveryTheDirectoryMatchesTheTenantWithoutConflicts) {
  ASSERT_NO_FATAL_FAILURE(start(config("title = \"scim\"\n")));
  auto& daemon = daemon_;
  auto& scim = scim_;
  const std::string ann = scim->find("ann")["id"];
  const std::string bob = scim->find("bob")["id"];

  constexpr int kWrites = 150;
  slapd_.stop();
  for (int i = 1; i <= kWrites; ++i) {
    ASSERT_EQ(scim->patch(ann, "title", "Ann " + std::to_string(i)).status, 200);
    ASSERT_EQ(scim->patch(bob, "title", "Bob " + std::to_string(i)).status, 200);
  }
  ASSERT_EQ(scim->status()["writeBack"]["pending"], 2 * kWrites);
  slapd_.start();
  // Killed as soon as delivery is seen under way (or done: the outcome must not depend on it).
  int seen_pending = 2 * kWrites;
  eventually(
      [&] {
        seen_pending = scim->status()["writeBack"]["pending"].get<int>();
        return seen_pending < 2 * kWrites;
      },
      std::chrono::seconds(40));
  daemon->send_signal(SIGKILL);
  ASSERT_TRUE(daemon->wait_exit(std::chrono::seconds(10)));
  std::cerr << "killed with " << seen_pending << " of " << 2 * kWrites << " writes pending\n";

  ASSERT_NO_FATAL_FAILURE(start(config("title = \"scim\"\n")));
  ASSERT_TRUE(eventually([&] { return scim->status()["writeBack"]["pending"] == 0; },
                         std::chrono::seconds(60)))
      << daemon->stderr_text();
  EXPECT_EQ(ldap_value("ann", "title"), "Ann " + std::to_string(kWrites));
  EXPECT_EQ(ldap_value("bob", "title"), "Bob " + std::to_string(kWrites));
  EXPECT_EQ(scim->find("ann")["title"], "Ann " + std::to_string(kWrites));
  const auto corp = scim->status();
  EXPECT_EQ(corp["writeBack"]["conflicts"], 0)
      << "a write repeated after the kill found its own value: done, not a conflict";
  EXPECT_EQ(corp["writeBack"]["parked"], 0);
}

// The "write-back delivered" log lines' items and writes, summed: how many outbox items reached
// the directory and in how many LDAP writes.
std::pair<long, long> delivered_items_and_writes(const std::string& log) {
  long items = 0;
  long writes = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("write-back delivered") == std::string::npos) {
      continue;
    }
    const auto fields = nlohmann::json::parse(line, nullptr, false);
    if (!fields.is_discarded()) {
      items += fields.value("items", 0L);
      writes += fields.value("writes", 0L);
    }
  }
  return {items, writes};
}

TEST_F(WriteBackTest, ChangesQueuedForOneUserGoOutAsOneWriteThatEndsWithTheLastValues) {
  ASSERT_NO_FATAL_FAILURE(start(config("title = \"scim\"\n")));
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;
  const std::string ann = scim.find("ann")["id"];
  const std::string bob = scim.find("bob")["id"];

  // Interleaved changes of two attributes of ann (one of them changed back and forth) and one of
  // bob, queued while the directory is down.
  constexpr int kRounds = 30;
  slapd_.stop();
  for (int i = 1; i <= kRounds; ++i) {
    ASSERT_EQ(scim.patch(ann, "title", "Ann " + std::to_string(i)).status, 200);
    if (i % 3 == 0) {
      ASSERT_EQ(scim.patch(ann, "displayName", i % 2 == 0 ? "Ann Even" : "Ann Odd").status, 200);
    }
    ASSERT_EQ(scim.patch(bob, "title", "Bob " + std::to_string(i)).status, 200);
  }
  const int queued = scim.status()["writeBack"]["pending"].get<int>();
  ASSERT_EQ(queued, 2 * kRounds + kRounds / 3);
  slapd_.start();
  ASSERT_TRUE(eventually([&] { return scim.status()["writeBack"]["pending"] == 0; },
                         std::chrono::seconds(40)))
      << daemon.stderr_text();

  EXPECT_EQ(ldap_value("ann", "title"), "Ann " + std::to_string(kRounds));
  EXPECT_EQ(ldap_value("ann", "cn"), "Ann Even") << "the last displayName (30 is even)";
  EXPECT_EQ(ldap_value("bob", "title"), "Bob " + std::to_string(kRounds));
  const auto corp = scim.status();
  EXPECT_EQ(corp["writeBack"]["parked"], 0) << corp.dump(2);
  EXPECT_EQ(corp["writeBack"]["conflicts"], 0) << "each write asserted the value before the first";
  ASSERT_TRUE(eventually([&] {
    return delivered_items_and_writes(daemon.stderr_text()).first > 0;
  })) << daemon.stderr_text();
  const auto [items, writes] = delivered_items_and_writes(daemon.stderr_text());
  EXPECT_EQ(items, queued) << daemon.stderr_text();
  EXPECT_LE(writes, 4) << "one write per user, not one per change: " << daemon.stderr_text();
}

TEST_F(WriteBackTest, ACoalescedWriteFindingItsOwnEarlierValueGoesOnWithoutAConflict) {
  // What a crash leaves behind: the directory already holds the value of the first queued
  // change (written, not yet recorded) and more changes were queued after it. No sync runs in
  // between, which would take the directory's value as the tenant's.
  incremental_interval_ = 3600;
  ASSERT_NO_FATAL_FAILURE(start(config("title = \"scim\"\n")));
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;
  const std::string ann = scim.find("ann")["id"];

  ldap_modify(
      "dn: uid=ann,ou=people,dc=example,dc=com\nchangetype: modify\nreplace: title\n"
      "title: Lead\n\n");
  slapd_.stop();
  ASSERT_EQ(scim.patch(ann, "title", "Lead").status, 200);
  ASSERT_EQ(scim.patch(ann, "title", "Director").status, 200);
  slapd_.start();
  ASSERT_TRUE(eventually([&] { return scim.status()["writeBack"]["pending"] == 0; },
                         std::chrono::seconds(40)))
      << daemon.stderr_text();
  EXPECT_EQ(ldap_value("ann", "title"), "Director");
  const auto corp = scim.status();
  EXPECT_EQ(corp["writeBack"]["conflicts"], 0)
      << "Lead is the group's own first value, not an edit: " << corp.dump(2);
  EXPECT_EQ(corp["writeBack"]["parked"], 0) << corp.dump(2);
}

TEST_F(WriteBackTest, AWriteThatFailsInAPipelinedBatchIsRetriedAloneAndTheOthersLand) {
  slapd_.add_ldif(person("cid", "Clerk") +
                  "dn: ou=staff,ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\n"
                  "ou: staff\n\n");
  ASSERT_NO_FATAL_FAILURE(start(config("title = \"scim\"\n")));
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;
  ASSERT_TRUE(eventually([&] { return !scim.find("cid").is_null(); })) << daemon.stderr_text();
  std::map<std::string, std::string> ids;
  for (const std::string uid : {"ann", "bob", "cid"}) {
    ids[uid] = scim.find(uid)["id"];
    // Delivered once, so that delivery knows each entry's DN.
    ASSERT_EQ(scim.patch(ids[uid], "title", uid + " 0").status, 200);
  }
  ASSERT_TRUE(eventually([&] { return ldap_value("cid", "title") == "cid 0"; }))
      << daemon.stderr_text();
  ASSERT_TRUE(eventually([&] { return scim.status()["writeBack"]["pending"] == 0; }));

  // An admin moves bob: delivery's DN for him is stale, so his write in the next batch fails
  // (noSuchObject) while ann's and cid's, pipelined with it, succeed.
  ldap_modify(
      "dn: uid=bob,ou=people,dc=example,dc=com\nchangetype: modrdn\nnewrdn: uid=bob\n"
      "deleteoldrdn: 1\nnewsuperior: ou=staff,ou=people,dc=example,dc=com\n\n");
  slapd_.stop();
  for (const std::string round : {"1", "2"}) {
    for (const std::string uid : {"ann", "bob", "cid"}) {
      ASSERT_EQ(scim.patch(ids[uid], "title", uid + " " + round).status, 200);
    }
  }
  slapd_.start();
  ASSERT_TRUE(eventually([&] { return scim.status()["writeBack"]["pending"] == 0; },
                         std::chrono::seconds(40)))
      << daemon.stderr_text();
  EXPECT_EQ(ldap_value("ann", "title"), "ann 2");
  EXPECT_EQ(ldap_value("cid", "title"), "cid 2");
  const auto moved = ldap_values("uid=bob,ou=staff,ou=people,dc=example,dc=com", "title");
  EXPECT_EQ(moved, std::vector<std::string>{"bob 2"}) << daemon.stderr_text();
  const auto corp = scim.status();
  EXPECT_EQ(corp["writeBack"]["parked"], 0) << corp.dump(2);
  EXPECT_EQ(corp["writeBack"]["conflicts"], 0) << corp.dump(2);
  const auto [items, writes] = delivered_items_and_writes(daemon.stderr_text());
  EXPECT_EQ(items, 9) << daemon.stderr_text();
  EXPECT_GE(writes, 8)
      << "3, then 3 pipelined (bob's failed), bob's first change alone, his second";
}

TEST_F(WriteBackTest, APasswordSetOverScimReachesTheDirectoryAndIsNeverStoredInClear) {
  ASSERT_NO_FATAL_FAILURE(
      start(config("title = \"scim\"\n", "\"create\", \"modify\", \"password\"")));
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;
  const std::string ann = scim.find("ann")["id"];
  const std::string password = "Qx7-unique-Passw0rd";
  const auto bind_as_ann = [&](const std::string& secret) {
    return run_command({"/usr/bin/ldapwhoami", "-x", "-H", slapd_.uri(), "-D",
                        "uid=ann,ou=people,dc=example,dc=com", "-w", secret})
        .status.code;
  };
  EXPECT_NE(bind_as_ann(password), 0);

  slapd_.stop();  // queued, so that the store holds it for a while
  ASSERT_EQ(scim.patch(ann, "password", password).status, 200);
  EXPECT_EQ(scim.status()["writeBack"]["pending"], 1);
  for (const auto& file : {"state/idbridge.db", "state/idbridge.db-wal"}) {
    std::ifstream in(dir_.file(file), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(password), std::string::npos) << file << " holds the password in clear";
  }
  slapd_.start();
  ASSERT_TRUE(eventually([&] { return scim.status()["writeBack"]["pending"] == 0; },
                         std::chrono::seconds(40)))
      << daemon.stderr_text();
  EXPECT_EQ(bind_as_ann(password), 0) << "the directory took the new password";
  EXPECT_EQ(daemon.stderr_text().find(password), std::string::npos) << "never logged";
}

}  // namespace
}  // namespace idbridge::testing

namespace idbridge::testing {
namespace {

// RFC 4648 base64, for comparing binary attribute values with ldapcompare.
std::string base64(const std::string& bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16U) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8U) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += {alphabet[(n >> 18U) & 63U], alphabet[(n >> 12U) & 63U], alphabet[(n >> 6U) & 63U],
            alphabet[n & 63U]};
  }
  if (i + 1 == bytes.size()) {
    const unsigned n = static_cast<unsigned char>(bytes[i]) << 16U;
    out += {alphabet[(n >> 18U) & 63U], alphabet[(n >> 12U) & 63U], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16U) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8U);
    out += {alphabet[(n >> 18U) & 63U], alphabet[(n >> 12U) & 63U], alphabet[(n >> 6U) & 63U], '='};
  }
  return out;
}

std::string ad_person(const std::string& sam, char guid_tail, const std::string& title) {
  // 16-byte objectGUID; uSNChanged as AD would have assigned (slapd does not maintain it).
  return "dn: cn=" + sam + ",ou=people,dc=example,dc=com\nobjectClass: user\ncn: " + sam +
         "\nsn: Family\ngivenName: " + sam + "\nsAMAccountName: " + sam +
         "\nuserAccountControl: 66048\nuSNChanged: 100\ntitle: " + title +
         "\nobjectGUID:: " + std::string(21, 'A') + guid_tail + "==\n\n";
}

// Write-back to Active Directory, on the AD schema emulated on slapd
// (tests/support/ldap/ad.schema): the delivery paths that differ from OpenLDAP's. AD has neither
// the assertion control nor read-entry controls, so a modify removes the value idbridge believes is
// there and adds the new one in one operation (a changed value makes the remove fail: a conflict);
// disable flips the ACCOUNTDISABLE bit of userAccountControl keeping the others; a password is
// unicodePwd over TLS.
class AdWriteBackTest : public ::testing::Test {
 protected:
  AdWriteBackTest() {
    SlapdOptions options;
    options.ad_schema = true;
    options.memberof_group_class = "group";
    options.tls = make_test_pki(pki_dir_);
    slapd_.emplace(slapd_dir_, options);
    slapd_->add_ldif(
        "dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\nou: people\n\n" +
        ad_person("ann", 'Q', "Engineer") + ad_person("bob", 'g', "Analyst"));
  }

  std::string config() {
    const auto& options = slapd_->options();
    const auto password_file = dir_.write("ldap.password", options.root_password + "\n");
    const auto token_file = dir_.write("tenant.token", kToken + "\n");
    return "state_dir = \"" + dir_.file("state") +
           "\"\n\n[server]\nlisten = \"127.0.0.1:0\"\nplain_http = true\n\n"
           "[logging]\nlevel = \"info\"\n\n[tenants.acme]\ndisplay_name = \"Acme\"\n\n"
           "[[tenants.acme.credentials]]\nname = \"entra\"\ntoken = { file = \"" +
           token_file +
           "\" }\nrole_ceiling = \"administrator\"\n\n"
           "[directories.corp]\ntenant = \"acme\"\nkind = \"active_directory\"\nuri = \"" +
           slapd_->ldaps_uri() + "\"\nca_file = \"" + options.tls->ca_certificate +
           "\"\nbind_dn = \"" + options.root_dn + "\"\nbind_password = { file = \"" +
           password_file +
           "\" }\ntimeout_seconds = 5\nchange_detection = \"full\"\n"
           "full_sync_interval_seconds = 0\nincremental_sync_interval_seconds = 3600\n\n"
           "[directories.corp.users]\nbase_dns = [\"ou=people,dc=example,dc=com\"]\n"
           "filter = \"(objectClass=user)\"\n"
           "[directories.corp.users.attributes]\nuserName = \"{sAMAccountName}\"\n"
           "name.givenName = \"{givenName}\"\nname.familyName = \"{sn}\"\n"
           "title = \"{title}\"\n\n"
           "[directories.corp.disabled]\nkind = \"ad_account_disabled\"\n\n"
           "[directories.corp.writeback]\noperations = [\"modify\", \"disable\", \"password\"]\n"
           "disable = \"user_account_control\"\n\n"
           "[directories.corp.authority]\ntitle = \"scim\"\n";
  }

  std::string ldap_value(const std::string& cn, const std::string& attribute) {
    const auto& options = slapd_->options();
    const auto result =
        run_command({"/usr/bin/ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", slapd_->uri(),
                     "-D", options.root_dn, "-w", options.root_password, "-b",
                     "cn=" + cn + ",ou=people,dc=example,dc=com", "-s", "base", attribute});
    const std::string prefix = "\n" + attribute + ": ";
    const auto at = result.out.find(prefix);
    if (at == std::string::npos) {
      return "";
    }
    const auto start = at + prefix.size();
    return result.out.substr(start, result.out.find('\n', start) - start);
  }

  void start() {
    daemon_.emplace(kBinary, dir_, config());
    const auto port = daemon_->wait_listening();
    ASSERT_NE(port, 0) << daemon_->stderr_text();
    scim_.emplace(port);
    ASSERT_TRUE(eventually([&] {
      return !scim_->find("ann").is_null() && !scim_->find("bob").is_null();
    })) << daemon_->stderr_text();
  }

  bool delivered() { return scim_->status()["writeBack"]["pending"] == 0; }

  TempDir dir_;
  TempDir pki_dir_;
  TempDir slapd_dir_;
  std::optional<Slapd> slapd_;
  std::optional<DaemonProcess> daemon_;
  std::optional<Scim> scim_;
};

TEST_F(AdWriteBackTest, ModifyDisableAndPasswordTakeActiveDirectorysOwnPaths) {
  ASSERT_NO_FATAL_FAILURE(start());
  DaemonProcess& daemon = *daemon_;
  Scim& scim = *scim_;
  const std::string ann = scim.find("ann")["id"];

  // Compare by value: remove "Engineer", add "Staff Engineer", in one modify.
  ASSERT_EQ(scim.patch(ann, "title", "Staff Engineer").status, 200);
  ASSERT_TRUE(eventually([&] { return ldap_value("ann", "title") == "Staff Engineer"; }))
      << daemon.stderr_text();

  // A directory edit then a SCIM edit, with no sync between them: the remove of "Staff
  // Engineer" fails on AD's value "Director"; SCIM owns title, so its value is written and
  // AD's kept in a conflict record.
  slapd_->modify_ldif(
      "dn: cn=ann,ou=people,dc=example,dc=com\nchangetype: modify\nreplace: title\n"
      "title: Director\n\n");
  ASSERT_EQ(scim.patch(ann, "title", "Manager").status, 200);
  ASSERT_TRUE(eventually([&] { return delivered() && ldap_value("ann", "title") == "Manager"; }))
      << daemon.stderr_text();
  const auto conflicts = run_command(
      {kBinary, "writeback", "--config", daemon.config_path(), "--conflicts", "--json"});
  ASSERT_EQ(conflicts.status.code, 0) << conflicts.err;
  const auto listed = nlohmann::json::parse(conflicts.out);
  ASSERT_EQ(listed.size(), 1U) << conflicts.out;
  EXPECT_EQ(listed[0]["attribute"], "title");
  EXPECT_EQ(listed[0]["kept"], "Manager");
  EXPECT_EQ(listed[0]["lost"], "Director");

  // Disable and enable: bit 0x2 of userAccountControl, DONT_EXPIRE_PASSWORD (0x10000) kept.
  const nlohmann::json deactivate = {
      {"schemas", {"urn:ietf:params:scim:api:messages:2.0:PatchOp"}},
      {"Operations", {{{"op", "Replace"}, {"path", "active"}, {"value", "False"}}}}};
  ASSERT_EQ(
      scim.http.request("PATCH", "/scim/v2/tenants/acme/Users/" + ann, deactivate.dump(), scim.auth)
          .status,
      200);
  EXPECT_TRUE(eventually([&] { return ldap_value("ann", "userAccountControl") == "66050"; }))
      << daemon.stderr_text();
  ASSERT_EQ(scim.patch(ann, "active", "True").status, 200);
  EXPECT_TRUE(eventually([&] { return ldap_value("ann", "userAccountControl") == "66048"; }))
      << daemon.stderr_text();

  // A password: unicodePwd, the quoted password in UTF-16LE, over the ldaps:// connection.
  const std::string secret = "Blue-Harbor-42!";
  ASSERT_EQ(scim.patch(ann, "password", secret).status, 200);
  std::string utf16 = "\"";
  utf16.push_back('\0');
  for (const char c : secret) {
    utf16.push_back(c);
    utf16.push_back('\0');
  }
  utf16 += "\"";
  utf16.push_back('\0');
  const auto& options = slapd_->options();
  EXPECT_TRUE(eventually([&] {
    const auto compared =
        run_command({"/usr/bin/ldapcompare", "-x", "-H", slapd_->uri(), "-D", options.root_dn, "-w",
                     options.root_password, "cn=ann,ou=people,dc=example,dc=com",
                     "unicodePwd::" + base64(utf16)});
    return compared.status.code == 6;  // compareTrue
  })) << daemon.stderr_text();
  EXPECT_THAT(daemon.stderr_text(), ::testing::Not(HasSubstr(secret)));
  EXPECT_TRUE(delivered());
  EXPECT_EQ(scim.status()["writeBack"]["parked"], 0);

  // The next full sync changes nothing: AD holds what the tenant holds.
  const auto synced =
      run_command({kBinary, "sync", "--config", daemon.config_path(), "--directory", "corp"},
                  std::chrono::seconds(60));
  EXPECT_EQ(synced.status.code, 0) << synced.out << synced.err;
  const auto corp = scim.status();
  EXPECT_EQ(corp["recentRuns"][0]["outcome"], "unchanged") << corp.dump(2) << synced.out;
  EXPECT_EQ(scim.find("ann")["title"], "Manager");
  EXPECT_EQ(scim.find("ann")["active"], true);
}

}  // namespace
}  // namespace idbridge::testing
