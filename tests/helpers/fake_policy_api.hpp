// SPDX-License-Identifier: Apache-2.0
// A Kubernetes API server that keeps FunctionPolicy objects the way the real
// one does, for the policy watcher's tests: objects with uid, generation and
// resourceVersion; LIST (all namespaces or one); WATCH from a
// resourceVersion, replaying the events after it, then streaming new ones
// as the test makes them. expire_next_watch() makes the next WATCH answer
// an ERROR 410 event, as a server whose history was compacted. Plain http
// on 127.0.0.1; header-only so unit tests and the e2e fake share it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace fnw::test {

class FakePolicyApi {
public:
    using Json = nlohmann::json;

    FakePolicyApi() {
        server_.set_keep_alive_timeout(1);
        server_.Get(R"(/apis/fnwarden\.io/v1/functionpolicies)",
                    [this](const httplib::Request& req, httplib::Response& res) { serve(req, res, ""); });
        server_.Get(R"(/apis/fnwarden\.io/v1/namespaces/([a-z0-9-]+)/functionpolicies)",
                    [this](const httplib::Request& req, httplib::Response& res) { serve(req, res, req.matches[1]); });
        // The status subresource: a JSON merge patch of .status only.
        server_.Patch(R"(/apis/fnwarden\.io/v1/namespaces/([a-z0-9-]+)/functionpolicies/([a-z0-9.-]+)/status)",
                      [this](const httplib::Request& req, httplib::Response& res) { patch_status(req, res); });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
    }
    ~FakePolicyApi() {
        {
            std::lock_guard lock(mutex_);
            closing_ = true;
        }
        changed_.notify_all();
        server_.stop();
        if (thread_.joinable()) thread_.join();
    }
    FakePolicyApi(const FakePolicyApi&) = delete;
    FakePolicyApi& operator=(const FakePolicyApi&) = delete;

    bool listening() const { return port_ > 0; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

    // Creates or replaces the object's spec (ADDED or MODIFIED); a spec
    // change bumps metadata.generation, as the API server does.
    void put(const std::string& ns, const std::string& name, const Json& spec) {
        std::lock_guard lock(mutex_);
        const std::string key = ns + "/" + name;
        auto it = objects_.find(key);
        const bool added = it == objects_.end();
        Json& object = objects_[key];
        if (added) {
            object = {{"apiVersion", "fnwarden.io/v1"},
                      {"kind", "FunctionPolicy"},
                      {"metadata",
                       {{"name", name},
                        {"namespace", ns},
                        {"uid", "uid-" + key + "-" + std::to_string(++uids_)},
                        {"generation", 1},
                        {"creationTimestamp", "2026-12-05T09:00:00Z"},
                        {"managedFields", Json::array({{{"manager", "kubectl"}}})}}},
                      {"spec", spec}};
        } else {
            if (object["spec"] != spec) object["metadata"]["generation"] = object["metadata"]["generation"].get<int>() + 1;
            object["spec"] = spec;
        }
        record_locked(added ? "ADDED" : "MODIFIED", object);
    }

    // A status-only update (what a controller writes): no new generation.
    void set_status(const std::string& ns, const std::string& name, const Json& status) {
        std::lock_guard lock(mutex_);
        Json& object = objects_.at(ns + "/" + name);
        object["status"] = status;
        record_locked("MODIFIED", object);
    }

    void remove(const std::string& ns, const std::string& name) {
        std::lock_guard lock(mutex_);
        auto it = objects_.find(ns + "/" + name);
        if (it == objects_.end()) return;
        Json object = it->second;
        objects_.erase(it);
        record_locked("DELETED", object);
    }

    // The next WATCH gets ERROR 410 ("too old resource version") and ends;
    // changes made meanwhile reach the watcher only through its relist.
    void expire_next_watch() {
        std::lock_guard lock(mutex_);
        expire_next_watch_ = true;
        ++epoch_;  // ends the open watch streams
        changed_.notify_all();
    }

    // The object's .status (null when it has none or the object is gone).
    Json status(const std::string& ns, const std::string& name) const {
        std::lock_guard lock(mutex_);
        auto it = objects_.find(ns + "/" + name);
        return it == objects_.end() || !it->second.contains("status") ? Json() : it->second["status"];
    }
    int patches() const { return patches_.load(); }
    // Every PATCH is answered 403, as without the RBAC rule.
    void forbid_patches() { forbid_patches_ = true; }

    int lists() const { return lists_.load(); }
    int watches() const { return watches_.load(); }
    std::vector<std::string> paths() const {
        std::lock_guard lock(mutex_);
        return paths_;
    }

private:
    struct Event {
        uint64_t version;
        std::string line;
    };

    void record_locked(const std::string& type, Json& object) {
        object["metadata"]["resourceVersion"] = std::to_string(++version_);
        events_.push_back({version_, Json{{"type", type}, {"object", object}}.dump() + "\n"});
        changed_.notify_all();
    }

    void patch_status(const httplib::Request& req, httplib::Response& res) {
        ++patches_;
        if (forbid_patches_) {
            res.status = 403;
            res.set_content(R"({"kind":"Status","message":"functionpolicies.fnwarden.io \"x\" is forbidden","code":403})",
                            "application/json");
            return;
        }
        const Json patch = Json::parse(req.body, nullptr, false);
        if (req.get_header_value("Content-Type") != "application/merge-patch+json" || !patch.is_object() ||
            !patch.contains("status")) {
            res.status = 415;
            return;
        }
        std::lock_guard lock(mutex_);
        auto it = objects_.find(std::string(req.matches[1]) + "/" + std::string(req.matches[2]));
        if (it == objects_.end()) {
            res.status = 404;
            res.set_content(R"({"kind":"Status","message":"not found","code":404})", "application/json");
            return;
        }
        Json& object = it->second;
        if (!object.contains("status")) object["status"] = Json::object();
        object["status"].merge_patch(patch["status"]);
        record_locked("MODIFIED", object);
        res.set_content(object.dump(), "application/json");
    }

    static bool in_scope(const Json& object, const std::string& ns) {
        return ns.empty() || object["metadata"]["namespace"] == ns;
    }

    void serve(const httplib::Request& req, httplib::Response& res, const std::string& ns) {
        {
            std::lock_guard lock(mutex_);
            paths_.push_back(req.path);
        }
        if (req.get_param_value("watch") == "1" || req.get_param_value("watch") == "true")
            serve_watch(req, res, ns);
        else
            serve_list(res, ns);
    }

    void serve_list(httplib::Response& res, const std::string& ns) {
        ++lists_;
        std::lock_guard lock(mutex_);
        Json items = Json::array();
        for (const auto& [key, object] : objects_)
            if (in_scope(object, ns)) items.push_back(object);
        const Json list = {{"apiVersion", "fnwarden.io/v1"},
                           {"kind", "FunctionPolicyList"},
                           {"metadata", {{"resourceVersion", std::to_string(version_)}}},
                           {"items", items}};
        res.set_content(list.dump(), "application/json");
    }

    void serve_watch(const httplib::Request& req, httplib::Response& res, const std::string& ns) {
        ++watches_;
        uint64_t from = 0;
        try {
            from = std::stoull(req.get_param_value("resourceVersion"));
        } catch (...) {
        }
        std::unique_lock lock(mutex_);
        if (expire_next_watch_) {
            expire_next_watch_ = false;
            res.set_content(
                R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410}})"
                "\n",
                "application/json");
            return;
        }
        const uint64_t epoch = epoch_;
        auto next = std::make_shared<uint64_t>(from);
        res.set_chunked_content_provider("application/json", [this, ns, epoch, next](size_t, httplib::DataSink& sink) {
            std::unique_lock lock(mutex_);
            changed_.wait_for(lock, std::chrono::milliseconds(20), [&] {
                return closing_ || epoch_ != epoch || (!events_.empty() && events_.back().version > *next);
            });
            if (closing_ || epoch_ != epoch) {
                sink.done();
                return true;
            }
            for (const Event& event : events_) {
                if (event.version <= *next) continue;
                *next = event.version;
                const Json parsed = Json::parse(event.line);
                if (!in_scope(parsed["object"], ns)) continue;
                if (!sink.write(event.line.data(), event.line.size())) return false;
            }
            return sink.is_writable();
        });
    }

    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::string, Json> objects_;
    std::vector<Event> events_;
    std::vector<std::string> paths_;
    uint64_t version_ = 100;
    uint64_t uids_ = 0;
    uint64_t epoch_ = 0;
    bool expire_next_watch_ = false;
    std::atomic<bool> forbid_patches_{false};
    std::atomic<int> patches_{0};
    bool closing_ = false;
    std::atomic<int> lists_{0}, watches_{0};
};

}  // namespace fnw::test
