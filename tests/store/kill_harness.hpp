// The kill -9 harness shared by the durability tests: a forked child commits and acknowledges
// each commit on a pipe; the parent SIGKILLs it after enough acknowledgements.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace idbridge::store_test {

struct KilledChild {
  std::vector<std::string> acknowledged;  // the lines the child wrote before it was killed
  int status = 0;                         // waitpid status
  bool forked = false;
};

// Forks; the child runs `child_body(ack_fd)`, which writes one line per durable commit and must
// end with _exit. The parent reads at least `count` lines (or until the pipe closes), SIGKILLs
// the child and reaps it.
KilledChild run_and_kill_after(int count, const std::function<void(int ack_fd)>& child_body);

// PRAGMA integrity_check of the file, read through its own read-only connection.
std::string integrity_check(const std::string& path);

}  // namespace idbridge::store_test
