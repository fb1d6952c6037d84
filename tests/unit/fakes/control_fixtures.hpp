// SPDX-License-Identifier: Apache-2.0
// The captured and golden control-socket messages in tests/fixtures/control,
// shared by the protocol and status tests.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace fnw::testing {

// The file's text; "" when it cannot be read (the test's parse then fails).
inline std::string read_control_fixture(const std::string& name) {
    std::ifstream in(std::string(FNW_TEST_FIXTURES) + "/control/" + name);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace fnw::testing
