// `idbridged writeback`: what an admin needs to see and do about write-back — the conflicts
// recorded (the loser's value of each attribute both sides changed), the outbox (pending and
// parked writes with their last error), and releasing a parked write for another attempt.
#pragma once

#include "idbridge/core/store.hpp"

#include <cstdint>
#include <ostream>
#include <string>

namespace idbridge::daemon {

void print_conflicts(core::StoreReader& reader, const std::string& directory, bool json,
                     std::ostream& out);
void print_outbox(core::StoreReader& reader, const std::string& directory, bool json,
                  std::ostream& out);
// Clears the parked state, attempts and schedule of item `id`: the worker tries it again at once.
// Returns false (and writes nothing) when there is no such item.
bool retry_parked(core::Store& store, std::int64_t id);

}  // namespace idbridge::daemon
