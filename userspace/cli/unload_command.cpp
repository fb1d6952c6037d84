// SPDX-License-Identifier: Apache-2.0
// fnwarden unload: removes the pinned probes a stopped daemon left behind,
// so that nothing of fnwarden stays in the kernel (the package's purge and
// the Kubernetes uninstall path call it).
#include <iostream>

#include <boost/program_options.hpp>

#include "cli/options.hpp"
#include "daemon/daemon_config.hpp"
#include "probes/pinned_set.hpp"

namespace fnw::cli {

namespace po = boost::program_options;

int cmd_unload(const std::vector<std::string>& opts) {
    std::string root = kDefaultPinRoot, config_file;
    po::options_description desc("fnwarden unload options");
    desc.add_options()
        ("help,h", "show this help")
        ("config", po::value(&config_file), "read pinRoot from this daemon config (default /etc/fnwarden/fnwarden.yaml when it exists)")
        ("pin-root", po::value(&root), "the daemon's pin root (overrides the config)");
    po::variables_map seen;
    if (auto done = parse_subcommand(opts, desc, "unload", "fnwarden unload [--config FILE] [--pin-root DIR]", &seen))
        return *done;
    if (!seen.count("pin-root")) {
        auto loaded = load_daemon_config(config_file.empty() ? std::nullopt
                                                             : std::optional<std::filesystem::path>(config_file));
        if (!loaded.ok()) {
            for (const auto& e : loaded.errors) std::cerr << e.to_string() << "\n";
            std::cerr << "fnwarden unload: invalid config; name the root with --pin-root\n";
            return kExitUsage;
        }
        if (loaded.config->pin_root == "none") {
            std::cout << "fnwarden unload: pinRoot is none: nothing is pinned\n";
            return 0;
        }
        root = loaded.config->pin_root;
    }
    if (root.empty() || root == "/" || root.front() != '/') {
        std::cerr << "fnwarden unload: --pin-root must be an absolute directory\n";
        return kExitUsage;
    }
    // The lock refuses while a daemon runs on this root: its programs would
    // stay attached through its fds anyway, and it would lose its pins.
    auto removed = unload_pinned_sets(root);
    if (!removed) {
        std::cerr << "fnwarden unload: " << removed.error() << " (stop the daemon first)\n";
        return kExitInternal;
    }
    std::cout << "fnwarden unload: removed " << *removed << " pinned set(s) from " << root << "\n";
    return 0;
}

}  // namespace fnw::cli
