// The SCIM module is built by its own issue; this translation unit keeps the target linkable.
namespace idbridge::scim {
int module_version() { return 0; }
}  // namespace idbridge::scim
