// The SCIM schemas idbridge serves (RFC 7643 core User and Group, the Enterprise User extension,
// and idbridge's tenant extensions) as data: one table drives input normalisation, output, the
// /Schemas endpoint and the case rules of filters.
#pragma once

#include <string_view>
#include <vector>

namespace idbridge::scim {

inline constexpr std::string_view user_schema_urn = "urn:ietf:params:scim:schemas:core:2.0:User";
inline constexpr std::string_view group_schema_urn = "urn:ietf:params:scim:schemas:core:2.0:Group";
inline constexpr std::string_view enterprise_user_urn =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
inline constexpr std::string_view tenant_user_urn =
    "urn:idbridge:params:scim:schemas:extension:tenant:2.0:User";
inline constexpr std::string_view tenant_group_urn =
    "urn:idbridge:params:scim:schemas:extension:tenant:2.0:Group";
inline constexpr std::string_view list_response_urn =
    "urn:ietf:params:scim:api:messages:2.0:ListResponse";
inline constexpr std::string_view error_urn = "urn:ietf:params:scim:api:messages:2.0:Error";
inline constexpr std::string_view patch_op_urn = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

enum class AttrType { string, boolean, decimal, integer, date_time, reference, complex, binary };
enum class Mutability { read_only, read_write, immutable, write_only };
enum class Returned { always, never, by_default, request };
enum class Uniqueness { none, server, global };

struct AttributeDef {
  std::string_view name;
  AttrType type = AttrType::string;
  bool multi_valued = false;
  bool required = false;
  bool case_exact = false;
  Mutability mutability = Mutability::read_write;
  Returned returned = Returned::by_default;
  Uniqueness uniqueness = Uniqueness::none;
  std::string_view description;
  std::vector<AttributeDef> sub_attributes;
  std::vector<std::string_view> canonical_values;
  std::vector<std::string_view> reference_types;
};

struct SchemaDef {
  std::string_view id;
  std::string_view name;
  std::string_view description;
  std::vector<AttributeDef> attributes;
};

const SchemaDef& user_schema();
const SchemaDef& enterprise_user_schema();
const SchemaDef& tenant_user_schema();
const SchemaDef& group_schema();
const SchemaDef& tenant_group_schema();
// Every schema above, in the order /Schemas lists them.
std::vector<const SchemaDef*> all_schemas();

// Case-insensitive lookups (RFC 7643 §2.1: attribute names are case-insensitive).
const AttributeDef* find_attribute(const std::vector<AttributeDef>& attributes,
                                   std::string_view name);
bool iequals(std::string_view a, std::string_view b);

}  // namespace idbridge::scim
