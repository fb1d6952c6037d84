// SPDX-License-Identifier: Apache-2.0
#include "daemon/active_policies.hpp"

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

bool ActivePolicies::reload(const std::string& why, const std::function<void(Swapped&)>& on_swapped) {
    last_time_ = iso_now();
    auto load = objects_ ? load_policy_set(rules_dir_, objects_()) : load_policy_set(rules_dir_);
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

}  // namespace fnw
