// The shared-mapping VFS: a shim over the default ("unix") VFS. Files are the default VFS's files
// behind a header; a main database file's xFetch hands out pointers into one process-wide
// read-only MAP_SHARED mapping of the file (docs/design/store.md, "Reads through one mapping").
#include "shared_map_vfs.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace idbridge::store::sqlite {
namespace {

// Address space reserved for a file's mapping (not memory: only pages that are read become
// resident, and they are the page cache's pages). Pages past the file's end are never handed out;
// a database larger than this reads its tail through xRead.
constexpr std::int64_t kReservedBytes = std::int64_t{64} << 30;

// One read-only mapping of one database file (device and inode), shared by every connection of
// the process that has the file open. The file only ever grows (the store never vacuums or
// truncates it), so a page inside the size last seen stays valid.
class Mapping {
 public:
  Mapping(int fd, std::int64_t size) : fd_(fd), size_(size) {
    void* base =
        ::mmap(nullptr, static_cast<std::size_t>(kReservedBytes), PROT_READ, MAP_SHARED, fd_, 0);
    base_ = base == MAP_FAILED ? nullptr : static_cast<const char*>(base);
  }
  ~Mapping() {
    if (base_ != nullptr) {
      ::munmap(const_cast<char*>(base_), static_cast<std::size_t>(kReservedBytes));
    }
    ::close(fd_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  // The bytes [offset, offset + amount) when the file holds them, else nullptr (the caller then
  // reads them with xRead).
  const char* at(std::int64_t offset, std::int64_t amount) {
    if (base_ == nullptr || offset < 0 || amount <= 0 || offset + amount > kReservedBytes) {
      return nullptr;
    }
    if (offset + amount > size_.load(std::memory_order_acquire)) {
      // The file grew since last seen (the writer checkpointed new pages into it).
      struct stat info {};
      if (::fstat(fd_, &info) != 0) {
        return nullptr;
      }
      std::int64_t seen = size_.load(std::memory_order_acquire);
      while (info.st_size > seen &&
             !size_.compare_exchange_weak(seen, info.st_size, std::memory_order_acq_rel)) {
      }
      if (offset + amount > info.st_size) {
        return nullptr;
      }
    }
    return base_ + offset;
  }

 private:
  int fd_;
  const char* base_ = nullptr;
  std::atomic<std::int64_t> size_;
};

// Open mappings by file identity; an entry lives while a connection has the file open.
class MappingRegistry {
 public:
  std::shared_ptr<Mapping> acquire(const char* path) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return nullptr;
    }
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
      ::close(fd);
      return nullptr;
    }
    const std::pair<dev_t, ino_t> key{info.st_dev, info.st_ino};
    const std::lock_guard lock(mutex_);
    if (auto existing = mappings_[key].lock()) {
      ::close(fd);
      return existing;
    }
    auto created = std::make_shared<Mapping>(fd, info.st_size);
    mappings_[key] = created;
    // Forget entries whose files every connection closed.
    for (auto it = mappings_.begin(); it != mappings_.end();) {
      it = it->second.expired() ? mappings_.erase(it) : std::next(it);
    }
    return created;
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<dev_t, ino_t>, std::weak_ptr<Mapping>> mappings_;
};

MappingRegistry& registry() {
  static MappingRegistry instance;
  return instance;
}

sqlite3_vfs* base_vfs = nullptr;

// Our file: this header, then the default VFS's file in the same allocation.
struct ShimFile {
  sqlite3_file header;
  sqlite3_file* real;
  std::shared_ptr<Mapping> mapping;  // main database files only
  bool fetch_enabled;                // PRAGMA mmap_size > 0
};

ShimFile& shim(sqlite3_file* file) {
  return *reinterpret_cast<ShimFile*>(file);
}
sqlite3_file* real(sqlite3_file* file) {
  return shim(file).real;
}

int shim_close(sqlite3_file* file) {
  auto& self = shim(file);
  const int rc = self.real->pMethods != nullptr ? self.real->pMethods->xClose(self.real) : 0;
  self.mapping.reset();
  self.mapping.~shared_ptr();
  return rc;
}
int shim_read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  return real(file)->pMethods->xRead(real(file), buffer, amount, offset);
}
int shim_write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  return real(file)->pMethods->xWrite(real(file), buffer, amount, offset);
}
int shim_truncate(sqlite3_file* file, sqlite3_int64 size) {
  return real(file)->pMethods->xTruncate(real(file), size);
}
int shim_sync(sqlite3_file* file, int flags) {
  return real(file)->pMethods->xSync(real(file), flags);
}
int shim_file_size(sqlite3_file* file, sqlite3_int64* size) {
  return real(file)->pMethods->xFileSize(real(file), size);
}
int shim_lock(sqlite3_file* file, int level) {
  return real(file)->pMethods->xLock(real(file), level);
}
int shim_unlock(sqlite3_file* file, int level) {
  return real(file)->pMethods->xUnlock(real(file), level);
}
int shim_check_reserved_lock(sqlite3_file* file, int* out) {
  return real(file)->pMethods->xCheckReservedLock(real(file), out);
}
int shim_file_control(sqlite3_file* file, int op, void* argument) {
  auto& self = shim(file);
  if (op == SQLITE_FCNTL_MMAP_SIZE && self.mapping) {
    // Kept from the default VFS, which would map the file once more for this connection.
    auto* limit = static_cast<sqlite3_int64*>(argument);
    const sqlite3_int64 requested = *limit;
    *limit = self.fetch_enabled ? kReservedBytes : 0;
    if (requested >= 0) {
      self.fetch_enabled = requested > 0;
    }
    return SQLITE_OK;
  }
  return self.real->pMethods->xFileControl(self.real, op, argument);
}
int shim_sector_size(sqlite3_file* file) {
  return real(file)->pMethods->xSectorSize(real(file));
}
int shim_device_characteristics(sqlite3_file* file) {
  return real(file)->pMethods->xDeviceCharacteristics(real(file));
}
int shim_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return real(file)->pMethods->xShmMap(real(file), region, size, extend, out);
}
int shim_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return real(file)->pMethods->xShmLock(real(file), offset, n, flags);
}
void shim_shm_barrier(sqlite3_file* file) {
  real(file)->pMethods->xShmBarrier(real(file));
}
int shim_shm_unmap(sqlite3_file* file, int delete_flag) {
  return real(file)->pMethods->xShmUnmap(real(file), delete_flag);
}
int shim_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  auto& self = shim(file);
  *out = nullptr;
  if (self.fetch_enabled && self.mapping) {
    // SQLite only reads the pages through the pointer: the mapping is PROT_READ.
    *out = const_cast<char*>(self.mapping->at(offset, amount));
  }
  return SQLITE_OK;  // a null page makes SQLite fall back to xRead
}
int shim_unfetch(sqlite3_file* /*file*/, sqlite3_int64 /*offset*/, void* /*page*/) {
  return SQLITE_OK;  // the mapping lives as long as the file is open
}

constexpr sqlite3_io_methods kMethods = {
    3,
    shim_close,
    shim_read,
    shim_write,
    shim_truncate,
    shim_sync,
    shim_file_size,
    shim_lock,
    shim_unlock,
    shim_check_reserved_lock,
    shim_file_control,
    shim_sector_size,
    shim_device_characteristics,
    shim_shm_map,
    shim_shm_lock,
    shim_shm_barrier,
    shim_shm_unmap,
    shim_fetch,
    shim_unfetch,
};

int shim_open(sqlite3_vfs* /*vfs*/, const char* name, sqlite3_file* file, int flags,
              int* out_flags) {
  auto* self = reinterpret_cast<ShimFile*>(file);
  self->header.pMethods = nullptr;
  sqlite3_file* inner = reinterpret_cast<sqlite3_file*>(self + 1);
  const int rc = base_vfs->xOpen(base_vfs, name, inner, flags, out_flags);
  if (rc != SQLITE_OK) {
    // SQLite calls xClose only when pMethods is set; the default VFS cleans up after itself.
    return rc;
  }
  self->real = inner;
  new (&self->mapping) std::shared_ptr<Mapping>();
  self->fetch_enabled = false;
  if ((flags & SQLITE_OPEN_MAIN_DB) != 0 && name != nullptr) {
    self->mapping = registry().acquire(name);
  }
  self->header.pMethods = &kMethods;
  return SQLITE_OK;
}

int shim_delete(sqlite3_vfs* /*vfs*/, const char* name, int sync_dir) {
  return base_vfs->xDelete(base_vfs, name, sync_dir);
}
int shim_access(sqlite3_vfs* /*vfs*/, const char* name, int flags, int* out) {
  return base_vfs->xAccess(base_vfs, name, flags, out);
}
int shim_full_pathname(sqlite3_vfs* /*vfs*/, const char* name, int size, char* out) {
  return base_vfs->xFullPathname(base_vfs, name, size, out);
}
void* shim_dl_open(sqlite3_vfs* /*vfs*/, const char* name) {
  return base_vfs->xDlOpen(base_vfs, name);
}
void shim_dl_error(sqlite3_vfs* /*vfs*/, int size, char* out) {
  base_vfs->xDlError(base_vfs, size, out);
}
void (*shim_dl_sym(sqlite3_vfs* /*vfs*/, void* handle, const char* symbol))() {
  return base_vfs->xDlSym(base_vfs, handle, symbol);
}
void shim_dl_close(sqlite3_vfs* /*vfs*/, void* handle) {
  base_vfs->xDlClose(base_vfs, handle);
}
int shim_randomness(sqlite3_vfs* /*vfs*/, int size, char* out) {
  return base_vfs->xRandomness(base_vfs, size, out);
}
int shim_sleep(sqlite3_vfs* /*vfs*/, int microseconds) {
  return base_vfs->xSleep(base_vfs, microseconds);
}
int shim_current_time(sqlite3_vfs* /*vfs*/, double* out) {
  return base_vfs->xCurrentTime(base_vfs, out);
}
int shim_get_last_error(sqlite3_vfs* /*vfs*/, int size, char* out) {
  return base_vfs->xGetLastError(base_vfs, size, out);
}
int shim_current_time_int64(sqlite3_vfs* /*vfs*/, sqlite3_int64* out) {
  return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

constexpr const char* kName = "idbridge-shared-map";

sqlite3_vfs* make_vfs() {
  base_vfs = sqlite3_vfs_find(nullptr);
  if (base_vfs == nullptr || base_vfs->iVersion < 2) {
    throw std::runtime_error("sqlite: no usable default VFS");
  }
  static sqlite3_vfs vfs{};
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + base_vfs->szOsFile;
  vfs.mxPathname = base_vfs->mxPathname;
  vfs.zName = kName;
  vfs.xOpen = shim_open;
  vfs.xDelete = shim_delete;
  vfs.xAccess = shim_access;
  vfs.xFullPathname = shim_full_pathname;
  vfs.xDlOpen = shim_dl_open;
  vfs.xDlError = shim_dl_error;
  vfs.xDlSym = shim_dl_sym;
  vfs.xDlClose = shim_dl_close;
  vfs.xRandomness = shim_randomness;
  vfs.xSleep = shim_sleep;
  vfs.xCurrentTime = shim_current_time;
  vfs.xGetLastError = shim_get_last_error;
  vfs.xCurrentTimeInt64 = shim_current_time_int64;
  if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) {
    throw std::runtime_error("sqlite: cannot register the shared-mapping VFS");
  }
  return &vfs;
}

}  // namespace

const char* shared_map_vfs() {
  static const sqlite3_vfs* const vfs = make_vfs();
  return vfs->zName;
}

}  // namespace idbridge::store::sqlite
