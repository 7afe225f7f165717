// The SQLite implementation of core::Store: the embedded default. One file in WAL mode,
// synchronous=FULL so an acknowledged commit survives kill -9 and power loss.
#pragma once

#include "idbridge/core/store.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace idbridge::store {

struct SqliteOptions {
  std::string path;                 // the database file; created (with its directory) if absent
  int busy_timeout_ms = 5000;       // how long a writer waits for the write lock
  unsigned reader_connections = 4;  // pooled read-only connections (WAL readers never block)
  // Group commit: once a batch's first logical commit is this old, the next writer to finish
  // commits the batch even while others wait for the write slot (docs/design/store.md).
  std::chrono::microseconds group_commit_max_age{2000};
  // Tests only: called (on the committing thread) before every physical COMMIT of the writer
  // connection; returning false makes that COMMIT fail as an I/O error would.
  std::function<bool()> commit_allowed_for_testing = nullptr;
};

// Opens (creating if needed) and migrates the database to the latest schema version.
// Throws core::StoreFailure when the file cannot be opened, is not an idbridge database, or
// was written by a newer schema than this binary knows.
std::unique_ptr<core::Store> open_sqlite_store(const SqliteOptions& options);

// The schema version this binary migrates to.
int sqlite_schema_version();

}  // namespace idbridge::store
