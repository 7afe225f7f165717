// CSV import/export (DOMAIN.md "Bulk"): RFC 4180 parsing, externalId round trip, and an import
// that is all-or-nothing per row with a per-row report.
#include "idbridge/core/csv_io.hpp"

#include "idbridge/crypto/crypto.hpp"
#include "idbridge/store/sqlite_store.hpp"
#include "idbridge/testing/temp_dir.hpp"

#include <gtest/gtest.h>

namespace idbridge::core {
namespace {

TEST(Csv, ParsesQuotesEscapesNewlinesAndCrLf) {
  const auto rows = parse_csv("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n\nlast,,\n");
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 3U) << "the blank line is not a row";
  EXPECT_EQ((*rows)[1], (std::vector<std::string>{"x, y", "say \"hi\"", "two\nlines"}));
  EXPECT_EQ((*rows)[2], (std::vector<std::string>{"last", "", ""}));
}

TEST(Csv, EachRowKnowsTheLineItStartsOn) {
  const auto rows = parse_csv_rows("a,b\n\n\"two\nlines\",x\r\nlast,y\n\n");
  ASSERT_TRUE(rows.has_value());
  EXPECT_EQ(*rows,
            (std::vector<CsvRow>{{1, {"a", "b"}}, {3, {"two\nlines", "x"}}, {5, {"last", "y"}}}));
}

TEST(Csv, RefusesMalformedInputNamingTheLine) {
  const auto unclosed = parse_csv("a\n\"open\n");
  ASSERT_FALSE(unclosed.has_value());
  EXPECT_NE(unclosed.error().detail.find("line 2"), std::string::npos);
  const auto stray = parse_csv("a\nb\"c\n");
  ASSERT_FALSE(stray.has_value());
  EXPECT_NE(stray.error().detail.find("line 2"), std::string::npos);
}

TEST(Csv, FormatRoundTripsThroughParse) {
  const std::vector<std::vector<std::string>> rows{{"plain", "with,comma", "with \"quote\""},
                                                   {" padded ", "multi\nline", ""}};
  EXPECT_EQ(parse_csv(format_csv(rows)).value(), rows);
}

class CsvImportTest : public ::testing::Test {
 protected:
  CsvImportTest()
      : store_(store::open_sqlite_store({.path = dir_.file("idbridge.db")})),
        service_({*store_, clock_, ids_, hasher_, zones_}, ProviderSettings{"p"}, tenants()) {
    EXPECT_TRUE(service_.ensure_tenant(acme_));
    who_.actor = {ActorKind::cli, "admin"};
    who_.origin = {OriginKind::cli, ""};
    who_.ceiling = Role::account_owner;
  }

  static std::vector<TenantSettings> tenants() {
    TenantSettings acme;
    acme.id = TenantId("acme");
    acme.profiles = {{"helpdesk", {"manageUsers"}}};
    return {acme};
  }

  testing::TempDir dir_;
  SystemClock clock_;
  RandomUuidGenerator ids_;
  crypto::ScryptPasswordHasher hasher_{10};
  TzdataZoneCatalog zones_;
  std::unique_ptr<Store> store_;
  IdentityService service_;
  TenantId acme_{"acme"};
  Principal who_;
};

TEST_F(CsvImportTest, EachRowIsAppliedOrRefusedWholeWithAReport) {
  const std::string csv =
      "userName,externalId,givenName,familyName,email,role,profiles,extension,e911Location\n"
      "ann,EXT-1,Ann,Lee,ann@example.com,administrator,helpdesk,1001,HQ\n"
      "bad name,EXT-2,Bad,Row,bad@example.com,standardUser,,,\n"
      "bob,EXT-3,Bob,Ray,ANN@example.com,standardUser,,,\n"
      "cid,EXT-4,Cid,Oak,cid@example.com,wizard,,,\n"
      "dee,EXT-5,Dee,Elm,dee@example.com,standardUser,,1001,HQ\n";
  const ImportReport report = import_users_csv(service_, who_, acme_, csv);
  ASSERT_FALSE(report.file_error.has_value());
  ASSERT_EQ(report.rows.size(), 5U);
  EXPECT_EQ(report.rows[0].outcome, RowOutcome::created);
  EXPECT_EQ(report.rows[1].error->code, ErrorCode::user_name_characters);
  EXPECT_EQ(report.rows[1].line, 3U);
  EXPECT_EQ(report.rows[2].error->code, ErrorCode::email_taken);
  EXPECT_EQ(report.rows[3].error->code, ErrorCode::invalid_value);
  EXPECT_EQ(report.rows[4].error->code, ErrorCode::extension_taken);
  EXPECT_EQ(report.count(RowOutcome::created), 1U);
  EXPECT_EQ(report.count(RowOutcome::refused), 4U);
  auto reader = store_->read();
  EXPECT_EQ(reader->count_users(acme_), 1) << "refused rows left nothing behind";
  const auto ann = reader->find_user_by_user_name("ann");
  ASSERT_TRUE(ann.has_value());
  EXPECT_EQ(ann->role, Role::administrator);
  EXPECT_EQ(ann->profiles, (std::vector<std::string>{"default:administrator", "helpdesk"}));
  EXPECT_EQ(ann->extensions, (std::vector<Extension>{{"1001", "HQ", true}}));
}

TEST_F(CsvImportTest, RowReportsNameTheFileLineAfterBlankLinesAndMultiLineFields) {
  const std::string csv =
      "userName,title\n"
      "\n"
      "ann,\"Head of\nSupport\"\n"
      "bad name,Clerk\n"
      "\n"
      "also bad,Clerk\n";
  const ImportReport report = import_users_csv(service_, who_, acme_, csv);
  ASSERT_FALSE(report.file_error.has_value());
  ASSERT_EQ(report.rows.size(), 3U);
  EXPECT_EQ(report.rows[0].outcome, RowOutcome::created);
  EXPECT_EQ(report.rows[0].line, 3U) << "the blank line 2 counts";
  EXPECT_EQ(report.rows[1].line, 5U) << "the quoted field spans lines 3 and 4";
  EXPECT_EQ(report.rows[1].user_name, "bad name");
  EXPECT_EQ(report.rows[2].line, 7U);
}

TEST_F(CsvImportTest, ReimportUpdatesOnlyGivenColumnsAndReportsUnchangedRows) {
  ASSERT_EQ(import_users_csv(service_, who_, acme_,
                             "userName,externalId,title\nann,EXT-1,Engineer\nbob,EXT-2,Clerk\n")
                .count(RowOutcome::created),
            2U);
  const ImportReport again =
      import_users_csv(service_, who_, acme_, "userName,title\nann,Manager\nbob,Clerk\n");
  ASSERT_EQ(again.rows.size(), 2U);
  EXPECT_EQ(again.rows[0].outcome, RowOutcome::updated);
  EXPECT_EQ(again.rows[1].outcome, RowOutcome::unchanged);
  const auto ann = store_->read()->find_user_by_user_name("ann");
  EXPECT_EQ(ann->title, "Manager");
  EXPECT_EQ(ann->external_id, "EXT-1") << "a column absent from the file is kept";
}

TEST_F(CsvImportTest, ExportThenImportRoundTripsExternalIdAndEverythingElse) {
  ASSERT_EQ(import_users_csv(service_, who_, acme_,
                             "userName,externalId,givenName,familyName,email,backupEmail,phone,"
                             "title,timezone,active,role,profiles,extension,e911Location,"
                             "mfaMethod,mustChangePassword\n"
                             "ann,\"EXT,1\",Ann,O'Neil,ann@example.com,ann@home.example,"
                             "+61 2 5550 1000,CTO,Australia/Sydney,false,administrator,helpdesk,"
                             "1001,HQ,sms,true\n")
                .count(RowOutcome::created),
            1U);
  const std::string exported = export_users_csv(*store_->read(), acme_);
  EXPECT_NE(exported.find("\"EXT,1\""), std::string::npos);
  const ImportReport reimport = import_users_csv(service_, who_, acme_, exported);
  ASSERT_EQ(reimport.rows.size(), 1U);
  EXPECT_EQ(reimport.rows[0].outcome, RowOutcome::unchanged)
      << (reimport.rows[0].error ? reimport.rows[0].error->detail : "");
  EXPECT_EQ(export_users_csv(*store_->read(), acme_), exported);
}

TEST_F(CsvImportTest, WholeFileIsRefusedForAnUnknownColumnOrMissingUserName) {
  const ImportReport unknown =
      import_users_csv(service_, who_, acme_, "userName,shoeSize\nann,42\n");
  ASSERT_TRUE(unknown.file_error.has_value());
  EXPECT_NE(unknown.file_error->detail.find("shoeSize"), std::string::npos);
  EXPECT_TRUE(unknown.rows.empty());
  EXPECT_TRUE(import_users_csv(service_, who_, acme_, "email\na@b.com\n").file_error);
  EXPECT_EQ(store_->read()->count_users(acme_), 0);
}

}  // namespace
}  // namespace idbridge::core
