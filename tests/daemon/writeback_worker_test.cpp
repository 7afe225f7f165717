// The write-back worker's timing (daemon/src/writeback_delivery.hpp): how long it waits after a
// pass, that a queued write wakes an idle worker at once even with a long poll interval, and
// that queued writes do not cut short the backoff from a directory that is down. The directory
// is a TCP listener on 127.0.0.1 that counts connections and closes each one (so every
// delivery pass that tries the directory is one connection and finds it down); the outbox is a
// real SQLite store.
#include "idbridge/core/ports.hpp"
#include "idbridge/store/sqlite_store.hpp"
#include "idbridge/testing/temp_dir.hpp"
#include "logger.hpp"
#include "writeback_delivery.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace idbridge::daemon {
namespace {

using std::chrono::milliseconds;

// Accepts connections on a free loopback port, counts them and closes each at once.
class CountingListener {
 public:
  CountingListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      while (!stopping_) {
        pollfd ready{fd_, POLLIN, 0};
        if (::poll(&ready, 1, 50) == 1) {
          const int client = ::accept(fd_, nullptr, nullptr);
          if (client >= 0) {
            ++connections_;
            ::close(client);
          }
        }
      }
    });
  }
  ~CountingListener() {
    stopping_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string uri() const { return "ldap://127.0.0.1:" + std::to_string(port_) + "/"; }
  int connections() const { return connections_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

config::DirectoryConfig corp(const std::string& uri, std::chrono::seconds poll_interval) {
  config::DirectoryConfig directory;
  directory.name = "corp";
  directory.uri = uri;
  directory.kind = config::DirectoryKind::openldap;
  directory.anchor_attribute = "entryUUID";
  directory.user_base_dns = {"ou=people,dc=example,dc=com"};
  directory.writeback.directory = "corp";
  directory.writeback.tenant = core::TenantId("acme");
  directory.writeback.operations.modify = true;
  directory.writeback.attributes = {{"title", "title", core::writeback::Authority::scim, false}};
  directory.writeback_poll_interval = poll_interval;
  return directory;
}

class WriteBackWorkerTest : public ::testing::Test {
 protected:
  void enqueue_title_change() {
    core::writeback::OutboxItem item;
    item.directory = "corp";
    item.tenant = core::TenantId("acme");
    item.user = core::UserId("u-" + std::to_string(++queued_));
    item.anchor = "anchor-" + std::to_string(queued_);
    item.kind = core::writeback::WriteKind::modify_user;
    item.changes = {{"title", "Engineer", "Manager"}};
    item.enqueued = clock_.now();
    auto tx = store_->write();
    tx->enqueue_write(item);
    tx->commit();
  }

  // Starts a worker delivering corp (at `listener`) with `poll_interval`.
  void start(const CountingListener& listener, std::chrono::seconds poll_interval) {
    directory_ = corp(listener.uri(), poll_interval);
    ldap::ConnectionSettings settings;
    settings.uri = directory_.uri;
    settings.network_timeout = std::chrono::seconds(2);
    settings.operation_timeout = std::chrono::seconds(2);
    std::vector<std::unique_ptr<WriteBackDelivery>> deliveries;
    deliveries.push_back(
        std::make_unique<WriteBackDelivery>(directory_, settings, *store_, clock_, logger_));
    worker_.emplace(std::move(deliveries), logger_, wakeups_);
    worker_->start();
  }

  int queued_ = 0;
  testing::TempDir dir_;
  std::unique_ptr<core::Store> store_ =
      store::open_sqlite_store({.path = dir_.file("idbridge.db")});
  core::SystemClock clock_;
  std::ostringstream log_;
  Logger logger_{LogLevel::warning, &log_};
  config::DirectoryConfig directory_;
  WriteBackWakeups wakeups_;
  std::optional<WriteBackWorker> worker_;
};

template <class Probe>
bool within(milliseconds timeout, Probe&& probe) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (probe()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  return probe();
}

TEST(WriteBackWorkerWaitTest, BacksOffWhileDownAndOtherwiseWaitsForTheNextRetryOrThePoll) {
  const milliseconds poll(5000);
  milliseconds backoff(0);
  DeliveryCounters down;
  down.directory_down = true;
  for (const int expected : {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000}) {
    const auto wait = WriteBackWorker::next_wait(down, backoff, poll);
    EXPECT_EQ(wait.timeout, milliseconds(expected));
    EXPECT_FALSE(wait.wake_on_queue) << "a queued write must not cut the backoff short";
  }
  DeliveryCounters idle;
  auto wait = WriteBackWorker::next_wait(idle, backoff, poll);
  EXPECT_EQ(wait.timeout, poll);
  EXPECT_TRUE(wait.wake_on_queue);
  EXPECT_EQ(backoff, milliseconds(0)) << "a pass that reached the directory resets the backoff";
  EXPECT_EQ(WriteBackWorker::next_wait(down, backoff, poll).timeout, milliseconds(500));

  DeliveryCounters delivered;
  delivered.delivered = 3;
  EXPECT_EQ(WriteBackWorker::next_wait(delivered, backoff, poll).timeout, milliseconds(0));
  DeliveryCounters retry_soon;
  retry_soon.next_retry_in = milliseconds(1200);
  EXPECT_EQ(WriteBackWorker::next_wait(retry_soon, backoff, poll).timeout, milliseconds(1200));
  retry_soon.next_retry_in = milliseconds(60000);
  EXPECT_EQ(WriteBackWorker::next_wait(retry_soon, backoff, poll).timeout, poll);
}

TEST_F(WriteBackWorkerTest, AnIdleWorkerWakesAtOnceWhenAWriteIsQueuedDespiteALongPoll) {
  CountingListener directory;
  start(directory, std::chrono::seconds(60));
  // The first pass finds an empty outbox and does not call the directory; then the worker
  // waits for its 60 s poll.
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(directory.connections(), 0);

  enqueue_title_change();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(directory.connections(), 0) << "committed but not announced: waits for the poll";
  wakeups_.queued("other");
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(directory.connections(), 0) << "another directory's wake-up is not corp's";

  const auto woken = std::chrono::steady_clock::now();
  wakeups_.queued("corp");
  EXPECT_TRUE(within(milliseconds(3000), [&] { return directory.connections() >= 1; }));
  EXPECT_LT(std::chrono::steady_clock::now() - woken, milliseconds(3000));
}

TEST_F(WriteBackWorkerTest, QueuedWritesDoNotCutShortTheBackoffFromADirectoryThatIsDown) {
  CountingListener directory;
  enqueue_title_change();
  start(directory, std::chrono::seconds(60));
  ASSERT_TRUE(within(milliseconds(3000), [&] { return directory.connections() >= 1; }));

  // 3.5 s of SCIM writes, one every 50 ms (70 wake-ups): the worker keeps its 0.5 s, 1 s, 2 s
  // backoff, so it tries the directory about three more times, not once per write.
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < milliseconds(3500)) {
    enqueue_title_change();
    wakeups_.queued("corp");
    std::this_thread::sleep_for(milliseconds(50));
  }
  const int tries = directory.connections();
  EXPECT_GE(tries, 3) << "it does retry while backing off";
  EXPECT_LE(tries, 6) << "each queued write made it try the directory again";
  EXPECT_NE(log_.str().find("write-back waiting for the directory"), std::string::npos);
}

}  // namespace
}  // namespace idbridge::daemon
