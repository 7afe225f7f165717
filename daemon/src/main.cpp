// idbridged's entry point: the only code outside a library; everything else is idbridge_daemon.
#include "wiring.hpp"

#include <string_view>
#include <vector>

#ifdef IDBRIDGE_JEMALLOC
// jemalloc's options, read at start-up (MALLOC_CONF in the environment still overrides them).
// oversize_threshold:0: by default an allocation above 8 MiB comes from an arena that returns
// its pages to the system as soon as it is freed. Every write transaction allocates SQLite's
// 16 MiB in-memory journal chunk (store/src/sqlite_db.cpp), so each write faulted 16 MiB of
// fresh pages in again: SCIM writes fell from about 2,600/s to 1,200/s. In the ordinary arenas
// the chunk is reused, as glibc reuses it.
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's
const char* malloc_conf = "oversize_threshold:0";
}
#endif

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  return idbridge::daemon::run_main(args);
}
