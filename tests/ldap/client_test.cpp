// Connection, backoff and paged search against a private slapd: typed bind errors, a 2,500-entry
// paged read, size limits, a server killed mid-read, binary values and the non-ranged path.
#include "idbridge/ldap/client.hpp"
#include "idbridge/ldap/escape.hpp"
#include "idbridge/testing/slapd.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

namespace idbridge::ldap {
namespace {

using testing::Slapd;
using testing::SlapdOptions;
using testing::TempDir;

constexpr const char* people = "ou=people,dc=example,dc=com";

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

ConnectionSettings anonymous(const Slapd& slapd) {
  ConnectionSettings settings;
  settings.uri = slapd.uri();
  settings.network_timeout = std::chrono::seconds(5);
  settings.operation_timeout = std::chrono::seconds(10);
  return settings;
}

std::string people_ldif(int count) {
  std::string ldif =
      "dn: " + std::string(people) + "\nobjectClass: organizationalUnit\nou: people\n\n";
  for (int i = 0; i < count; ++i) {
    const auto id = "user" + std::to_string(i);
    ldif += "dn: uid=" + id + "," + people + "\nobjectClass: inetOrgPerson\nuid: " + id +
            "\ncn: User " + std::to_string(i) + "\nsn: " + std::to_string(i) + "\n\n";
  }
  return ldif;
}

SearchRequest people_request(int page_size) {
  SearchRequest request;
  request.base_dn = people;
  request.filter = "(objectClass=inetOrgPerson)";
  request.attributes = {"uid"};
  request.page_size = page_size;
  return request;
}

// Reads everything and keeps the uids; checks no page exceeds the page size.
struct Collector {
  std::multiset<std::string> uids;
  std::size_t calls = 0;
  std::size_t largest_page = 0;

  PageCallback callback() {
    return [this](const std::vector<Entry>& page) {
      ++calls;
      largest_page = std::max(largest_page, page.size());
      for (const auto& entry : page) {
        const auto* uid = entry.first_value("uid");
        uids.insert(uid != nullptr ? *uid : entry.dn);
      }
    };
  }
};

// A TCP listener that never accepts nor answers: connects succeed, replies never come.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(fd_, 8) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot listen");
    }
    port_ = ntohs(address.sin_port);
  }
  ~SilentServer() { close(fd_); }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  std::string uri() const { return "ldap://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST(Connect, SimpleBindAsRoot) {
  TempDir dir;
  Slapd slapd(dir);
  auto connection = Connection::open(as_root(slapd));
  ASSERT_TRUE(connection) << connection.error().message;
  EXPECT_EQ(connection->who_am_i().value(), "dn:cn=admin,dc=example,dc=com");
  // A password over ldap:// is allowed but never silent.
  ASSERT_EQ(connection->warnings().size(), 1u);
  EXPECT_NE(connection->warnings()[0].find("cleartext"), std::string::npos);
}

TEST(Connect, AnonymousBind) {
  TempDir dir;
  Slapd slapd(dir);
  auto connection = Connection::open(anonymous(slapd));
  ASSERT_TRUE(connection) << connection.error().message;
  EXPECT_EQ(connection->who_am_i().value(), "");
  EXPECT_TRUE(connection->warnings().empty());
}

TEST(Connect, WrongPasswordIsInvalidCredentialsAndNeverEchoed) {
  TempDir dir;
  Slapd slapd(dir);
  auto settings = as_root(slapd);
  const std::string wrong = "wrong-Pa55-for-admin";
  settings.password = Password(wrong);
  auto connection = Connection::open(settings);
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().code, ErrorCode::invalid_credentials);
  EXPECT_EQ(connection.error().ldap_code, 49);
  EXPECT_NE(connection.error().message.find("cn=admin,dc=example,dc=com"), std::string::npos);
  EXPECT_EQ(connection.error().message.find(wrong), std::string::npos)
      << connection.error().message;
}

TEST(Connect, NothingListeningIsUnreachable) {
  ConnectionSettings settings;
  settings.uri = "ldap://127.0.0.1:" + std::to_string(testing::free_loopback_port()) + "/";
  auto connection = Connection::open(settings);
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().code, ErrorCode::unreachable) << connection.error().message;
}

TEST(Connect, ServerThatNeverAnswersTimesOut) {
  SilentServer server;
  ConnectionSettings settings;
  settings.uri = server.uri();
  settings.operation_timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  auto connection = Connection::open(settings);
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().code, ErrorCode::timeout) << connection.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST(Backoff, RetriesUntilTheServerIsBack) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.stop();
  std::vector<std::chrono::milliseconds> sleeps;
  auto connection = connect_with_backoff(
      as_root(slapd), 5,
      [&](std::chrono::milliseconds delay) {
        sleeps.push_back(delay);
        if (sleeps.size() == 2) {
          slapd.start();
        }
      },
      BackoffPolicy{std::chrono::milliseconds(100), std::chrono::seconds(1)});
  ASSERT_TRUE(connection) << connection.error().message;
  EXPECT_EQ(sleeps, (std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(100),
                                                            std::chrono::milliseconds(200)}));
}

TEST(Backoff, DelaysAreCappedAndTheLastErrorReturned) {
  ConnectionSettings settings;
  settings.uri = "ldap://127.0.0.1:" + std::to_string(testing::free_loopback_port()) + "/";
  std::vector<std::chrono::milliseconds> sleeps;
  auto connection = connect_with_backoff(
      settings, 5, [&](std::chrono::milliseconds delay) { sleeps.push_back(delay); },
      BackoffPolicy{std::chrono::milliseconds(100), std::chrono::milliseconds(250)});
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().code, ErrorCode::unreachable);
  EXPECT_NE(connection.error().message.find("after 5 attempts"), std::string::npos);
  using std::chrono::milliseconds;
  EXPECT_EQ(sleeps, (std::vector<milliseconds>{milliseconds(100), milliseconds(200),
                                               milliseconds(250), milliseconds(250)}));
}

TEST(Backoff, InvalidCredentialsAreNotRetried) {
  TempDir dir;
  Slapd slapd(dir);
  auto settings = as_root(slapd);
  settings.password = Password("wrong");
  int sleeps = 0;
  auto connection = connect_with_backoff(settings, 5, [&](std::chrono::milliseconds) { ++sleeps; });
  ASSERT_FALSE(connection);
  EXPECT_EQ(connection.error().code, ErrorCode::invalid_credentials);
  EXPECT_EQ(sleeps, 0);
}

TEST(PagedSearch, ReadsEveryEntryExactlyOnce) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(people_ldif(2500));
  auto connection = Connection::open(as_root(slapd)).value();
  Collector collector;
  const auto outcome = connection.search(people_request(100), collector.callback());
  ASSERT_TRUE(outcome.complete()) << to_string(outcome.completeness) << ": " << outcome.detail;
  EXPECT_EQ(outcome.entries, 2500u);
  EXPECT_EQ(collector.uids.size(), 2500u);
  EXPECT_EQ(std::set<std::string>(collector.uids.begin(), collector.uids.end()).size(), 2500u);
  // 25 full pages; slapd may end with an empty page carrying the empty cookie.
  EXPECT_GE(outcome.pages, 25u);
  EXPECT_LE(outcome.pages, 26u);
  EXPECT_EQ(outcome.pages, collector.calls);
  EXPECT_EQ(collector.largest_page, 100u);
}

TEST(PagedSearch, ServerSizeLimitIsNeverComplete) {
  TempDir dir;
  SlapdOptions options;
  options.size_limit = 1000;  // the rootdn is exempt: read anonymously
  Slapd slapd(dir, options);
  slapd.add_ldif(people_ldif(2500));
  auto connection = Connection::open(anonymous(slapd)).value();
  Collector collector;
  const auto outcome = connection.search(people_request(100), collector.callback());
  EXPECT_FALSE(outcome.complete());
  EXPECT_EQ(outcome.completeness, Completeness::size_limit_exceeded) << outcome.detail;
  EXPECT_EQ(outcome.ldap_code, 4);
  EXPECT_EQ(outcome.entries, 1000u);
  EXPECT_EQ(collector.uids.size(), 1000u);
  EXPECT_GE(outcome.pages, 10u);
}

TEST(PagedSearch, LimitsDirectiveIsNeverComplete) {
  TempDir dir;
  SlapdOptions options;
  options.limits = {"anonymous size=300"};
  Slapd slapd(dir, options);
  slapd.add_ldif(people_ldif(500));
  auto connection = Connection::open(anonymous(slapd)).value();
  Collector collector;
  const auto outcome = connection.search(people_request(100), collector.callback());
  EXPECT_EQ(outcome.completeness, Completeness::size_limit_exceeded) << outcome.detail;
  EXPECT_EQ(outcome.entries, 300u);
}

TEST(PagedSearch, MissingBaseIsNotAnEmptyDirectory) {
  TempDir dir;
  Slapd slapd(dir);
  auto connection = Connection::open(as_root(slapd)).value();
  Collector collector;
  auto request = people_request(100);
  request.base_dn = "ou=nobody,dc=example,dc=com";
  const auto outcome = connection.search(request, collector.callback());
  EXPECT_EQ(outcome.completeness, Completeness::no_such_base);
  EXPECT_EQ(outcome.ldap_code, 32);
}

TEST(PagedSearch, EmptyResultUnderAnExistingBaseIsComplete) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(people_ldif(0));
  auto connection = Connection::open(as_root(slapd)).value();
  Collector collector;
  const auto outcome = connection.search(people_request(100), collector.callback());
  EXPECT_TRUE(outcome.complete()) << outcome.detail;
  EXPECT_EQ(outcome.entries, 0u);
}

TEST(PagedSearch, ServerKilledMidReadIsIncompleteAndAFreshReadCompletes) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(people_ldif(2500));
  auto connection = Connection::open(as_root(slapd)).value();
  Collector collector;
  const auto inner = collector.callback();
  const auto outcome = connection.search(people_request(100), [&](auto& page) {
    inner(page);
    if (collector.calls == 1) {
      slapd.kill();
    }
  });
  EXPECT_FALSE(outcome.complete());
  EXPECT_EQ(outcome.completeness, Completeness::connection_lost)
      << to_string(outcome.completeness) << ": " << outcome.detail;
  EXPECT_EQ(outcome.pages, 1u);
  EXPECT_EQ(outcome.entries, 100u);
  // The dead connection stays dead: no silent success on it.
  Collector again;
  EXPECT_EQ(connection.search(people_request(100), again.callback()).completeness,
            Completeness::connection_lost);

  slapd.start();
  auto fresh = Connection::open(as_root(slapd)).value();
  Collector full;
  const auto second = fresh.search(people_request(100), full.callback());
  ASSERT_TRUE(second.complete()) << second.detail;
  EXPECT_EQ(second.entries, 2500u);
  EXPECT_EQ(std::set<std::string>(full.uids.begin(), full.uids.end()).size(), 2500u);
}

// libldap reopens a lost default connection on the next operation, unbound and without
// StartTLS. A Connection that lost its link must stay dead instead, even once the server is
// back: an anonymous (ACL-filtered) read could otherwise look complete.
TEST(PagedSearch, LostConnectionNeverReconnectsSilently) {
  TempDir dir;
  Slapd slapd(dir);
  slapd.add_ldif(people_ldif(300));
  auto connection = Connection::open(as_root(slapd)).value();
  Collector first;
  const auto inner = first.callback();
  const auto outcome = connection.search(people_request(100), [&](auto& page) {
    inner(page);
    if (first.calls == 1) {
      slapd.kill();
    }
  });
  EXPECT_EQ(outcome.completeness, Completeness::connection_lost);
  slapd.start();
  Collector again;
  EXPECT_EQ(connection.search(people_request(100), again.callback()).completeness,
            Completeness::connection_lost);
  EXPECT_EQ(again.calls, 0u);
  auto identity = connection.who_am_i();
  ASSERT_FALSE(identity);
  EXPECT_EQ(identity.error().code, ErrorCode::unreachable);
  EXPECT_FALSE(connection.read("dc=example,dc=com", {}));
}

std::string base64(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                   (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    const auto n = static_cast<unsigned char>(bytes[i]) << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) |
                   (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

// The AD emulation schema on slapd: a binary objectGUID holding filter metacharacters and NUL
// comes back byte for byte, and the escaped GUID filter matches exactly its entry.
TEST(AdEmulation, BinaryGuidRoundTripsAndItsFilterMatchesOneEntry) {
  using namespace std::string_literals;
  TempDir dir;
  SlapdOptions options;
  options.ad_schema = true;
  options.memberof_group_class = "group";
  Slapd slapd(dir, options);
  const std::string guid = "\x00\x28\x29\x2a\x5c\xff\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0"s;
  const std::string other = "\x2a\x2a\x2a\x2a\x2a\x2a\x2a\x2a\x2a\x2a\x2a\x2a\x2a\x2a\x2a\x2a"s;
  slapd.add_ldif(std::string("dn: ou=people,dc=example,dc=com\nobjectClass: organizationalUnit\n"
                             "ou: people\n\n") +
                 "dn: cn=Alice,ou=people,dc=example,dc=com\nobjectClass: user\ncn: Alice\n"
                 "sn: A\nsAMAccountName: alice\nuserPrincipalName: alice@example.com\n"
                 "userAccountControl: 512\nuSNChanged: 4711\nobjectGUID:: " +
                 base64(guid) +
                 "\n\n"
                 "dn: cn=Bob,ou=people,dc=example,dc=com\nobjectClass: user\ncn: Bob\nsn: B\n"
                 "sAMAccountName: bob\nobjectGUID:: " +
                 base64(other) +
                 "\n\n"
                 "dn: cn=Staff,dc=example,dc=com\nobjectClass: group\ncn: Staff\n"
                 "member: cn=Alice,ou=people,dc=example,dc=com\n"
                 "member: cn=Bob,ou=people,dc=example,dc=com\n");
  auto connection = Connection::open(as_root(slapd)).value();
  std::vector<Entry> found;
  SearchRequest request;
  request.base_dn = "dc=example,dc=com";
  request.filter = "(&(objectClass=user)" + object_guid_filter(guid) + ")";
  request.attributes = {"objectGUID", "sAMAccountName", "userAccountControl", "uSNChanged",
                        "memberOf"};
  const auto outcome = connection.search(request, [&](const std::vector<Entry>& page) {
    found.insert(found.end(), page.begin(), page.end());
  });
  ASSERT_TRUE(outcome.complete()) << outcome.detail;
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].dn, "cn=Alice,ou=people,dc=example,dc=com");
  ASSERT_NE(found[0].first_value("objectGUID"), nullptr);
  EXPECT_EQ(*found[0].first_value("objectGUID"), guid);
  EXPECT_EQ(*found[0].first_value("samaccountname"), "alice");
  EXPECT_EQ(*found[0].first_value("userAccountControl"), "512");
  EXPECT_EQ(*found[0].first_value("uSNChanged"), "4711");
  ASSERT_NE(found[0].first_value("memberOf"), nullptr);
  EXPECT_EQ(*found[0].first_value("memberOf"), "cn=Staff,dc=example,dc=com");
}

// The non-ranged path of range retrieval on a real server: slapd returns `member` in one
// piece, the client delivers it untouched and makes no follow-up reads. Ranged chunks are
// covered by range_test.cpp against a scripted fake (slapd cannot produce them).
TEST(RangeRetrieval, UnrangedMembersArriveInOnePiece) {
  TempDir dir;
  Slapd slapd(dir);
  std::string ldif = people_ldif(1600);
  ldif += "\ndn: cn=everyone,dc=example,dc=com\nobjectClass: groupOfNames\ncn: everyone\n";
  for (int i = 0; i < 1600; ++i) {
    ldif += "member: uid=user" + std::to_string(i) + "," + people + "\n";
  }
  slapd.add_ldif(ldif);
  auto connection = Connection::open(as_root(slapd)).value();
  SearchRequest request;
  request.base_dn = "cn=everyone,dc=example,dc=com";
  request.scope = Scope::base;
  request.attributes = {"member"};
  std::vector<Entry> found;
  const auto outcome = connection.search(request, [&](const std::vector<Entry>& page) {
    found.insert(found.end(), page.begin(), page.end());
  });
  ASSERT_TRUE(outcome.complete()) << outcome.detail;
  EXPECT_EQ(outcome.range_reads, 0u);
  ASSERT_EQ(found.size(), 1u);
  ASSERT_NE(found[0].find("member"), nullptr);
  EXPECT_EQ(found[0].find("member")->values.size(), 1600u);
}

TEST(Read, BaseEntryAndMissingEntry) {
  TempDir dir;
  Slapd slapd(dir);
  auto connection = Connection::open(as_root(slapd)).value();
  auto entry = connection.read("dc=example,dc=com", {"dc"});
  ASSERT_TRUE(entry) << entry.error().message;
  EXPECT_EQ(*entry->first_value("dc"), "example");
  auto missing = connection.read("ou=nobody,dc=example,dc=com", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::no_such_object);
  EXPECT_EQ(missing.error().ldap_code, 32);
}

}  // namespace
}  // namespace idbridge::ldap
