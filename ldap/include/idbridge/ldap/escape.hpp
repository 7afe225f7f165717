// Escaping of values pasted into LDAP filters (RFC 4515) and DNs (RFC 4514), so that a value read
// from an IdP or a directory can never change the structure of a filter or a DN (LDAP injection).
#pragma once

#include <string>
#include <string_view>

namespace idbridge::ldap {

// An assertion value for a filter: `*` `(` `)` `\` NUL and every byte >= 0x80 become `\xx`
// (lower-case hex). Escaping the high bytes too, as libldap's ldap_bv2escaped_filter_value does,
// makes the result plain ASCII and safe for binary values and invalid UTF-8 alike.
std::string escape_filter_value(std::string_view value);

// An attribute value inside one RDN: `,` `+` `"` `\` `<` `>` `;` `=` become `\c`, a leading
// space or `#` and a trailing space become `\ ` / `\#`, NUL and other control bytes become `\xx`.
// UTF-8 passes through unchanged.
std::string escape_dn_value(std::string_view value);

// `(attribute=\xx\xx...)` with every byte of `value` hex-escaped: the form for binary attributes.
std::string binary_equality_filter(std::string_view attribute, std::string_view value);

// `(objectGUID=\xx...)` for the 16 raw bytes of an AD objectGUID, in wire order (not the
// mixed-endian text form). Throws std::invalid_argument when `guid` is not 16 bytes.
std::string object_guid_filter(std::string_view guid);

}  // namespace idbridge::ldap
