// The versioned SQLite schema: an ordered list of migrations and the code that brings a database
// file to the newest one, refusing files that are not idbridge databases or are newer.
#pragma once

#include "sqlite_db.hpp"

namespace idbridge::store::sqlite {

// 'IDBR': PRAGMA application_id of every idbridge database.
inline constexpr std::int32_t application_id = 0x49444252;

// The version the last migration produces.
int latest_schema_version();

// Checks that `connection` holds an empty file or an idbridge database no newer than this
// binary, switches it to WAL, and applies every missing migration, each in its own
// transaction. Returns the resulting version. Throws core::StoreFailure.
int migrate(Connection& connection);

}  // namespace idbridge::store::sqlite
