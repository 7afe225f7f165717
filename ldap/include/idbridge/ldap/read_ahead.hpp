// Reading a directory on one thread while the caller's thread consumes what was read. A full
// read of 100,000 users spent a quarter of its time in libldap taking replies apart (BER
// decoding, building entries) and the rest mapping them; done one after the other on one core,
// the second core (and slapd's own work) sat mostly idle. A bounded queue keeps memory flat.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace idbridge::ldap {

// Runs `read(deliver)` on a thread of its own; every batch it hands to `deliver` is moved into a
// queue of at most `depth` batches and handed, in order, to `consume` on the calling thread.
// Returns what `read` returned once every batch was consumed. An exception from `read` is
// rethrown here after the batches delivered before it were consumed; an exception from
// `consume` stops the read (its next delivery throws ReadAbandoned inside `read`, which must let
// it propagate) and is rethrown once the reading thread has ended. `read` must not touch what
// `consume` touches: it owns the connection, `consume` owns everything else.
struct ReadAbandoned {};

template <class Outcome, class Batch, class Read, class Consume>
Outcome read_ahead(Read&& read, Consume&& consume, std::size_t depth = 4) {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Batch> queue;
  bool finished = false;   // the reading thread is done (queue may still hold batches)
  bool abandoned = false;  // the consumer failed: stop reading
  std::exception_ptr read_error;
  Outcome outcome{};

  std::thread reader([&] {
    try {
      outcome = read([&](Batch& batch) {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return queue.size() < depth || abandoned; });
        if (abandoned) {
          throw ReadAbandoned{};
        }
        queue.push_back(std::move(batch));
        changed.notify_all();
      });
    } catch (const ReadAbandoned&) {
      // the consumer's exception is the one that matters
    } catch (...) {
      read_error = std::current_exception();
    }
    std::lock_guard lock(mutex);
    finished = true;
    changed.notify_all();
  });

  try {
    while (true) {
      Batch batch;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return !queue.empty() || finished; });
        if (queue.empty()) {
          break;
        }
        batch = std::move(queue.front());
        queue.pop_front();
        changed.notify_all();
      }
      consume(batch);
    }
  } catch (...) {
    {
      std::lock_guard lock(mutex);
      abandoned = true;
      changed.notify_all();
    }
    reader.join();
    throw;
  }
  reader.join();
  if (read_error) {
    std::rethrow_exception(read_error);
  }
  return outcome;
}

}  // namespace idbridge::ldap
