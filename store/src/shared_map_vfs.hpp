// A SQLite VFS for the read-only connections: it forwards everything to the default VFS, except
// that a main database file's memory-mapped page reads (xFetch) come from one read-only mapping
// of the file shared by every connection of the process. SQLite's own mmap maps the file once
// per connection, which made the pooled readers count the file several times in RSS.
#pragma once

namespace idbridge::store::sqlite {

// The VFS's name for sqlite3_open_v2, registered (not as the default) on the first call.
const char* shared_map_vfs();

// The `PRAGMA mmap_size` a connection opened on shared_map_vfs() needs for its page reads to use
// the shared mapping; without it the connection reads through pread as usual.
inline constexpr const char* shared_map_pragma = "PRAGMA mmap_size = 1099511627776;";

}  // namespace idbridge::store::sqlite
