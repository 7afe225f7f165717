// The SQLite implementation of core::Store: the embedded default. One file in WAL mode,
// synchronous=FULL so an acknowledged commit survives kill -9 and power loss.
#pragma once

#include "idbridge/core/store.hpp"

#include <memory>
#include <string>

namespace idbridge::store {

struct SqliteOptions {
  std::string path;                 // the database file; created (with its directory) if absent
  int busy_timeout_ms = 5000;       // how long a writer waits for the write lock
  unsigned reader_connections = 4;  // pooled read-only connections (WAL readers never block)
};

// Opens (creating if needed) and migrates the database to the latest schema version.
// Throws core::StoreFailure when the file cannot be opened, is not an idbridge database, or
// was written by a newer schema than this binary knows.
std::unique_ptr<core::Store> open_sqlite_store(const SqliteOptions& options);

// The schema version this binary migrates to.
int sqlite_schema_version();

}  // namespace idbridge::store
