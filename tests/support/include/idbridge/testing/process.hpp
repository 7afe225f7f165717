// Child processes for end-to-end tests: run a command to completion, or keep a daemon running
// while its stderr (JSON log lines) is collected, signal it and collect its exit status.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace idbridge::testing {

class TempDir;

struct ExitStatus {
  bool exited = false;  // normal exit: `code` is valid
  int code = -1;
  int signal = 0;  // killed by this signal when !exited
  bool ok() const { return exited && code == 0; }
};

struct CommandResult {
  ExitStatus status;
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] is the program path) with `extra_env` ("NAME=value") added to the
// environment; kills it after `timeout`. Throws std::system_error when it cannot be started.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                          const std::vector<std::string>& extra_env = {});

// A started process whose stdout and stderr are collected by background threads.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env);
  // SIGKILLs and reaps the process if it is still running.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void send_signal(int signal);
  // nullopt when the process is still running after `timeout`.
  std::optional<ExitStatus> wait_exit(std::chrono::milliseconds timeout);
  // Waits until stderr holds a line containing `text`; false on timeout or when the process ends
  // (and its output is complete) without one.
  bool wait_for_stderr(std::string_view text, std::chrono::milliseconds timeout);

  std::string stdout_text() const;
  std::string stderr_text() const;
  std::vector<std::string> stderr_lines() const;  // complete lines only

 private:
  struct Output {
    mutable std::mutex mutex;
    std::condition_variable changed;
    std::string out;
    std::string err;
    int open_pipes = 2;
  };
  void reap(int status);

  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
  std::shared_ptr<Output> output_;
  std::thread out_reader_;
  std::thread err_reader_;
};

// Waits for idbridged's {"msg":"listening",...,"port":N} log line and returns N. Throws
// std::runtime_error (with the process's stderr) when it exits first or `timeout` passes.
std::uint16_t wait_listening(ChildProcess& process,
                             std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The idbridged binary started with `--config <dir>/idbridged.toml` after writing `config_toml`
// there; `extra_args` follow. Knows the daemon's "listening" log line.
class DaemonProcess {
 public:
  DaemonProcess(const std::string& binary, const TempDir& dir, std::string_view config_toml,
                const std::vector<std::string>& extra_args = {},
                const std::vector<std::string>& extra_env = {});

  // See testing::wait_listening.
  std::uint16_t wait_listening(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    return testing::wait_listening(*process_, timeout);
  }

  ChildProcess& process() { return *process_; }
  std::string config_path() const { return config_path_; }
  void send_signal(int signal) { process_->send_signal(signal); }
  std::optional<ExitStatus> wait_exit(std::chrono::milliseconds timeout) {
    return process_->wait_exit(timeout);
  }
  std::string stderr_text() const { return process_->stderr_text(); }
  std::vector<std::string> stderr_lines() const { return process_->stderr_lines(); }

 private:
  std::string config_path_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace idbridge::testing
