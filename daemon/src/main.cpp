// idbridged's entry point: the only code outside a library; everything else is idbridge_daemon.
#include "wiring.hpp"

#include <string_view>
#include <vector>

#ifdef IDBRIDGE_JEMALLOC
// jemalloc's options, read at start-up (MALLOC_CONF in the environment still overrides them).
// Every write transaction allocates SQLite's 16 MiB in-memory journal chunk
// (store/src/sqlite_db.cpp) and frees it at the end; whatever jemalloc hands back to the system
// in between is faulted in again by the next write. oversize_threshold:0 keeps allocations above
// 8 MiB out of the arena that returns them at once, and dirty_decay_ms:-1 keeps freed pages for
// reuse instead of purging them over time (as glibc keeps its heap): SCIM writes at 20,000 users
// went from about 1,200/s (defaults) and 2,000/s (a 60 s decay) to 2,700/s. The resident size so
// stays at its peak (peak RSS is what the benchmarks hold under 300 MB).
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's
const char* malloc_conf = "oversize_threshold:0,dirty_decay_ms:-1";
}
#endif

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  return idbridge::daemon::run_main(args);
}
