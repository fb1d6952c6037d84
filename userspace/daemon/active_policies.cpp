// SPDX-License-Identifier: Apache-2.0
#include "daemon/active_policies.hpp"

#include <ctime>

#include <spdlog/spdlog.h>

#include <chrono>

#include "daemon/clock.hpp"

namespace fnw {

bool ActivePolicies::refuse(const std::string& why, std::vector<std::string> errors) {
    ++reloads_failed_;
    last_result_ = "error";
    last_errors_ = std::move(errors);
    if (reloads_total_) reloads_total_->with({"error"}).inc();
    if (rules_valid_) rules_valid_->set(0);
    if (last_reload_successful_) last_reload_successful_->set(0);
    for (const auto& e : last_errors_) spdlog::error("policy reload ({}): {}", why, e);
    if (set_)
        spdlog::error("policy reload ({}): rejected; policy set {} stays in force", why, set_->version);
    else
        spdlog::error("policy reload ({}): rejected; no policy set is in force: running without one until the "
                      "rules in {} are valid (a change there or SIGHUP applies them)",
                      why, rules_dir_.empty() ? std::string("the FunctionPolicy objects") : rules_dir_.string());
    return false;
}

void ActivePolicies::note_refusal(const BundleError& refusal) {
    bundle_state_.last_refusal = refusal;
    bundle_state_.last_refusal_time = last_time_;
    if (on_refusal_) on_refusal_(refusal);
}

std::vector<std::string> ActivePolicies::object_verdict_errors() const {
    std::vector<std::string> errors = last_errors_;
    errors.insert(errors.end(), refused_objects_.begin(), refused_objects_.end());
    return errors;
}

PolicySetLoad ActivePolicies::read_sources(std::optional<BundleError>& refusal,
                                           std::optional<BundleSummary>& bundle) {
    std::vector<PolicyObject> objects = objects_ ? objects_() : std::vector<PolicyObject>{};
    refused_objects_.clear();
    if (signed_.require_signed && !objects.empty()) {
        // As policy_set.cpp names an object, so its status gets the reason.
        for (const PolicyObject& object : objects)
            refused_objects_.push_back("functionpolicies/" + object.namespace_ + "/" + object.name +
                                       ": not loaded: requireSigned takes policies from a signed bundle only");
        note_refusal(bundle_error(BundleRefusal::UnsignedSource,
                                  std::to_string(objects.size()) +
                                      " FunctionPolicy object(s) left out: requireSigned takes signed bundles only"));
        objects.clear();
    }
    if (!signed_.bundle.empty()) {
        // Rollback protection: in memory only (the daemon has no state
        // directory), so the floor starts again at each daemon start.
        const auto& in_force = bundle_state_.in_force;
        BundleLoad loaded = load_policy_bundle(signed_.bundle, *signed_.trusted_key, std::time(nullptr), objects,
                                               in_force ? std::optional(in_force->created) : std::nullopt);
        refusal = std::move(loaded.refusal);
        bundle = std::move(loaded.bundle);
        pending_documents_ = std::move(loaded.documents);
        return std::move(loaded.load);
    }
    if (signed_.require_signed) {
        const std::string source = rules_dir_.empty() ? std::string("FunctionPolicy objects") : rules_dir_.string();
        refusal = bundle_error(BundleRefusal::UnsignedSource,
                               "requireSigned: the rules in " + source +
                                   " are not a signed bundle and are not loaded; give one (--bundle, --trusted-key)");
        PolicySetLoad load;
        load.errors.push_back({source, 0, 0, refusal->message});
        return load;
    }
    return load_policy_set(rules_dir_, objects);
}

bool ActivePolicies::reload(const std::string& why, const std::function<void(Swapped&)>& on_swapped) {
    last_time_ = iso_now();
    std::optional<BundleError> refusal;
    std::optional<BundleSummary> bundle;
    auto load = read_sources(refusal, bundle);
    if (refusal) note_refusal(*refusal);
    if (!load.ok()) {
        std::vector<std::string> errors;
        for (const auto& e : load.errors) errors.push_back(e.to_string());
        return refuse(why, std::move(errors));
    }
    PolicySet& next = *load.set;
    for (const auto& w : load.warnings) spdlog::warn("{}", w);
    auto matcher = SelectorMatcher::build(next.policies);
    if (!matcher) return refuse(why, {"selectors: " + matcher.error()});
    for (const auto& a : matcher->ambiguities()) spdlog::warn("selectors: {}", a);

    auto applied = table_.apply(next, set(), std::chrono::steady_clock::now());
    if (!applied) return refuse(why, {applied.error()});

    const bool first = !set_;
    const std::string before = first ? "" : set_->version;
    set_ = std::move(next);
    bundle_state_.in_force = std::move(bundle);
    bundle_documents_ = std::move(pending_documents_);
    loaded_at_ = last_time_;
    ++reloads_ok_;
    last_result_ = "ok";
    last_errors_.clear();
    last_warnings_ = std::move(load.warnings);
    if (reloads_total_) reloads_total_->with({"ok"}).inc();
    if (rules_valid_) rules_valid_->set(1);
    if (last_reload_successful_) last_reload_successful_->set(1);
    if (last_reload_success_timestamp_)
        last_reload_success_timestamp_->set(
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
    Swapped swapped{*set_, std::move(*matcher), std::move(applied->dropped)};
    on_swapped(swapped);
    if (first)
        spdlog::info("policy set {} loaded from {}{}: {} policies", set_->version, rules_dir_.string(),
                     objects_ ? (rules_dir_.empty() ? "FunctionPolicy objects" : " and FunctionPolicy objects") : "",
                     set_->policies.size());
    else
        spdlog::info("policy reload ({}): {} -> {}, {} policies changed", why, before, set_->version,
                     applied->changed.size());
    return true;
}

PolicySetInfo ActivePolicies::status() const {
    PolicySetInfo info;
    info.version = set_ ? set_->version : "";
    info.loaded_at = loaded_at_;
    info.baseline = set_ && set_->baseline ? set_->baseline->source : "";
    info.reloads_ok = reloads_ok_;
    info.reloads_failed = reloads_failed_;
    info.last_reload = LastReloadInfo{last_result_, last_time_, last_errors_, last_warnings_};
    return info;
}

std::optional<BundleInfo> ActivePolicies::bundle_status() const {
    if (signed_.bundle.empty() && !signed_.require_signed) return std::nullopt;
    BundleInfo info;
    info.require_signed = signed_.require_signed;
    if (const auto& bundle = bundle_state_.in_force) {
        info.file = bundle->file;
        info.digest = bundle->digest;
        info.signer = bundle->signer;
        info.created = format_utc_time(bundle->created);
        info.expires = bundle->expires ? format_utc_time(*bundle->expires) : "";
        info.files = bundle->files;
        info.pins = bundle->pins;
    }
    if (const auto& refusal = bundle_state_.last_refusal) {
        info.last_refusal_reason = std::string(to_string(refusal->reason));
        info.last_refusal = refusal->message;
        info.last_refusal_time = bundle_state_.last_refusal_time;
    }
    return info;
}

}  // namespace fnw
