// SPDX-License-Identifier: Apache-2.0
// runc's command line as fnwarden-runtime needs it: the wrapper's own
// options (taken off the front), runc's global options, the command, and
// for create/run the bundle and the container id. Everything else is passed
// to runc as it came.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"

namespace fnw {

struct RuncCommandLine {
    // fnwarden-runtime's own options, before runc's: --fnwarden-runc PATH,
    // --fnwarden-socket PATH. Not passed on.
    std::string runc, socket;
    std::vector<std::string> runc_argv;  // what runc gets, argv[0] included
    std::string command;                 // "create", "run", "delete", ... ("" for none)
    size_t command_index = 0;            // its index in runc_argv (0: none)
    bool systemd_cgroup = false;         // --systemd-cgroup
    std::string bundle;                  // --bundle/-b, "" = the working directory
    std::string container_id;            // the last argument of create/run/delete
    bool force = false;                  // delete --force
};

// `argv` without the wrapper's argv[0]. Fails only on a wrapper option
// without its value; whatever runc would refuse is left to runc.
Result<RuncCommandLine> parse_runc_command_line(const std::vector<std::string>& argv);

}  // namespace fnw
