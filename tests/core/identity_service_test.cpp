// Placeholder replaced by the identity service tests.
#include <gtest/gtest.h>
