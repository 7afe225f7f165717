// The storage encoding of the tenant model, shared by every SQL backend: users and groups as JSON
// documents, change-record attributes as a JSON array, enums and timestamps as stable text and
// integers. Decoding failures throw core::StoreFailure naming only the resource id.
#pragma once

#include "idbridge/core/change.hpp"
#include "idbridge/core/model.hpp"
#include "idbridge/core/principal.hpp"
#include "idbridge/core/sync/state.hpp"
#include "idbridge/core/writeback/outbox.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace idbridge::store::codec {

// The stored spelling of each enum. It is part of the schema, deliberately independent of the
// SCIM/config spellings in core so that a display rename never invalidates stored rows.
std::string_view to_text(core::Role value);
std::string_view to_text(core::GroupKind value);
std::string_view to_text(core::MfaMethod value);
std::string_view to_text(core::MemberType value);
std::string_view to_text(core::ResourceType value);
std::string_view to_text(core::ChangeKind value);
std::string_view to_text(core::ActorKind value);
std::string_view to_text(core::OriginKind value);
std::string_view to_text(core::sync::RunKind value);
std::string_view to_text(core::sync::RunOutcome value);
std::string_view to_text(core::writeback::WriteKind value);
std::string_view to_text(core::writeback::Authority value);

// Parses a stored spelling; throws core::StoreFailure on an unknown one.
core::Role role_from_text(std::string_view text);
core::GroupKind group_kind_from_text(std::string_view text);
core::MfaMethod mfa_method_from_text(std::string_view text);
core::MemberType member_type_from_text(std::string_view text);
core::ResourceType resource_type_from_text(std::string_view text);
core::ChangeKind change_kind_from_text(std::string_view text);
core::ActorKind actor_kind_from_text(std::string_view text);
core::OriginKind origin_kind_from_text(std::string_view text);
core::sync::RunKind run_kind_from_text(std::string_view text);
core::sync::RunOutcome run_outcome_from_text(std::string_view text);
core::writeback::WriteKind write_kind_from_text(std::string_view text);
core::writeback::Authority authority_from_text(std::string_view text);

// Milliseconds since the Unix epoch.
std::int64_t to_millis(core::Timestamp at);
core::Timestamp from_millis(std::int64_t millis);

// Every field of the user, including id, tenant and version (the indexed columns are copies).
std::string encode_user(const core::User& user);
// Throws core::StoreFailure when the document is not a well-formed user.
core::User decode_user(std::string_view doc);

std::string encode_group(const core::Group& group);
core::Group decode_group(std::string_view doc);

std::string encode_attributes(const std::vector<core::AttributeChange>& attributes);
std::vector<core::AttributeChange> decode_attributes(std::string_view doc);

// The DOM decoders: the definition of what a stored document means. The decoders above read
// well-formed documents without building a DOM and hand anything unusual (a wrong type, a
// duplicate key, a syntax error) to these, so errors and odd-but-valid documents behave exactly
// as they always did. Tests compare both.
namespace reference {
// The encoders through an nlohmann DOM: what the direct encoders above must write byte for byte.
std::string encode_user(const core::User& user);
std::string encode_group(const core::Group& group);
std::string encode_attributes(const std::vector<core::AttributeChange>& attributes);
core::User decode_user(std::string_view doc);
core::Group decode_group(std::string_view doc);
std::vector<core::AttributeChange> decode_attributes(std::string_view doc);
}  // namespace reference

// The direct readers alone: nullopt where they hand the document to the reference decoder.
namespace direct {
std::optional<core::User> decode_user(std::string_view doc);
std::optional<core::Group> decode_group(std::string_view doc);
std::optional<std::vector<core::AttributeChange>> decode_attributes(std::string_view doc);
}  // namespace direct

// The direct user reader fed by a parser of the compact JSON the encoders write: nullopt where
// it hands the document on to nlohmann's parser (the direct reader above tries this first).
namespace compact {
std::optional<core::User> decode_user(std::string_view doc);
}  // namespace compact

}  // namespace idbridge::store::codec
