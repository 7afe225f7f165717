// ChildProcess on posix_spawn (safe from a multithreaded test), pipes drained by one thread
// each so the child never blocks on a full pipe.
#include "idbridge/testing/process.hpp"

#include "idbridge/testing/temp_dir.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace idbridge::testing {
namespace {

void throw_errno(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

ExitStatus decode(int status) {
  ExitStatus result;
  if (WIFEXITED(status)) {
    result.exited = true;
    result.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

// "port":12345 in a JSON log line.
std::optional<std::uint16_t> port_of(std::string_view line) {
  const auto at = line.find("\"port\":");
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  unsigned long port = 0;
  std::size_t i = at + 7;
  bool any = false;
  while (i < line.size() && line[i] >= '0' && line[i] <= '9') {
    port = port * 10 + static_cast<unsigned long>(line[i] - '0');
    any = true;
    ++i;
  }
  if (!any || port > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(port);
}

}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& extra_env)
    : output_(std::make_shared<Output>()) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    throw_errno(errno, "pipe");
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int error = errno;
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw_errno(error, "pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  std::vector<char*> args;
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    env_strings.emplace_back(*e);
  }
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> env;
  for (auto& entry : env_strings) {
    env.push_back(entry.data());
  }
  env.push_back(nullptr);

  const int spawned =
      posix_spawn(&pid_, argv.at(0).c_str(), &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawned != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    throw_errno(spawned, "posix_spawn " + argv.at(0));
  }
  auto drain = [output = output_](int fd, bool is_err) {
    char buffer[4096];
    while (true) {
      const auto n = read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      const std::lock_guard lock(output->mutex);
      if (n <= 0) {
        --output->open_pipes;
        output->changed.notify_all();
        break;
      }
      (is_err ? output->err : output->out).append(buffer, static_cast<std::size_t>(n));
      output->changed.notify_all();
    }
    close(fd);
  };
  out_reader_ = std::thread(drain, out_pipe[0], false);
  err_reader_ = std::thread(drain, err_pipe[0], true);
}

ChildProcess::~ChildProcess() {
  if (!status_) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reap(status);
  }
  if (out_reader_.joinable()) {
    out_reader_.join();
  }
  if (err_reader_.joinable()) {
    err_reader_.join();
  }
}

void ChildProcess::reap(int status) {
  status_ = decode(status);
}

void ChildProcess::send_signal(int signal) {
  if (!status_) {
    kill(pid_, signal);
  }
}

std::optional<ExitStatus> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reap(status);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The output is complete once both pipes are closed; bounded in case a grandchild holds them.
  std::unique_lock lock(output_->mutex);
  output_->changed.wait_for(lock, std::chrono::seconds(5),
                            [&] { return output_->open_pipes == 0; });
  return status_;
}

bool ChildProcess::wait_for_stderr(std::string_view text, std::chrono::milliseconds timeout) {
  std::unique_lock lock(output_->mutex);
  return output_->changed.wait_for(lock, timeout, [&] {
    return output_->err.find(text) != std::string::npos || output_->open_pipes == 0;
  }) && output_->err.find(text) != std::string::npos;
}

std::string ChildProcess::stdout_text() const {
  const std::lock_guard lock(output_->mutex);
  return output_->out;
}

std::string ChildProcess::stderr_text() const {
  const std::lock_guard lock(output_->mutex);
  return output_->err;
}

std::vector<std::string> ChildProcess::stderr_lines() const {
  const std::string text = stderr_text();
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    const auto end = text.find('\n', start);
    if (end == std::string::npos) {
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::vector<std::string>& extra_env) {
  ChildProcess child(argv, extra_env);
  auto status = child.wait_exit(timeout);
  if (!status) {
    child.send_signal(SIGKILL);
    status = child.wait_exit(std::chrono::seconds(10));
  }
  return {status.value_or(ExitStatus{}), child.stdout_text(), child.stderr_text()};
}

DaemonProcess::DaemonProcess(const std::string& binary, const TempDir& dir,
                             std::string_view config_toml,
                             const std::vector<std::string>& extra_args,
                             const std::vector<std::string>& extra_env)
    : config_path_(dir.write("idbridged.toml", std::string(config_toml))) {
  std::vector<std::string> argv{binary, "--config", config_path_};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ChildProcess>(argv, extra_env);
}

std::uint16_t wait_listening(ChildProcess& process, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  constexpr std::string_view listening = "\"msg\":\"listening\"";
  if (process.wait_for_stderr(listening, timeout)) {
    // The line may still be arriving: only complete lines count.
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& line : process.stderr_lines()) {
        if (line.find(listening) != std::string::npos) {
          if (auto port = port_of(line)) {
            return *port;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  throw std::runtime_error("idbridged did not log \"listening\" with a port; stderr:\n" +
                           process.stderr_text());
}

}  // namespace idbridge::testing
