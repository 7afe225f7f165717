// Why this VFS exists: savepoint (sub-)journals are kept in memory up to a spill size that
// idbridge raises far above SQLite's default (sqlite_db.cpp, journal_in_memory_bytes). When a
// journal outgrows it, SQLite 3.40 (memjournal.c, memjrnlCreateFile) writes its whole in-memory
// chunk to a temporary file in ONE xWrite of the spill size. The unix VFS masks the length of
// every write to 17 bits (os_unix.c, seekAndWriteFd: `nBuf &= 0x1ffff`, since pages are at most
// 64 KiB), so a 16 MiB write becomes a write of 0 bytes and the transaction fails with
// SQLITE_FULL ("database or disk is full"). A migration that rebuilt an index on 270,000
// memberships hit it; so would any write transaction whose savepoint journal passes 16 MiB.
//
// The VFS below is the default VFS with one change: a file other than the database and its WAL
// (those only ever see page-sized writes) gets a thin wrapper whose xWrite hands the real file
// at most `largest_unsplit_write` bytes per call. Every other method is the real file's.
#include "sqlite_vfs.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <mutex>

namespace idbridge::store::sqlite {
namespace {

struct SplitFile {
  sqlite3_file base;   // what SQLite sees: methods = split_methods
  sqlite3_file* real;  // the default VFS's file, in the same allocation after this struct
};

sqlite3_vfs* default_vfs = nullptr;
sqlite3_vfs journal_safe{};
sqlite3_io_methods split_methods{};

sqlite3_file* real_of(sqlite3_file* file) {
  return reinterpret_cast<SplitFile*>(file)->real;
}

int split_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  sqlite3_file* real = real_of(file);
  const auto* bytes = static_cast<const unsigned char*>(data);
  int done = 0;
  while (done < amount) {
    const int piece = std::min(amount - done, largest_unsplit_write);
    const int rc = real->pMethods->xWrite(real, bytes + done, piece, offset + done);
    if (rc != SQLITE_OK) {
      return rc;
    }
    done += piece;
  }
  return SQLITE_OK;
}

int split_close(sqlite3_file* file) {
  sqlite3_file* real = real_of(file);
  const int rc = real->pMethods != nullptr ? real->pMethods->xClose(real) : SQLITE_OK;
  file->pMethods = nullptr;
  return rc;
}

// The remaining methods forward to the real file unchanged.
int split_read(sqlite3_file* f, void* data, int amount, sqlite3_int64 offset) {
  return real_of(f)->pMethods->xRead(real_of(f), data, amount, offset);
}
int split_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return real_of(f)->pMethods->xTruncate(real_of(f), size);
}
int split_sync(sqlite3_file* f, int flags) {
  return real_of(f)->pMethods->xSync(real_of(f), flags);
}
int split_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return real_of(f)->pMethods->xFileSize(real_of(f), size);
}
int split_lock(sqlite3_file* f, int level) {
  return real_of(f)->pMethods->xLock(real_of(f), level);
}
int split_unlock(sqlite3_file* f, int level) {
  return real_of(f)->pMethods->xUnlock(real_of(f), level);
}
int split_check_reserved_lock(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
int split_file_control(sqlite3_file* f, int op, void* arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int split_sector_size(sqlite3_file* f) {
  return real_of(f)->pMethods->xSectorSize(real_of(f));
}
int split_device_characteristics(sqlite3_file* f) {
  return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

int open_file(sqlite3_vfs* /*vfs*/, sqlite3_filename name, sqlite3_file* file, int flags,
              int* out_flags) {
  if ((flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0) {
    // The database and its WAL are the default VFS's files in place: SQLite allocated
    // journal_safe.szOsFile bytes, more than the default VFS needs.
    return default_vfs->xOpen(default_vfs, name, file, flags, out_flags);
  }
  auto* split = reinterpret_cast<SplitFile*>(file);
  split->real = reinterpret_cast<sqlite3_file*>(split + 1);
  split->real->pMethods = nullptr;
  const int rc = default_vfs->xOpen(default_vfs, name, split->real, flags, out_flags);
  // SQLite calls xClose only when pMethods is set, so a failed open leaves it null.
  split->base.pMethods = split->real->pMethods != nullptr ? &split_methods : nullptr;
  return rc;
}

void register_once() {
  default_vfs = sqlite3_vfs_find(nullptr);
  journal_safe = *default_vfs;  // every method but xOpen is the default VFS's own
  journal_safe.zName = "idbridge-journal-safe";
  journal_safe.szOsFile = static_cast<int>(sizeof(SplitFile)) + default_vfs->szOsFile;
  journal_safe.xOpen = open_file;
  journal_safe.pNext = nullptr;
  // The default VFS's methods receive `vfs` only to reach its own pAppData; pass theirs on.
  journal_safe.pAppData = default_vfs->pAppData;

  // Version 1 methods: journals need no shared memory or memory mapping.
  split_methods.iVersion = 1;
  split_methods.xClose = split_close;
  split_methods.xRead = split_read;
  split_methods.xWrite = split_write;
  split_methods.xTruncate = split_truncate;
  split_methods.xSync = split_sync;
  split_methods.xFileSize = split_file_size;
  split_methods.xLock = split_lock;
  split_methods.xUnlock = split_unlock;
  split_methods.xCheckReservedLock = split_check_reserved_lock;
  split_methods.xFileControl = split_file_control;
  split_methods.xSectorSize = split_sector_size;
  split_methods.xDeviceCharacteristics = split_device_characteristics;
  sqlite3_vfs_register(&journal_safe, /*makeDflt=*/0);
}

}  // namespace

const char* journal_safe_vfs() {
  static std::once_flag once;
  std::call_once(once, register_once);
  return journal_safe.zName;
}

}  // namespace idbridge::store::sqlite
