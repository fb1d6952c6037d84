// SPDX-License-Identifier: Apache-2.0
// Every policy of a rules directory, loaded and checked as one unit: what the
// daemon enforces, and what a reload replaces all at once or not at all.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fnwarden/limits.h>

#include "common/result.hpp"
#include "core/policy.hpp"
#include "core/policy_parser.hpp"

namespace fnw {

// A reload writes the new set into free policy slots while the old set still
// guards running functions, then flips cgroups over and frees the old slots.
// Both sets must fit at once, so one set may use only half of the slots.
inline constexpr size_t kMaxPoliciesPerSet = FNW_MAX_POLICIES / 2;

struct PolicySet {
    std::vector<FunctionPolicy> policies;  // baseline applied; sorted by function
    std::optional<Baseline> baseline;
    // 16 hex digits over the files' relative names and bytes: equal text, equal
    // version, so `status` can show which set is in force on every host.
    std::string version;
    // function -> hash of its effective policy (after the baseline). A reload
    // rewrites only the slots whose fingerprint moved; a comment edited in a
    // file changes `version` but no fingerprint.
    std::map<std::string, uint64_t, std::less<>> fingerprints;

    // The policy selecting `function`, or nullptr.
    const FunctionPolicy* find(std::string_view function) const;
};

struct PolicySetLoad {
    std::optional<PolicySet> set;  // present only when errors is empty
    std::vector<PolicyError> errors;
    std::vector<std::string> warnings;

    bool ok() const { return errors.empty(); }
};

// Loads every *.yaml / *.yml file under `rules_dir`, recursively, following
// symlinks (a Kubernetes ConfigMap volume is symlinks into "..data"). At most
// one file may be a Baseline; every other file is a FunctionPolicy. Errors
// of all files are collected, so an operator sees every problem in one go;
// any error means no set: a broken set is never partly applied.
PolicySetLoad load_policy_set(const std::filesystem::path& rules_dir);

// Gives every policy of `set` the code pins of the bundle it came in
// (FunctionPolicy::code_pins), and their fingerprints with them.
void attach_code_pins(PolicySet& set, const std::vector<CodePin>& pins);

// A FunctionPolicy object of the Kubernetes API (k8s/policy_watcher.hpp), as
// the loader reads it.
struct PolicyObject {
    std::string namespace_;  // metadata.namespace
    std::string name;        // metadata.name
    std::string document;    // apiVersion, kind, metadata (name, labels), spec: YAML or JSON
};

// The files of `rules_dir` (none when it is empty) and `objects`, loaded
// and checked as one set, all or nothing as above. An object goes through
// the same parser as a file, then: its policy is known as
// "namespace/name" (function "namespace/<selector.function or name>", so
// two namespaces never collide), it must select pods (no cgroupPath, no
// other namespace), and it takes pods of its own namespace only
// (FunctionPolicy::kube_namespace). Its errors name
// "functionpolicies/namespace/name".
PolicySetLoad load_policy_set(const std::filesystem::path& rules_dir, const std::vector<PolicyObject>& objects);

// A policy file's relative name and bytes, from elsewhere than a rules
// directory: a verified bundle (daemon/bundle_policy_set.hpp).
struct PolicyDocument {
    std::string name;
    std::string text;
};
// `documents` and `objects` loaded as one set, exactly as the files of a
// rules directory would be; errors name "WHERE:NAME".
PolicySetLoad load_policy_set(const std::string& where, const std::vector<PolicyDocument>& documents,
                              const std::vector<PolicyObject>& objects);

// As load_policy_set(rules_dir), and the bytes of every file it read, by
// relative name: what `policy bundle` signs is exactly what was validated,
// not a second read of files that may have changed in between.
PolicySetLoad load_policy_set(const std::filesystem::path& rules_dir, std::vector<PolicyDocument>& documents_read);

// The rules directory itself: there, and a directory. The daemon needs this
// much to start: it watches the directory (inotify) to see the set fixed or
// changed, and can watch nothing that is not there.
Status check_rules_directory(const std::filesystem::path& rules_dir);

// Which functions a reload from `before` to `after` touches (each list sorted).
struct PolicySetDiff {
    std::vector<std::string> added;
    std::vector<std::string> changed;
    std::vector<std::string> removed;

    bool empty() const { return added.empty() && changed.empty() && removed.empty(); }
};
PolicySetDiff diff_functions(const PolicySet& before, const PolicySet& after);

// Directory entries a rules directory never reads: hidden names (which
// include ConfigMap's "..data" and "..2024_..." entries, seen once through
// the top-level symlinks instead) and editor leftovers ("x.yaml~", "#x#",
// ".x.yaml.swp", ".#x.yaml").
bool is_ignored_rules_entry(std::string_view name);
// A file name the loader reads: *.yaml or *.yml and not ignored.
bool is_policy_file_name(std::string_view name);

}  // namespace fnw
