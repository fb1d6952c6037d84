// SPDX-License-Identifier: Apache-2.0
// The policy set in force, the kernel slots its policies use, and how the
// reloads went (for status and fnwarden_policy_reloads_total). A reload
// parses and validates the whole rules directory first; only a fully valid
// set is swapped in (PolicyTable::apply).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/protocol.hpp"
#include "core/selector.hpp"
#include "daemon/bundle_policy_set.hpp"
#include "daemon/policy_set.hpp"
#include "daemon/policy_table.hpp"
#include "output/metrics.hpp"

namespace fnw {

class ActivePolicies {
public:
    ActivePolicies(std::filesystem::path rules_dir, KernelMaps& maps, Mode configured_mode,
                   PolicyTable::SlotWriter before_kernel_write)
        : rules_dir_(std::move(rules_dir)), table_(maps, configured_mode, std::move(before_kernel_write)) {}

    void set_reloads_metric(CounterFamily* reloads_total) { reloads_total_ = reloads_total; }
    // FunctionPolicy objects (policySource kubernetes or both), read at each
    // reload and loaded with the rules directory's files as one set. An
    // empty rules_dir then means objects only.
    using ObjectSource = std::function<std::vector<PolicyObject>()>;
    void read_objects_from(ObjectSource objects) { objects_ = std::move(objects); }
    // fnwarden_rules_valid: 1 while the directory, as last read, is the set
    // in force; 0 from a failed load or apply until one succeeds.
    void set_rules_valid_metric(Gauge* rules_valid) { rules_valid_ = rules_valid; }
    // fnwarden_policy_set_last_reload_successful (0/1) and
    // fnwarden_policy_set_last_reload_success_timestamp_seconds, the pair
    // Prometheus exports for its own configuration reloads.
    void set_last_reload_metrics(Gauge* successful, Gauge* success_timestamp_seconds) {
        last_reload_successful_ = successful;
        last_reload_success_timestamp_ = success_timestamp_seconds;
    }

    // Signed bundles (docs/policy.md, "Signed bundles"): with a bundle, it
    // replaces the rules directory, and only a verified one is loaded; with
    // require_signed, a plain directory and FunctionPolicy objects are
    // refused (objects are left out of the set, each told why).
    struct SignedSource {
        std::filesystem::path bundle;  // "" none
        std::shared_ptr<const Ed25519Key> trusted_key;
        bool require_signed = false;
    };
    void use_signed_source(SignedSource source) { signed_ = std::move(source); }
    // Called for each refusal of a bundle or an unsigned source (the
    // daemon's event and metric).
    using RefusalHook = std::function<void(const BundleError&)>;
    void on_refusal(RefusalHook hook) { on_refusal_ = std::move(hook); }
    // The last verified bundle in force, and the last refusal.
    struct BundleState {
        std::optional<BundleSummary> in_force;
        std::optional<BundleError> last_refusal;
        std::string last_refusal_time;
    };
    const BundleState& bundle_state() const { return bundle_state_; }
    // The verified text of a policy or baseline of the bundle in force, by
    // its source ("BUNDLE:NAME"); nullptr for a file or an object.
    const std::string* document_of(std::string_view source) const {
        auto it = bundle_documents_.find(source);
        return it == bundle_documents_.end() ? nullptr : &it->second;
    }
    // Errors for the FunctionPolicy objects' status: the last reload's, and
    // the objects requireSigned left out.
    std::vector<std::string> object_verdict_errors() const;

    // What a successful reload hands on, before its summary is logged.
    struct Swapped {
        const PolicySet& set;
        SelectorMatcher selectors;
        std::vector<uint64_t> dropped;  // cgroups of removed functions, no longer monitored
    };
    // Loads the rules directory and swaps it in. False (logged, counted,
    // the set in force unchanged) when anything in it is invalid or the
    // kernel refuses a policy.
    bool reload(const std::string& why, const std::function<void(Swapped&)>& on_swapped);

    const PolicySet* set() const { return set_ ? &*set_ : nullptr; }
    const PolicyTable& table() const { return table_; }
    PolicyTable& table() { return table_; }
    const std::filesystem::path& rules_dir() const { return rules_dir_; }
    const std::vector<std::string>& last_errors() const { return last_errors_; }

    // status: "policy_set".
    PolicySetInfo status() const;
    // status: "rules": whether the rules directory, as last read, is in
    // force ("valid"), and if not, why ("errors", as in last_errors()).
    // Invalid at start means no policy set at all: the daemon runs, and
    // applies the set once a change or SIGHUP finds it valid.
    RulesInfo rules_status() const { return RulesInfo{last_result_ == "ok", last_errors_, std::nullopt, bundle_status()}; }
    // status: "rules.bundle", with a bundle or requireSigned only.
    std::optional<BundleInfo> bundle_status() const;

private:
    bool refuse(const std::string& why, std::vector<std::string> errors);
    // The next set from wherever policies come from; a refusal of a signed
    // source goes to `refusal`, a verified bundle to `bundle`.
    PolicySetLoad read_sources(std::optional<BundleError>& refusal, std::optional<BundleSummary>& bundle);
    std::map<std::string, std::string, std::less<>> pending_documents_;  // of the bundle read_sources loaded
    std::map<std::string, std::string, std::less<>> bundle_documents_;   // of the bundle in force
    void note_refusal(const BundleError& refusal);

    std::filesystem::path rules_dir_;
    ObjectSource objects_;
    PolicyTable table_;
    std::optional<PolicySet> set_;
    CounterFamily* reloads_total_ = nullptr;
    Gauge* rules_valid_ = nullptr;
    Gauge* last_reload_successful_ = nullptr;
    Gauge* last_reload_success_timestamp_ = nullptr;
    uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
    std::string last_result_ = "none";
    std::string last_time_;
    std::vector<std::string> last_errors_;
    std::vector<std::string> last_warnings_;
    std::string loaded_at_;
    SignedSource signed_;
    RefusalHook on_refusal_;
    BundleState bundle_state_;
    std::vector<std::string> refused_objects_;
};

}  // namespace fnw
