// SPDX-License-Identifier: Apache-2.0
#include "output/journal_sink.hpp"

#include <sys/uio.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include <spdlog/spdlog.h>
#include <systemd/sd-journal.h>

#include "output/event_stamp.hpp"
#include "output/falco_format.hpp"

namespace fnw {
namespace {

class SdJournalWriter final : public JournalWriter {
public:
    int send(std::span<const std::string> fields) override {
        iov_.clear();
        for (const std::string& field : fields)
            iov_.push_back(iovec{const_cast<char*>(field.data()), field.size()});
        return sd_journal_sendv(iov_.data(), static_cast<int>(iov_.size()));
    }

private:
    std::vector<iovec> iov_;  // reused: one entry per event
};

void add_text(std::vector<std::string>& fields, const char* name, const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end()) return;
    if (it->is_string() && !it->get_ref<const std::string&>().empty())
        fields.push_back(std::string(name) + "=" + it->get<std::string>());
    else if (it->is_number())
        fields.push_back(std::string(name) + "=" + it->dump());
}

const nlohmann::json& member(const nlohmann::json& object, const char* key) {
    static const nlohmann::json empty = nlohmann::json::object();
    const auto it = object.find(key);
    return it != object.end() && it->is_object() ? *it : empty;
}

}  // namespace

std::unique_ptr<JournalWriter> systemd_journal_writer() { return std::make_unique<SdJournalWriter>(); }

bool running_under_systemd() {
    const auto set = [](const char* name) {
        const char* value = std::getenv(name);
        return value && *value;
    };
    return set("JOURNAL_STREAM") || set("INVOCATION_ID");
}

std::vector<std::string> journal_fields(const nlohmann::json& event) {
    std::vector<std::string> fields{
        "MESSAGE=" + event_summary(event),
        "PRIORITY=" + std::to_string(syslog_priority(severity_of(event))),
        "SYSLOG_IDENTIFIER=fnwarden",
    };
    static constexpr std::pair<const char*, const char*> kTop[] = {
        {"FNWARDEN_EVENT_ID", "id"},     {"FNWARDEN_SEVERITY", "severity"}, {"FNWARDEN_TYPE", "type"},
        {"FNWARDEN_FUNCTION", "function"}, {"FNWARDEN_POLICY", "policy"},   {"FNWARDEN_MODE", "mode"},
        {"FNWARDEN_RULE", "rule"},       {"FNWARDEN_ACTION", "action"},     {"FNWARDEN_MECHANISM", "mechanism"},
        {"FNWARDEN_VERDICT", "verdict"}, {"FNWARDEN_PID", "pid"},           {"FNWARDEN_TID", "tid"},
        {"FNWARDEN_COMM", "comm"},       {"FNWARDEN_CGROUP_ID", "cgroup_id"}, {"FNWARDEN_HOST", "host"},
    };
    for (const auto& [name, key] : kTop) add_text(fields, name, event, key);
    add_text(fields, "FNWARDEN_PATH", member(event, "file"), "path");
    const nlohmann::json& k8s = member(event, "k8s");
    add_text(fields, "FNWARDEN_K8S_NAMESPACE", k8s, "namespace");
    add_text(fields, "FNWARDEN_K8S_POD", k8s, "pod");
    add_text(fields, "FNWARDEN_K8S_CONTAINER_ID", k8s, "container_id");
    fields.push_back("FNWARDEN_EVENT=" + event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return fields;
}

void JournalSink::write_lines(std::span<const std::string_view> lines) {
    for (const std::string_view line : lines) {
        const nlohmann::json event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        const int sent = event.is_object() ? writer_->send(journal_fields(event)) : -EINVAL;
        if (sent >= 0) {
            ++sent_;
            continue;
        }
        ++failed_;
        uint64_t suppressed = 0;
        if (warnings_.allow(&suppressed))
            spdlog::warn("an event could not be written to the journal: {} ({} more since the last warning)",
                         std::strerror(-sent), suppressed);
    }
}

}  // namespace fnw
