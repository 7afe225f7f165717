// The kill -9 harness (kill_harness.hpp).
#include "kill_harness.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

namespace idbridge::store_test {
namespace {

// Reads newline-terminated ids until `count` have arrived or the pipe closes.
std::vector<std::string> read_acknowledgements(int fd, int count) {
  std::vector<std::string> ids;
  std::string partial;
  char buffer[256];
  while (static_cast<int>(ids.size()) < count) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) {
      break;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (buffer[i] == '\n') {
        ids.push_back(partial);
        partial.clear();
      } else {
        partial += buffer[i];
      }
    }
  }
  return ids;
}

}  // namespace

KilledChild run_and_kill_after(int count, const std::function<void(int ack_fd)>& child_body) {
  KilledChild result;
  int fds[2];
  if (::pipe(fds) != 0) {
    return result;
  }
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return result;
  }
  if (child == 0) {
    ::close(fds[0]);
    child_body(fds[1]);
    ::_exit(0);
  }
  result.forked = true;
  ::close(fds[1]);
  result.acknowledged = read_acknowledgements(fds[0], count);
  ::kill(child, SIGKILL);
  ::waitpid(child, &result.status, 0);
  ::close(fds[0]);
  return result;
}

std::string integrity_check(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db);
  return result;
}

}  // namespace idbridge::store_test
