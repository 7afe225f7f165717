// A VFS for idbridge's SQLite connections: the platform's default VFS, except that journal
// writes larger than SQLite's own write limit are split (see sqlite_vfs.cpp).
#pragma once

namespace idbridge::store::sqlite {

// Registers the VFS once (thread-safe) and returns its name for sqlite3_open_v2.
const char* journal_safe_vfs();

// The largest write that SQLite's unix VFS performs correctly in one call.
constexpr int largest_unsplit_write = 0x10000;

}  // namespace idbridge::store::sqlite
