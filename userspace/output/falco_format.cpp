// SPDX-License-Identifier: Apache-2.0
#include "output/falco_format.hpp"

#include <string>

#include <spdlog/spdlog.h>

#include "output/event_stamp.hpp"

namespace fnw {

std::optional<OutputFormat> output_format_from(std::string_view name) {
    if (name == "json") return OutputFormat::Json;
    if (name == "falco") return OutputFormat::Falco;
    return std::nullopt;
}

namespace {

using json = nlohmann::json;

// The text of a value that may be absent or of another type: "" then.
std::string text(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number()) return it->dump();
    return {};
}

const json& member(const json& object, const char* key) {
    static const json empty = json::object();
    const auto it = object.find(key);
    return it != object.end() && it->is_object() ? *it : empty;
}

std::string net_what(const json& net) {
    const std::string op = text(net, "op");
    if (text(net, "family") == "unix") return op + " to unix socket " + text(net, "path");
    const std::string proto = text(net, "protocol").empty() ? "" : "/" + text(net, "protocol");
    if (op == "bind") return "bind on " + text(net, "addr") + ":" + text(net, "port") + proto;
    if (op == "accept")
        return "accept from " + text(net, "saddr") + ":" + text(net, "sport") + " on port " + text(net, "port") + proto;
    if (net.contains("daddr")) return op + " to " + text(net, "daddr") + ":" + text(net, "dport") + proto;
    return op + " on port " + text(net, "port") + proto;  // a summary's `of`: port and protocol only
}

// What the process did, in a few words.
std::string what_of(const json& event) {
    const std::string type = text(event, "type");
    if (type == "file") {
        const json& file = member(event, "file");
        const std::string path = text(file, "path");
        if (path.empty()) return "file access (" + member(event, "file").value("access", json::array()).dump() + ")";
        return text(file, "op") + " of " + path;
    }
    if (type == "network") return net_what(member(event, "net"));
    if (type == "violation_summary") {
        return text(event, "repeats") + " repeated violations: " + what_of(member(event, "of"));
    }
    return "syscall " + text(member(event, "syscall"), "name");
}

std::string verdict_words(const json& event) {
    const std::string verdict = text(event, "verdict");
    if (text(event, "type") == "violation_summary") return "";
    if (verdict != "violation") return " " + verdict;
    std::string words = " violates " + (text(event, "rule").empty() ? "the policy" : text(event, "rule"));
    words += ": " + text(event, "action");
    if (const std::string mechanism = text(event, "mechanism"); !mechanism.empty() && mechanism != "none")
        words += " by " + mechanism;
    return words;
}

// Falco's `proc.cmdline`: the program's name and its arguments.
std::string cmdline_of(const json& exec) {
    const auto argv = exec.find("argv");
    if (argv == exec.end() || !argv->is_array()) return {};
    std::string line;
    for (const json& arg : *argv) {
        if (!line.empty()) line += ' ';
        if (arg.is_string()) line += arg.get<std::string>();
    }
    return line;
}

}  // namespace

std::string event_summary(const json& event) {
    std::string line = what_of(event) + verdict_words(event) + " (function=" + text(event, "function") +
                       " policy=" + text(event, "policy") + " mode=" + text(event, "mode");
    if (event.contains("pid")) line += " pid=" + text(event, "pid") + " comm=" + text(event, "comm");
    const json& k8s = member(event, "k8s");
    if (!k8s.empty()) line += " k8s.ns=" + text(k8s, "namespace") + " k8s.pod=" + text(k8s, "pod");
    return line + ")";
}

std::string falco_priority(const json& event) {
    std::string name(to_string(severity_of(event)));
    name.front() = static_cast<char>(name.front() - 'a' + 'A');
    return name;  // "Critical", "Error", "Warning", "Notice", "Informational"
}

namespace {

void copy_field(json& fields, const char* falco_key, const json& from, const char* key) {
    const auto it = from.find(key);
    if (it != from.end() && (it->is_string() || it->is_number())) fields[falco_key] = *it;
}

void net_fields(json& fields, const json& net) {
    copy_field(fields, "fd.type", net, "family");
    copy_field(fields, "fd.l4proto", net, "protocol");
    const std::string op = text(net, "op");
    if (text(net, "family") == "unix") {
        copy_field(fields, "fd.name", net, "path");
    } else if (op == "accept") {  // the peer connected to us: it is the client
        copy_field(fields, "fd.cip", net, "saddr");
        copy_field(fields, "fd.cport", net, "sport");
        copy_field(fields, "fd.sport", net, "port");
        copy_field(fields, "fd.rip", net, "saddr");
        copy_field(fields, "fd.rport", net, "sport");
    } else if (op == "bind") {
        copy_field(fields, "fd.sip", net, "addr");
        copy_field(fields, "fd.sport", net, "port");
        copy_field(fields, "fd.lport", net, "port");
    } else {  // connect, sendmsg: the remote end is the server
        copy_field(fields, "fd.sip", net, "daddr");
        copy_field(fields, "fd.sport", net, "dport");
        copy_field(fields, "fd.rip", net, "daddr");
        copy_field(fields, "fd.rport", net, "dport");
    }
}

void process_fields(json& fields, const json& event) {
    copy_field(fields, "proc.pid", event, "pid");
    copy_field(fields, "thread.tid", event, "tid");
    copy_field(fields, "proc.ppid", event, "ppid");
    copy_field(fields, "proc.name", event, "comm");
    if (const std::string exe = text(event, "exe"); !exe.empty()) fields["proc.exepath"] = exe;
    if (const std::string cmdline = cmdline_of(member(event, "exec")); !cmdline.empty())
        fields["proc.cmdline"] = cmdline;
    copy_field(fields, "evt.type", member(event, "syscall"), "name");
}

// Flat, dotted keys: Falco's own field names where one means the same,
// fnwarden.* for the rest. k8s.* are strings always: falcosidekick reads
// them as strings to label its metrics.
json output_fields(const json& event) {
    json fields = json::object();
    for (const char* key : {"function", "policy", "mode", "rule", "verdict", "action", "mechanism", "type", "id",
                            "severity", "cgroup_id", "repeats", "schema_version"})
        copy_field(fields, (std::string("fnwarden.") + key).c_str(), event, key);
    process_fields(fields, event);
    const std::string type = text(event, "type");
    if (type == "file") {
        const json& file = member(event, "file");
        copy_field(fields, "fd.name", file, "path");
        copy_field(fields, "fnwarden.file.raw_path", file, "raw_path");
        if (!fields.contains("evt.type")) copy_field(fields, "evt.type", file, "op");
    } else if (type == "network") {
        net_fields(fields, member(event, "net"));
        copy_field(fields, "evt.type", member(event, "net"), "op");
    }
    const json& k8s = member(event, "k8s");
    for (const auto& [falco_key, key] : {std::pair{"k8s.ns.name", "namespace"}, std::pair{"k8s.pod.name", "pod"},
                                         std::pair{"container.id", "container_id"}})
        if (const std::string value = text(k8s, key); !value.empty()) fields[falco_key] = value;
    return fields;
}

json falco_tags(const json& event) {
    json tags = json::array({"fnwarden"});
    for (const char* key : {"type", "mode", "action"})
        if (const std::string value = text(event, key); !value.empty() && value != "none") tags.push_back(value);
    if (const std::string rule = text(event, "rule"); !rule.empty()) tags.push_back(rule);
    return tags;
}

// Falco's rule names are titles; ours are the policy section violated.
std::string falco_rule(const json& event) {
    if (const std::string rule = text(event, "rule"); !rule.empty()) return "fnwarden " + rule;
    if (text(event, "type") == "violation_summary") return "fnwarden repeated " + text(member(event, "of"), "type");
    return "fnwarden " + text(event, "verdict") + " " + text(event, "type");
}

}  // namespace

json to_falco(const json& event) {
    const std::string time = text(event, "time");
    const std::string priority = falco_priority(event);
    // Falco starts its output with the time of day and the priority.
    const size_t t = time.find('T');
    const std::string clock = t == std::string::npos ? time : time.substr(t + 1, time.size() - t - 2);
    return json{{"rule", falco_rule(event)},
                {"priority", priority},
                {"output", clock + ": " + priority + " " + event_summary(event)},
                {"output_fields", output_fields(event)},
                {"time", time},
                {"hostname", text(event, "host")},
                {"source", "fnwarden"},
                {"tags", falco_tags(event)}};
}

void FalcoFormatSink::write_lines(std::span<const std::string_view> lines) {
    converted_.clear();
    for (const std::string_view line : lines) {
        json event = json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!event.is_object()) {
            ++unreadable_;
            continue;
        }
        converted_.push_back(to_falco(event).dump(-1, ' ', false, json::error_handler_t::replace));
    }
    if (converted_.empty()) return;
    for (const auto& sink : inner_) sink->write_batch(converted_);
}

void FalcoFormatSink::reopen() {
    for (const auto& sink : inner_) sink->reopen();
}

void FalcoFormatSink::idle() {
    for (const auto& sink : inner_) sink->idle();
}

std::string FalcoFormatSink::name() const {
    std::string names;
    for (const auto& sink : inner_) names += (names.empty() ? "" : ", ") + sink->name();
    return "falco format (" + names + ")";
}

}  // namespace fnw
