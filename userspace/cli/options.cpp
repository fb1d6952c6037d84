// SPDX-License-Identifier: Apache-2.0
#include "cli/options.hpp"

#include <cerrno>
#include <iostream>

namespace po = boost::program_options;

namespace fnw::cli {

std::optional<int> parse_subcommand(const std::vector<std::string>& opts, const po::options_description& desc,
                                    std::string_view name, std::string_view usage, po::variables_map* seen,
                                    int usage_exit) {
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(opts).options(desc).run(), vm);
        if (vm.count("help")) {
            std::cout << "usage: " << usage << "\n" << desc;
            return 0;
        }
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "fnwarden " << name << ": " << e.what() << "\n" << desc;
        return usage_exit;
    }
    if (seen) *seen = std::move(vm);
    return std::nullopt;
}

}  // namespace fnw::cli
