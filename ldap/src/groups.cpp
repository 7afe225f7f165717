// Client-side nested group resolution: member lists interned by normalised DN, a breadth-first
// closure per group (each group visited once, so cycles end), and an order-independent digest.
#include "idbridge/ldap/groups.hpp"

#include <algorithm>
#include <cassert>
#include <deque>

namespace idbridge::ldap {
namespace {

constexpr std::uint64_t fnv_offset = 14695981039346656037ull;
constexpr std::uint64_t fnv_prime = 1099511628211ull;

std::uint64_t fnv1a(std::uint64_t hash, std::string_view text) {
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= fnv_prime;
  }
  // A separator that no DN byte sequence can fake: length-prefixing by hashing the size.
  for (std::size_t size = text.size(), i = 0; i < sizeof size; ++i, size >>= 8) {
    hash ^= size & 0xff;
    hash *= fnv_prime;
  }
  return hash;
}

}  // namespace

std::string normalise_dn(std::string_view dn) {
  std::string out;
  out.reserve(dn.size());
  bool after_comma = false;
  for (const char c : dn) {
    if (after_comma && c == ' ') {
      continue;
    }
    after_comma = c == ',';
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::uint64_t membership_digest(std::string_view normalised_dn,
                                const std::vector<std::string>& sorted_normalised_members) {
  std::uint64_t digest = fnv1a(fnv_offset, normalised_dn);
  for (const auto& member : sorted_normalised_members) {
    digest = fnv1a(digest, member);
  }
  return digest;
}

std::uint64_t combined_digest(std::vector<std::uint64_t> digests) {
  std::sort(digests.begin(), digests.end());
  std::uint64_t hash = fnv_offset;
  for (const auto value : digests) {
    for (int i = 0; i < 8; ++i) {
      hash ^= (value >> (8 * i)) & 0xff;
      hash *= fnv_prime;
    }
  }
  return hash;
}

void GroupGraph::add_group(std::string_view dn, const std::vector<std::string>& members) {
  std::string key = normalise_dn(dn);
  if (group_by_dn_.count(key) != 0) {
    return;
  }
  const auto index = static_cast<std::uint32_t>(groups_.size());
  std::vector<std::string> normalised;
  normalised.reserve(members.size());
  for (const auto& member : members) {
    normalised.push_back(normalise_dn(member));
  }
  std::sort(normalised.begin(), normalised.end());
  normalised.erase(std::unique(normalised.begin(), normalised.end()), normalised.end());
  const std::uint64_t digest = membership_digest(key, normalised);
  for (auto& member : normalised) {
    groups_by_member_[std::move(member)].push_back(index);
  }
  memberships_ += normalised.size();
  group_by_dn_.emplace(std::move(key), index);
  groups_.push_back({std::string(dn), digest});
}

void GroupGraph::finish() {
  closure_.assign(groups_.size(), {});
  std::vector<std::uint32_t> parents_of_group;
  std::vector<char> visited(groups_.size(), 0);
  for (std::uint32_t start = 0; start < groups_.size(); ++start) {
    std::fill(visited.begin(), visited.end(), 0);
    std::deque<std::uint32_t> queue{start};
    visited[start] = 1;
    auto& closure = closure_[start];
    while (!queue.empty()) {
      const auto group = queue.front();
      queue.pop_front();
      closure.push_back(group);
      const auto parents = groups_by_member_.find(normalise_dn(groups_[group].dn));
      if (parents == groups_by_member_.end()) {
        continue;
      }
      for (const auto parent : parents->second) {
        if (visited[parent] == 0) {
          visited[parent] = 1;
          queue.push_back(parent);
        }
      }
    }
    std::sort(closure.begin(), closure.end());
  }
}

std::vector<std::string> GroupGraph::groups_of(
    std::string_view member_dn, const std::vector<std::string>& direct_groups) const {
  assert(closure_.size() == groups_.size() && "GroupGraph::finish() not called");
  std::vector<std::uint32_t> known;
  // memberOf values outside the group bases: kept as read, without nesting information.
  std::vector<std::pair<std::string, std::string>> unknown;  // normalised, as read
  if (const auto direct = groups_by_member_.find(normalise_dn(member_dn));
      direct != groups_by_member_.end()) {
    for (const auto group : direct->second) {
      known.insert(known.end(), closure_[group].begin(), closure_[group].end());
    }
  }
  for (const auto& dn : direct_groups) {
    auto key = normalise_dn(dn);
    if (const auto found = group_by_dn_.find(key); found != group_by_dn_.end()) {
      const auto& closure = closure_[found->second];
      known.insert(known.end(), closure.begin(), closure.end());
    } else {
      unknown.emplace_back(std::move(key), dn);
    }
  }
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  std::vector<std::pair<std::string, std::string>> all = std::move(unknown);
  all.reserve(all.size() + known.size());
  for (const auto group : known) {
    all.emplace_back(normalise_dn(groups_[group].dn), groups_[group].dn);
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  all.erase(std::unique(all.begin(), all.end(),
                        [](const auto& a, const auto& b) { return a.first == b.first; }),
            all.end());
  std::vector<std::string> result;
  result.reserve(all.size());
  for (auto& [key, dn] : all) {
    result.push_back(std::move(dn));
  }
  return result;
}

std::vector<std::string> GroupGraph::ancestors_of(std::string_view group_dn) const {
  assert(closure_.size() == groups_.size() && "GroupGraph::finish() not called");
  const auto found = group_by_dn_.find(normalise_dn(group_dn));
  if (found == group_by_dn_.end()) {
    return {};
  }
  std::vector<std::string> result;
  for (const auto group : closure_[found->second]) {
    if (group != found->second) {
      result.push_back(groups_[group].dn);
    }
  }
  std::sort(result.begin(), result.end(),
            [](const auto& a, const auto& b) { return normalise_dn(a) < normalise_dn(b); });
  return result;
}

std::uint64_t GroupGraph::digest() const {
  std::vector<std::uint64_t> digests;
  digests.reserve(groups_.size());
  for (const auto& group : groups_) {
    digests.push_back(group.digest);
  }
  return combined_digest(std::move(digests));
}

}  // namespace idbridge::ldap
