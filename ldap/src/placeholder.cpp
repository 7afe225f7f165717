// The LDAP module is built by its own issue; this translation unit keeps the target linkable.
namespace idbridge::ldap {
int module_version() {
  return 0;
}
}  // namespace idbridge::ldap
