// CSV import and export of a tenant's users (DOMAIN.md "Bulk"): externalId round-trips, and an
// import is all-or-nothing per row with a report of what each row did or why it was refused.
#pragma once

#include "idbridge/core/error.hpp"
#include "idbridge/core/identity_service.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::core {

// One record of a CSV file and the 1-based line it starts on. Blank lines are skipped and a
// quoted field may span lines, so a row's position in the list does not give its line.
struct CsvRow {
  std::size_t line = 0;
  std::vector<std::string> fields;
  friend bool operator==(const CsvRow&, const CsvRow&) = default;
};

// RFC 4180: comma-separated, fields optionally in double quotes ("" escapes a quote), CRLF or LF
// line ends, quoted fields may span lines, blank lines are not rows. Error (invalid_value) names
// the line.
Result<std::vector<CsvRow>> parse_csv_rows(std::string_view text);
// As parse_csv_rows, the fields only.
Result<std::vector<std::vector<std::string>>> parse_csv(std::string_view text);
std::string format_csv(const std::vector<std::vector<std::string>>& rows);

// The columns, in export order. `profiles` holds profile names separated by ';'; `extension`
// is the primary extension and `e911Location` its location; booleans are true/false.
const std::vector<std::string>& user_csv_columns();

std::string export_users_csv(StoreReader& reader, const TenantId& tenant);

enum class RowOutcome { created, updated, unchanged, refused };
std::string_view to_string(RowOutcome outcome);

struct RowReport {
  std::size_t line = 0;  // 1-based line of the row in the file
  std::string user_name;
  RowOutcome outcome = RowOutcome::refused;
  std::optional<Error> error;
};

struct ImportReport {
  // Set when the file as a whole was refused (unparsable, no userName column, unknown column);
  // then no row was applied.
  std::optional<Error> file_error;
  std::vector<RowReport> rows;
  std::size_t count(RowOutcome outcome) const;
};

// Creates users whose userName is new to the tenant and updates the others; columns absent from
// the file leave those attributes as they are. Each row is one transaction: it is applied whole
// or refused whole, and the other rows go on.
ImportReport import_users_csv(IdentityService& service, const Principal& who,
                              const TenantId& tenant, std::string_view csv);

}  // namespace idbridge::core
