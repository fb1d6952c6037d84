// SPDX-License-Identifier: Apache-2.0
#include "daemon/policy_set.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <set>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "bundle/bundle_file.hpp"
#include "common/result.hpp"
#include "core/elf_interpreter.hpp"

namespace fnw {
namespace {

// FNV-1a, 64 bit: identifies content for `status` and for diffing reloads.
// Not a defence against crafted collisions: whoever can write the rules
// directory can change the policies anyway.
class Fnv1a {
public:
    void add_bytes(std::string_view bytes) {
        for (unsigned char c : bytes) {
            hash_ ^= c;
            hash_ *= kPrime;
        }
    }
    // Little-endian whatever the host: a version must mean the same thing on
    // every machine that shows it.
    void add_number(uint64_t value) {
        for (int i = 0; i < 8; ++i) {
            hash_ ^= (value >> (8 * i)) & 0xff;
            hash_ *= kPrime;
        }
    }
    // Length first, so ("ab", "c") and ("a", "bc") hash differently.
    void add_string(std::string_view text) {
        add_number(text.size());
        add_bytes(text);
    }
    template <typename Strings>
    void add_strings(const Strings& list) {
        add_number(list.size());
        for (const auto& s : list) add_string(s);
    }
    uint64_t value() const { return hash_; }

private:
    static constexpr uint64_t kOffsetBasis = 0xcbf29ce484222325ULL;
    static constexpr uint64_t kPrime = 0x100000001b3ULL;
    uint64_t hash_ = kOffsetBasis;
};

std::string to_hex(uint64_t value) {
    std::ostringstream out;
    out << std::hex << std::setw(16) << std::setfill('0') << value;
    return out.str();
}

// Everything of a policy that reaches its slot. `source` is left out: moving
// a policy to another file changes nothing the kernel sees. A field added to
// FunctionPolicy must be added here, or a reload would not apply changes to it.
uint64_t fingerprint_of(const FunctionPolicy& policy) {
    Fnv1a hash;
    hash.add_string(policy.name);
    hash.add_string(policy.function);
    hash.add_number(static_cast<uint64_t>(policy.mode));

    hash.add_number(policy.syscalls.allow.count());
    for (size_t nr = 0; nr < policy.syscalls.allow.size(); ++nr)
        if (policy.syscalls.allow.test(nr)) hash.add_number(nr);
    hash.add_number(static_cast<uint64_t>(policy.syscalls.on_violation));

    const NetworkRules& net = policy.network;
    hash.add_number(net.restricted);
    hash.add_number(net.egress.size());
    for (const EgressRule& rule : net.egress) {
        hash.add_bytes(std::string_view(reinterpret_cast<const char*>(rule.network.address.data()),
                                        rule.network.address.size()));
        hash.add_number(rule.network.prefix);
        hash.add_number(rule.ports.size());
        for (uint16_t port : rule.ports) hash.add_number(port);
        hash.add_number(rule.protocol);
    }
    hash.add_number(net.listen.size());
    for (const ListenRule& rule : net.listen) {
        hash.add_number(rule.port);
        hash.add_number(rule.protocol);
    }
    hash.add_number(static_cast<uint64_t>(net.on_violation));

    const FileRules& files = policy.files;
    hash.add_number(files.restricted);
    hash.add_strings(files.read);
    hash.add_strings(files.write);
    hash.add_strings(files.create);
    hash.add_strings(files.remove);
    hash.add_number(static_cast<uint64_t>(files.on_violation));

    hash.add_number(policy.exec.restricted);
    hash.add_strings(policy.exec.allow);
    hash.add_number(static_cast<uint64_t>(policy.exec.on_violation));
    // A digest changed in a pin is a new policy: the slot must hash anew.
    hash.add_number(policy.exec.sha256.size());
    for (const auto& [path, digest] : policy.exec.sha256) {
        hash.add_string(path);
        hash.add_string(digest);
    }
    hash.add_number(policy.code_pins.size());
    for (const CodePin& pin : policy.code_pins) {
        hash.add_string(pin.path);
        hash.add_string(pin.sha256);
    }

    const ProcessRules& process = policy.process;
    hash.add_number(process.restricted);
    hash.add_number(process.ptrace);
    hash.add_number(process.bpf);
    hash.add_number(process.exec_memory);
    hash.add_number(static_cast<uint64_t>(process.on_violation));
    return hash.value();
}

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

struct RulesFile {
    std::filesystem::path path;  // as the operator sees it: rules_dir/relative
    std::string relative;        // '/'-separated, below rules_dir: what `version` hashes
    std::optional<std::string> text;  // already read (a bundle's file); else read from `path`
};

struct Walk {
    std::vector<RulesFile> files;
    std::vector<PolicyError> errors;
    std::vector<std::string> warnings;
    // Directories already read, by identity: a symlink back to an ancestor
    // would otherwise recurse until paths overflow, and a directory reached
    // through two links would load its policies twice.
    std::set<std::pair<dev_t, ino_t>> visited;
};

void walk_directory(const std::filesystem::path& dir, const std::string& relative, Walk& walk) {
    std::error_code ec;
    std::vector<std::string> names;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        names.push_back(it->path().filename().string());
    if (ec) {
        walk.errors.push_back({dir.string(), 0, 0, "cannot list directory: " + ec.message()});
        return;
    }
    std::sort(names.begin(), names.end());

    for (const std::string& name : names) {
        if (is_ignored_rules_entry(name)) continue;
        const std::filesystem::path path = dir / name;
        const std::string path_below = relative.empty() ? name : relative + "/" + name;
        struct stat target {};
        if (::stat(path.c_str(), &target) != 0) {
            const int err = errno;
            struct stat symlink_itself {};
            const bool dangling = err == ENOENT && ::lstat(path.c_str(), &symlink_itself) == 0 &&
                                  S_ISLNK(symlink_itself.st_mode);
            if (dangling) {
                // A ConfigMap update renames "..data" first and removes the
                // links of deleted keys afterwards; a reload in between sees
                // them dangle. They point at nothing: nothing to load.
                if (is_policy_file_name(name))
                    walk.warnings.push_back(path.string() + ": symlink to a missing file, skipped");
            } else if (err != ENOENT) {  // ENOENT: removed while listing; the watcher reports it
                std::string message = std::string("cannot stat: ") + std::strerror(err);
                if (is_policy_file_name(name))
                    walk.errors.push_back({path.string(), 0, 0, std::move(message)});
                else
                    walk.warnings.push_back(path.string() + ": " + message + ", skipped");
            }
            continue;
        }
        if (S_ISDIR(target.st_mode)) {
            if (walk.visited.insert({target.st_dev, target.st_ino}).second) walk_directory(path, path_below, walk);
            continue;
        }
        if (is_policy_file_name(name)) walk.files.push_back({path, path_below});
    }
}

// The bytes of a rules file, or why not (bundle/bundle_file.hpp: a FIFO
// named x.yaml must not hang the daemon).
Result<std::string> read_rules_file(const std::filesystem::path& path) {
    return read_bounded_file(path, kMaxPolicyFileBytes);
}

// The document's `kind`, from bytes already read. document_kind_of_file()
// would read the file a second time, and during a ConfigMap swap the second
// read can see other bytes: `version` would then name a set never loaded.
std::string document_kind(const std::string& text) {
    try {
        const YAML::Node root = YAML::Load(text);
        if (root.IsMap() && root["kind"] && root["kind"].IsScalar()) return root["kind"].Scalar();
    } catch (const YAML::Exception&) {
        // parse_policy reports the syntax error with its position.
    }
    return "";
}

}  // namespace

bool is_ignored_rules_entry(std::string_view name) {
    if (name.empty() || name.front() == '.') return true;  // hidden, "..data", ".#x", ".x.swp"
    if (name.back() == '~') return true;                    // backups of vim, emacs, nano
    if (name.size() >= 2 && name.front() == '#' && name.back() == '#') return true;  // emacs auto-save
    return ends_with(name, ".swp") || ends_with(name, ".swo") || ends_with(name, ".swx");
}

bool is_policy_file_name(std::string_view name) {
    return !is_ignored_rules_entry(name) && (ends_with(name, ".yaml") || ends_with(name, ".yml"));
}

const FunctionPolicy* PolicySet::find(std::string_view function) const {
    auto it = std::lower_bound(policies.begin(), policies.end(), function,
                               [](const FunctionPolicy& p, std::string_view f) { return p.function < f; });
    return it != policies.end() && it->function == function ? &*it : nullptr;
}

namespace {

// The rules directory itself: there, and a directory.
Status check_rules_dir(const std::filesystem::path& rules_dir, struct stat& root) {
    if (::stat(rules_dir.c_str(), &root) != 0) {
        const int err = errno;
        return fail(err == ENOENT ? "rules directory does not exist"
                                  : std::string("cannot open rules directory: ") + std::strerror(err));
    }
    if (!S_ISDIR(root.st_mode)) return fail("rules directory is not a directory");
    return {};
}

// What the files of a set hold, before the set is checked as a whole.
struct ParsedFiles {
    std::vector<FunctionPolicy> policies;
    std::optional<Baseline> baseline;
    uint64_t version = 0;
};

// What the namespace rule asks of an object's policy; "" when it keeps to it.
// SelectorMatcher::build checks it again where the matching is done.
std::string namespaced_selector_problem(const FunctionPolicy& policy) {
    const Selector& selector = policy.selector;
    if (!selector.cgroup_path.empty())
        return "spec.selector.cgroupPath is for rules files: a FunctionPolicy object selects pods of its namespace";
    if (!selector.pod) return "spec.selector.pod is required: a FunctionPolicy object selects pods of its namespace";
    if (!selector.pod->namespace_.empty() && selector.pod->namespace_ != policy.kube_namespace)
        return "spec.selector.pod.namespace \"" + selector.pod->namespace_ + "\": a FunctionPolicy object in \"" +
               policy.kube_namespace + "\" selects pods of its own namespace only";
    return "";
}

// FunctionPolicy objects, after the files (the version hashes them too).
void parse_policy_objects(const std::vector<PolicyObject>& objects, ParsedFiles& parsed, Fnv1a& version,
                          std::vector<PolicyError>& errors) {
    for (const PolicyObject& object : objects) {
        const std::string key = object.namespace_ + "/" + object.name;
        const std::string shown = "functionpolicies/" + key;
        version.add_string(shown);
        version.add_string(object.document);
        PolicyParseResult result = parse_policy(object.document, shown);
        for (PolicyError& e : result.errors) {
            // Lines of our rendering of the object, not of anything the
            // operator wrote: the message names the key instead.
            e.line = e.column = 0;
            errors.push_back(std::move(e));
        }
        if (!result.policy) continue;
        FunctionPolicy& policy = *result.policy;
        policy.kube_namespace = object.namespace_;
        policy.name = key;
        if (!policy.selector.function.empty()) policy.selector.function = object.namespace_ + "/" + policy.selector.function;
        policy.function = policy.selector.function.empty() ? policy.name : policy.selector.function;
        if (std::string why = namespaced_selector_problem(policy); !why.empty()) {
            errors.push_back({shown, 0, 0, why});
            continue;
        }
        parsed.policies.push_back(std::move(policy));
    }
}

// Reads and parses every file (sorted by relative name), then every object;
// their errors go to `errors`, so an operator sees every problem in one go.
ParsedFiles parse_rules_files(const std::vector<RulesFile>& files, const std::vector<PolicyObject>& objects,
                              std::vector<PolicyError>& errors, std::vector<PolicyDocument>* documents_read) {
    Fnv1a version;
    ParsedFiles parsed_files;
    std::optional<Baseline>& baseline = parsed_files.baseline;
    for (const RulesFile& file : files) {
        const std::string shown = file.path.string();
        const Result<std::string> text = file.text ? Result<std::string>(*file.text) : read_rules_file(file.path);
        if (!text) {
            errors.push_back({shown, 0, 0, text.error()});
            continue;
        }
        version.add_string(file.relative);
        version.add_string(*text);
        if (documents_read) documents_read->push_back({file.relative, *text});

        if (document_kind(*text) == "Baseline") {
            BaselineParseResult parsed = parse_baseline(*text, shown);
            for (auto& e : parsed.errors) errors.push_back(std::move(e));
            if (!parsed.baseline) continue;
            if (baseline) {
                errors.push_back({shown, 0, 0,
                                  "a second Baseline (" + baseline->source +
                                      " is one already); a rules directory holds at most one"});
                continue;
            }
            baseline = std::move(parsed.baseline);
        } else {
            PolicyParseResult parsed = parse_policy(*text, shown);
            // What the programs bring with them (PT_INTERP), as a launcher
            // reads it (parse_policy_file): the daemon decides exec events of
            // watched and launched functions and must agree with Landlock.
            if (parsed.policy && parsed.policy->exec.restricted) resolve_exec_interpreters(parsed.policy->exec);
            for (auto& e : parsed.errors) errors.push_back(std::move(e));
            if (parsed.policy) parsed_files.policies.push_back(std::move(*parsed.policy));
        }
    }
    parse_policy_objects(objects, parsed_files, version, errors);
    parsed_files.version = version.value();
    return parsed_files;
}

// One policy per function, and no more than a set may have. Sorts
// `policies` by function.
void check_policies_as_a_set(const std::filesystem::path& rules_dir, std::vector<FunctionPolicy>& policies,
                             std::vector<PolicyError>& errors) {
    // stable_sort keeps file order among equal functions, so the duplicate
    // error below always names the same file as the first one.
    std::stable_sort(policies.begin(), policies.end(),
                     [](const FunctionPolicy& a, const FunctionPolicy& b) { return a.function < b.function; });
    for (size_t i = 1; i < policies.size(); ++i) {
        const FunctionPolicy& first = policies[i - 1];
        const FunctionPolicy& again = policies[i];
        if (first.function != again.function) continue;
        errors.push_back({again.source, 0, 0,
                          "function \"" + again.function + "\" is selected by policy \"" + again.name +
                              "\" here and by policy \"" + first.name + "\" in " + first.source +
                              "; one function, one policy"});
    }

    if (policies.size() > kMaxPoliciesPerSet) {
        errors.push_back({rules_dir.string(), 0, 0,
                          std::to_string(policies.size()) + " policies, more than the " +
                              std::to_string(kMaxPoliciesPerSet) +
                              " a set may have (half the kernel's policy slots: a reload needs room "
                              "for the old and the new set at once)"});
    }
}

// The baseline applied to each policy, and the fingerprints.
PolicySet assemble_set(ParsedFiles parsed, std::vector<std::string>& warnings) {
    PolicySet set;
    for (FunctionPolicy& policy : parsed.policies) {
        if (parsed.baseline) {
            for (const std::string& syscall : apply_baseline(policy, *parsed.baseline))
                warnings.push_back("policy " + policy.name + " (" + policy.source + ") allows " + syscall +
                                   ", which the baseline " + parsed.baseline->source + " forbids: denied");
        }
        set.fingerprints.emplace(policy.function, fingerprint_of(policy));
    }
    set.policies = std::move(parsed.policies);
    set.baseline = std::move(parsed.baseline);
    set.version = to_hex(parsed.version);
    return set;
}

PolicySetLoad load_parsed_set(const std::filesystem::path& where, std::vector<RulesFile> files,
                              const std::vector<PolicyObject>& objects, PolicySetLoad load,
                              std::vector<PolicyDocument>* documents_read = nullptr);
PolicySetLoad load_rules_directory(const std::filesystem::path& rules_dir, const std::vector<PolicyObject>& objects,
                                   std::vector<PolicyDocument>* documents_read);

}  // namespace

Status check_rules_directory(const std::filesystem::path& rules_dir) {
    struct stat root {};
    return check_rules_dir(rules_dir, root);
}

PolicySetLoad load_policy_set(const std::filesystem::path& rules_dir) { return load_policy_set(rules_dir, {}); }

PolicySetLoad load_policy_set(const std::filesystem::path& rules_dir, const std::vector<PolicyObject>& objects) {
    return load_rules_directory(rules_dir, objects, nullptr);
}

PolicySetLoad load_policy_set(const std::filesystem::path& rules_dir, std::vector<PolicyDocument>& documents_read) {
    return load_rules_directory(rules_dir, {}, &documents_read);
}

namespace {

PolicySetLoad load_rules_directory(const std::filesystem::path& rules_dir, const std::vector<PolicyObject>& objects,
                                   std::vector<PolicyDocument>* documents_read) {
    PolicySetLoad load;
    Walk walk;
    if (!rules_dir.empty()) {
        struct stat root {};
        if (Status usable = check_rules_dir(rules_dir, root); !usable) {
            load.errors.push_back({rules_dir.string(), 0, 0, usable.error()});
            return load;
        }
        walk.visited.insert({root.st_dev, root.st_ino});
        walk_directory(rules_dir, "", walk);
    }
    load.errors = std::move(walk.errors);
    load.warnings = std::move(walk.warnings);
    const std::filesystem::path where = rules_dir.empty() ? "functionpolicies" : rules_dir;
    return load_parsed_set(where, std::move(walk.files), objects, std::move(load), documents_read);
}

}  // namespace

PolicySetLoad load_policy_set(const std::string& where, const std::vector<PolicyDocument>& documents,
                              const std::vector<PolicyObject>& objects) {
    std::vector<RulesFile> files;
    for (const PolicyDocument& document : documents)
        files.push_back({where + ":" + document.name, document.name, document.text});
    return load_parsed_set(where, std::move(files), objects, PolicySetLoad{});
}

namespace {

PolicySetLoad load_parsed_set(const std::filesystem::path& where, std::vector<RulesFile> files,
                              const std::vector<PolicyObject>& objects, PolicySetLoad load,
                              std::vector<PolicyDocument>* documents_read) {
    std::sort(files.begin(), files.end(), [](const RulesFile& a, const RulesFile& b) { return a.relative < b.relative; });
    ParsedFiles parsed = parse_rules_files(files, objects, load.errors, documents_read);
    check_policies_as_a_set(where, parsed.policies, load.errors);
    if (!load.errors.empty()) return load;

    if (where != "functionpolicies" && files.empty() && objects.empty())
        load.warnings.push_back(where.string() + ": no policy files");
    if (!parsed.baseline && !parsed.policies.empty())
        load.warnings.push_back(where.string() + ": no Baseline document; policies are applied without one");
    load.set = assemble_set(std::move(parsed), load.warnings);
    return load;
}

}  // namespace

PolicySetDiff diff_functions(const PolicySet& before, const PolicySet& after) {
    PolicySetDiff diff;
    for (const auto& [function, fingerprint] : after.fingerprints) {
        auto old = before.fingerprints.find(function);
        if (old == before.fingerprints.end())
            diff.added.push_back(function);
        else if (old->second != fingerprint)
            diff.changed.push_back(function);
    }
    for (const auto& [function, fingerprint] : before.fingerprints)
        if (!after.fingerprints.contains(function)) diff.removed.push_back(function);
    return diff;
}

void attach_code_pins(PolicySet& set, const std::vector<CodePin>& pins) {
    for (FunctionPolicy& policy : set.policies) {
        policy.code_pins = pins;
        set.fingerprints[policy.function] = fingerprint_of(policy);
    }
}

}  // namespace fnw
