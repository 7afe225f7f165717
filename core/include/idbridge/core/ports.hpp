// Ports the tenant core needs from the outside world, injected so that tests stay hermetic:
// time, fresh identifiers, password hashing and the IANA time-zone catalogue.
#pragma once

#include "idbridge/core/model.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace idbridge::core {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

// The system clock, truncated to milliseconds.
class SystemClock final : public Clock {
 public:
  Timestamp now() const override;
};

// Produces identifiers that are never reused (UUIDs: random v4, or time-ordered v7).
class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  virtual std::string next() = 0;
};

class RandomUuidGenerator final : public IdGenerator {
 public:
  std::string next() override;
};

// UUIDv7 (RFC 9562): the creation time in milliseconds first, then 74 bits of which 12 count
// up within a millisecond (from a random start) and 62 are random. Ids made by one generator
// sort in the order they were made, so every index keyed by a user id (users, emails, links)
// grows at its end: a first sync of 100,000 users then rewrites a few index pages per commit
// instead of one random page per user per index. Still unpredictable (62 random bits per id)
// and never repeated. Thread-safe.
class TimeOrderedUuidGenerator final : public IdGenerator {
 public:
  explicit TimeOrderedUuidGenerator(const Clock& clock) : clock_(clock) {}
  std::string next() override;

 private:
  const Clock& clock_;
  std::mutex mutex_;
  std::int64_t last_millis_ = 0;
  std::uint32_t counter_ = 0;  // 12 bits used
};

// Turns a plaintext password into a self-describing hash (algorithm and salt included), and
// checks a password against such a hash. Both are deliberately slow (scrypt), so the service
// never calls them while it holds the store's write slot.
class PasswordHasher {
 public:
  virtual ~PasswordHasher() = default;
  virtual std::string hash(std::string_view password) = 0;
  // Whether `password` is the one `hash` was made from; false for a hash it cannot read.
  virtual bool verify(std::string_view password, std::string_view hash) = 0;
};

// Seals a secret (a password on its way to a directory) for storage at rest, and opens it again.
// Sealed text is authenticated: open() returns nullopt for anything seal() did not produce with
// the same key.
class SecretSealer {
 public:
  virtual ~SecretSealer() = default;
  virtual std::string seal(std::string_view plaintext) = 0;
  virtual std::optional<std::string> open(std::string_view sealed) = 0;
};

// The set of valid IANA zone names.
class ZoneCatalog {
 public:
  virtual ~ZoneCatalog() = default;
  virtual bool contains(std::string_view zone) const = 0;
};

// A catalogue read from tzdata's compact source (`/usr/share/zoneinfo/tzdata.zi`): zone names
// ("Z name") and links ("L target name"). Throws std::runtime_error when the file is unreadable.
class TzdataZoneCatalog final : public ZoneCatalog {
 public:
  explicit TzdataZoneCatalog(const std::string& tzdata_zi_path = "/usr/share/zoneinfo/tzdata.zi");
  bool contains(std::string_view zone) const override;
  std::size_t size() const { return zones_.size(); }

 private:
  std::unordered_set<std::string> zones_;
};

}  // namespace idbridge::core
