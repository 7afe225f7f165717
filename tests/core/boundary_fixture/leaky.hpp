// Fixture for core_include_boundary_detects_violation: a core file that includes Beast.
#pragma once
#include <boost/beast/http.hpp>
